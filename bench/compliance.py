"""Compliance status at scale: --entities key emitters evaluated, then closed, on SQLite.

The database is written once (not timed) and copied for each close, so every run starts from the
same bytes: a seeded population of key emitters for 2023 (`cets.sim.compliance_population`, whose
docstring gives the mix of statuses, offsets and exclusions), written set-based through the
ledger's batch path, the surrender records beside the units.

Timed, medians of --runs runs (alternating which side goes first):
- status: `Compliance.status_table(2023)` end to end: the period, its facts read set-based
  (`ComplianceRows.compliance_facts`) and every entity evaluated in memory. Baseline: the same
  SELECTs, captured from the service's own run, sent again with `sqlite3` and fetched, no logic.
- close: `Compliance.close` after the deadline, on a copy of the file, end to end: pending offsets
  lapsed, every entity evaluated with its shortfall and penalty, the status rows written and
  committed in one transaction (WAL, `synchronous=FULL`). Baseline: the same SELECTs and the same
  status rows (as the service wrote them) inserted with `executemany`, one transaction.
Every result is checked against the seed (the count of each status, obligations and surrendered
totals; after the close the shortfalls, penalties and lapsed offsets too): a wrong answer fails.
Target (the compliance issue): the status of 100,000 entities in <= 5 s on SQLite.
`--profile` runs each once more under cProfile and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from cets.adapters.sql.store import SqlStore
from cets.domain.compliance.status import Status
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.compliance import Compliance
from cets.sim.compliance_population import (
    PERIOD,
    POLICY,
    SURRENDERING,
    YEAR,
    Tally,
    expected,
    plan,
    seed,
    surrenders_of,
)

TARGET_S = 5.0
TARGET_ENTITIES = 100_000
AFTER_DEADLINE = datetime(2025, 1, 2, 9, 0, tzinfo=SHANGHAI)
Rows = list[tuple[Any, ...]]
Selects = list[tuple[str, Any]]


def captured_selects(path: Path) -> Selects:
    """The SELECTs `status_table` sends to the driver, with their parameters (a run not timed)."""
    store = SqlStore.open(f"sqlite:///{path}")
    sent: Selects = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", keep)
    Compliance(store, SettableClock(SURRENDERING), POLICY).status_table(YEAR)
    store.close()
    return sent


def ours_status(path: Path, want: Tally, profiler: cProfile.Profile | None = None) -> float:
    store = SqlStore.open(f"sqlite:///{path}")
    compliance = Compliance(store, SettableClock(SURRENDERING), POLICY)
    started = time.perf_counter()
    table = _call(profiler, lambda: compliance.status_table(YEAR))
    elapsed = time.perf_counter() - started
    store.close()
    lines = [r.line for r in table.rows]
    counts = dict(Counter(x.status.value for x in lines))
    got = Tally(counts, sum(x.obligation for x in lines), sum(x.surrendered for x in lines))
    assert not table.closed and got == want._replace(shortfall=0, penalty_fen=0, lapsed=0), got
    return elapsed


def ours_close(path: Path, want: Tally, profiler: cProfile.Profile | None = None) -> float:
    store = SqlStore.open(f"sqlite:///{path}")
    compliance = Compliance(store, SettableClock(AFTER_DEADLINE), POLICY)
    started = time.perf_counter()
    result = _call(profiler, lambda: compliance.close("close-2023", YEAR))
    elapsed = time.perf_counter() - started
    store.close()
    assert result.ok, result
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT status, count(*), sum(obligation), sum(surrendered), sum(shortfall), "
        "sum(penalty_fen) FROM compliance_status WHERE period = ? GROUP BY status",
        (PERIOD,),
    ).fetchall()
    states = dict(conn.execute("SELECT state, count(*) FROM surrenders GROUP BY state"))
    conn.close()
    obligation, surrendered, shortfall, penalty = (sum(r[i] for r in rows) for i in range(2, 6))
    counts = {r[0]: r[1] for r in rows}
    got = Tally(counts, obligation, surrendered, shortfall, penalty, states.get("lapsed", 0))
    assert got == want and "pending" not in states, (got, want, states)
    return elapsed


def _call(profiler: cProfile.Profile | None, call: Callable[[], Any]) -> Any:
    return call() if profiler is None else profiler.runcall(call)


def _raw_connection(path: Path) -> sqlite3.Connection:
    """A plain driver connection with the store's settings (WAL, fsync at commit, 64 MiB)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "cache_size=-65536"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def raw_status(path: Path, selects: Selects) -> float:
    conn = _raw_connection(path)
    started = time.perf_counter()
    conn.execute("BEGIN")
    for statement, parameters in selects:
        conn.execute(statement, parameters).fetchall()
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def raw_close(path: Path, selects: Selects, rows: Rows) -> float:
    conn = _raw_connection(path)
    insert = f"INSERT INTO compliance_status VALUES ({', '.join('?' * len(rows[0]))})"
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for statement, parameters in selects:
        conn.execute(statement, parameters).fetchall()
    conn.executemany(insert, rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def status_rows(path: Path) -> Rows:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT * FROM compliance_status").fetchall()
    conn.close()
    return rows


# -- the run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=TARGET_ENTITIES)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    entities = plan(args.entities, args.seed)
    want = expected(entities)
    with tempfile.TemporaryDirectory(prefix="cets-bench-compliance-") as tmp:
        directory = Path(tmp)
        template = directory / "template.db"
        started = time.perf_counter()
        seed(template, entities)
        seconds = time.perf_counter() - started
        mix = ", ".join(f"{s} {want.counts.get(s, 0):,}" for s in sorted(Status))
        rows = sum(1 for e in entities for _ in surrenders_of(e))
        print(f"seeded {args.entities:,} entities in {seconds:.0f} s (not timed): {mix}; "
              f"{rows:,} surrender rows")  # fmt: skip
        selects = captured_selects(template)
        print(f"status_table sends {len(selects)} SELECTs; the raw baseline sends the same")
        figures = measure(directory, template, want, selects, args.runs)
        report(args.entities, args.runs, figures)
        if args.profile:
            profile(directory, template, want)


def measure(
    directory: Path, template: Path, want: Tally, selects: Selects, runs: int
) -> list[tuple[float, float, float, float]]:
    figures = []
    rows: Rows = []
    copy = directory / "copy.db"
    for n in range(runs):
        times: dict[str, float] = {}
        for side in ("ours", "raw") if n % 2 == 0 else ("raw", "ours"):
            shutil.copy(template, copy)
            if side == "ours":
                times["status"] = ours_status(template, want)
                times["close"] = ours_close(copy, want)
                rows = rows or status_rows(copy)
            else:
                assert rows, "the first run measures ours first: its rows feed the baseline"
                times["raw status"] = raw_status(template, selects)
                times["raw close"] = raw_close(copy, selects, rows)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
        figures.append((times["status"], times["raw status"], times["close"], times["raw close"]))
        s, rs, cl, rc = figures[-1]
        print(
            f"run {n + 1}: status {s:.2f} s, raw reads {rs:.2f} s (ratio {s / rs:.1f}); "
            f"close {cl:.2f} s, raw reads + insert {rc:.2f} s (ratio {cl / rc:.1f})"
        )
    return figures


def report(n: int, runs: int, figures: list[tuple[float, float, float, float]]) -> None:
    status, raw, close, raw_close_ = (statistics.median(f[i] for f in figures) for i in range(4))
    if n >= TARGET_ENTITIES:
        verdict = "met" if status <= TARGET_S else "missed"
    else:
        verdict = f"not judged at {n:,} (it is set for {TARGET_ENTITIES:,})"
    print(f"status {n:,} entities: {status:.2f} s (median of {runs}) target <= {TARGET_S:g} s: "
          f"{verdict}")  # fmt: skip
    print(f"  raw baseline (the same SELECTs fetched with sqlite3): {raw:.2f} s; "
          f"ratio ours/baseline {status / raw:.1f}")  # fmt: skip
    print(f"close {n:,} entities: {close:.2f} s (median of {runs}), one transaction")
    print(f"  raw baseline (the same SELECTs + the same {n:,} rows inserted, one transaction): "
          f"{raw_close_:.2f} s; ratio ours/baseline {close / raw_close_:.1f}")  # fmt: skip


def profile(directory: Path, template: Path, want: Tally) -> None:
    copy = directory / "profile.db"
    shutil.copy(template, copy)
    for name, run in (("status", ours_status), ("close", ours_close)):
        profiler = cProfile.Profile()
        run(template if name == "status" else copy, want, profiler)
        print(f"\n-- {name} under cProfile")
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(15)
        stats.sort_stats("cumulative").print_stats(r"cets/", 20)


if __name__ == "__main__":
    main()
