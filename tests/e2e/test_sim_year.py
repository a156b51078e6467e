"""The simulated compliance year (`cets.sim.year`): a short year of the last 12 trading days of
2025 with 40 key emitters and 12 investors builds through every step, is deterministic (the
same seed gives the same journal head, also through `cets sim year` in another process with
another hash seed; another seed another head), and leaves a database whose ledger audit
passes, whose every trading day was settled, whose compliance statuses mix compliant and
not, whose CCER offsets stay within the cap, and whose planted manipulations were alerted.
The full default demo build is `slow`: it prints its time and does not assert on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import time
from pathlib import Path

import pytest
from sqlalchemy import select

from cets.adapters.sql import compliance_tables as c
from cets.adapters.sql import tables as t
from cets.adapters.sql.store import SqlStore
from cets.domain.compliance.status import Status
from cets.domain.trading.calendar import TradingCalendar, to_local
from cets.service.clock import SettableClock, from_us
from cets.service.compliance import Compliance
from cets.service.people import People
from cets.service.supervision import Supervision
from cets.sim.scoring import misses, score, table
from cets.sim.year import DEMO_LOGINS, LATE_AT, POLICY, YearSummary, build_year, head, trading_days

SMALL = {"days": 12, "emitters": 40, "investors": 12, "planted": 4, "progress": False}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, YearSummary]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('year') / 'year.db'}"
    summary = build_year(url, seed=1, **SMALL)  # type: ignore[arg-type]
    yield url, summary


@pytest.fixture
def store(built: tuple[str, YearSummary]) -> Iterator[SqlStore]:
    opened = SqlStore.existing(built[0])
    try:
        yield opened
    finally:
        opened.close()


def test_a_short_year_trades_every_day_and_reports_its_summary(
    built: tuple[str, YearSummary],
) -> None:
    _, summary = built
    print("\n" + "\n".join(summary.lines()))
    assert summary.days == 12
    assert (summary.first.isoformat(), summary.last.isoformat()) == ("2025-12-16", "2025-12-31")
    assert summary.orders > 500 and summary.trades > 100 and summary.volume_t > 0
    assert summary.journal_seq > 0 and len(summary.journal_hash) == 64


def test_the_same_seed_gives_the_same_journal_head_in_another_process(
    built: tuple[str, YearSummary], tmp_path: Path
) -> None:
    url, summary = built
    again = tmp_path / "again.db"
    args = [sys.executable, "-m", "cets.entrypoints.cli", "sim", "year", "--db", str(again)]
    args += ["--seed", "1", "--days", "12", "--emitters", "40", "--investors", "12"]
    args += ["--planted", "4", "--quiet"]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    code = "from cets.entrypoints.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, *args[3:]],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert summary.journal_hash in done.stdout
    assert head(f"sqlite:///{again}") == head(url) == (summary.journal_seq, summary.journal_hash)


def test_another_seed_gives_another_journal(built: tuple[str, YearSummary], tmp_path: Path) -> None:
    other = build_year(f"sqlite:///{tmp_path / 'other.db'}", seed=2, **SMALL)  # type: ignore[arg-type]
    assert other.journal_hash != built[1].journal_hash


def test_the_ledger_audit_passes(store: SqlStore) -> None:
    report = store.audit()
    assert report.chain_break is None
    assert report.ok, [str(v) for v in report.violations[:5]]


def test_every_trading_day_was_settled_and_traded_only_in_its_sessions(store: SqlStore) -> None:
    runs, trades = t.settlement_runs.c, t.trades.c
    with store.engine.connect() as conn:
        settled = conn.execute(select(runs.day, runs.status).order_by(runs.day)).all()
        moments = conn.execute(select(trades.day, trades.at_us)).all()
    assert [day for day, _ in settled] == trading_days(12)
    assert {status for _, status in settled} == {"delivered"}
    calendar = TradingCalendar.from_policy(POLICY)
    sessions = ((time(9, 30), time(11, 30)), (time(13, 0), time(15, 0)))
    for day, at_us in moments:
        local = to_local(from_us(at_us))
        assert local.date() == day and calendar.is_trading_day(day)
        assert any(start <= local.time() < end for start, end in sessions), local


def test_the_statuses_mix_compliant_short_and_unverified_entities(store: SqlStore) -> None:
    status = Compliance(store, SettableClock(LATE_AT), POLICY).status_table(2024)
    assert status.closed
    counts = {s: sum(1 for r in status.rows if r.line.status == s) for s in Status}
    assert counts[Status.A] > counts[Status.B] > 0
    assert counts[Status.C] >= 1
    short = [r for r in status.rows if r.line.status == Status.B]
    assert all(r.shortfall > 0 and r.penalty_fen > 0 for r in short)


def test_ccer_was_used_in_surrenders_within_the_five_percent_cap(store: SqlStore) -> None:
    status = Compliance(store, SettableClock(LATE_AT), POLICY).status_table(2024)
    offsetting = [r.line for r in status.rows if r.line.offset]
    assert len(offsetting) >= 3
    assert all(line.offset <= line.obligation * 5 // 100 for line in offsetting)
    s = c.surrenders.c
    with store.engine.connect() as conn:
        states = conn.execute(select(s.state).where(s.asset == "CCER")).scalars().all()
    assert states and set(states) == {"used"}


def test_the_planted_manipulations_are_alerted(
    built: tuple[str, YearSummary], store: SqlStore
) -> None:
    planted = built[1].planted
    alerts = Supervision(store, SettableClock(LATE_AT), POLICY).alerts()
    scores = score(planted, alerts)
    print("\n" + table(scores))
    for line in misses(planted, alerts):
        print(line)
    assert len(planted) >= 8
    found = sum(s.found for s in scores)
    assert found * 10 >= len(planted) * 7, f"{found} of {len(planted)} planted cases alerted"


def test_the_demo_logins_exist_with_their_roles_and_no_keys(store: SqlStore) -> None:
    for person, role, holder in DEMO_LOGINS:
        known = store.person(person)
        assert known is not None and (known.role, known.holder) == (role, holder), person
    with store.engine.connect() as conn:
        assert conn.execute(select(t.api_keys)).first() is None


def test_a_database_with_holders_is_refused_naming_db(built: tuple[str, YearSummary]) -> None:
    url = built[0]
    code = "from cets.entrypoints.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "sim", "year", "--db", url, "--days", "2", "--quiet"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "--db" in done.stderr and "already holds" in done.stderr


def test_sim_logins_issues_a_key_that_authenticates_each_demo_login(
    built: tuple[str, YearSummary], tmp_path: Path
) -> None:
    copy = tmp_path / "copy.db"
    shutil.copyfile(built[0].removeprefix("sqlite:///"), copy)
    code = "from cets.entrypoints.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "sim", "logins", "--db", str(copy)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    tokens = [line.split()[-1] for line in done.stdout.splitlines()[1:]]
    opened = SqlStore.existing(f"sqlite:///{copy}")
    try:
        people = People(opened, SettableClock(LATE_AT))
        assert [people.authenticate(token).id for token in tokens] == [p for p, _, _ in DEMO_LOGINS]
    finally:
        opened.close()


@pytest.mark.slow
def test_the_default_demo_year_builds(tmp_path: Path) -> None:
    summary = build_year(f"sqlite:///{tmp_path / 'demo.db'}", progress=False)
    print("\n" + "\n".join(summary.lines()))
    print(f"default demo build: {summary.elapsed_s:.1f} s")
    assert summary.days == 243 and summary.runs == 243
    assert summary.statuses.get("A", 0) > summary.statuses.get("B", 0) > 0
