"""`cets auction open|bid|close|show` end to end on a real database file: the whole story at
chosen moments (the same commands, built on a settable clock, run in this process), then the
installed `cets` console script as a subprocess for what does not depend on the time of day:
reading the result, refusing a bid in a closed auction (exit 1), a malformed price (exit 2) and
a person without the role (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import Policy
from cets.domain.registry.access import Person, Role
from cets.domain.registry.holders import Holder
from cets.entrypoints.cli_auction import auction_cli
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.exchange import Exchange
from cets.service.people import People
from cets.service.registry import Registry

CETS = Path(sys.executable).with_name("cets")
CEA = "CEA-2023"


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, 4, hour, minute, tzinfo=SHANGHAI)


def cets(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "CETS_DATABASE_URL")}
    return subprocess.run(
        [str(CETS), *args],
        capture_output=True,
        text=True,
        env={**base, "CETS_DATABASE_URL": db, "CETS_PERSON": ""},
        timeout=120,
        check=False,
    )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    """`cets init`, then E1 with 5,000 t, E2 with 100,000.00 yuan, CEA-2023 listed, and the
    people: exch1 (exchange operator), e1op and e2op (operators of E1 and E2)."""
    url = f"sqlite:///{tmp_path}/cets.db"
    assert cets("init", db=url).returncode == 0
    store = SqlStore.open(url)
    clock = SettableClock(at(9))
    reg = Registry(store, clock)
    for holder in ("E1", "E2"):
        assert reg.open_holder(Holder(holder, "key_emitter", holder), actor="setup").ok
    assert reg.issue("iss", CEA, 100_000).ok
    assert reg.allocate("a1", "E1", CEA, 5000).ok
    assert reg.deposit("d2", "E2", 10_000_000).ok
    assert Exchange(store, clock, Policy()).list_instrument(CEA, 6000, actor="setup").ok
    people = People(store, clock)
    for person in (
        Person("exch1", "Exchange", Role.exchange_operator),
        Person("e1op", "E1 operator", Role.key_emitter, "E1"),
        Person("e2op", "E2 operator", Role.key_emitter, "E2"),
    ):
        people.add(person, actor="setup")
    store.close()
    yield url
    store = SqlStore.open(url)
    report = store.audit()
    store.close()
    assert report.ok, (report.chain_break, report.violations)


def test_an_auction_from_the_console_opens_takes_bids_closes_and_shows_its_result(db: str) -> None:
    clock = SettableClock(at(9, 30))
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(auction_cli(clock), [*args, "--db", db])
        return result.exit_code, " ".join(result.stdout.split()), " ".join(result.stderr.split())

    window = "2024-03-04T10:00..2024-03-04T11:00"
    opened = run(
        "open", "A1", "--seller", "E1", "--instrument", CEA, "--quantity", "1000",
        "--reserve", "50.00", "--pricing", "uniform", "--window", window, "--as", "exch1",
    )  # fmt: skip
    assert opened[0] == 0 and "accepted A1" in opened[1], opened
    reserve = run(
        "open", "A2", "--seller", "authority", "--instrument", CEA, "--quantity", "10",
        "--reserve", "50.00", "--as", "exch1",
    )  # fmt: skip
    assert reserve[0] == 2 and "not_authorized" in reserve[2], reserve
    early = run("bid", "A1", "--account", "E2", "--quantity", "100", "--price", "55.00",
                "--id", "B0", "--as", "e2op")  # fmt: skip
    assert early[0] == 1 and "outside_trading_session" in early[2], early

    clock.set(at(10))
    ok = run("bid", "A1", "--account", "E2", "--quantity", "600", "--price", "55.00",
             "--id", "B1", "--as", "e2op")  # fmt: skip
    assert ok[0] == 0 and "accepted B1" in ok[1], ok
    low = run("bid", "A1", "--account", "E2", "--quantity", "100", "--price", "49.00",
              "--id", "B2", "--as", "e2op")  # fmt: skip
    assert low[0] == 1 and "bid_below_reserve_price: price 49.00 is below" in low[2], low
    not_yet = run("close", "A1", "--as", "exch1")
    assert not_yet[0] == 1 and "auction_window_not_ended" in not_yet[2], not_yet

    clock.set(at(11))
    closed = run("close", "A1", "--as", "exch1")
    assert closed[0] == 0 and "accepted A1" in closed[1], closed
    shown = runner.invoke(auction_cli(clock), ["show", "A1", "--json", "--as", "e2op", "--db", db])
    assert shown.exit_code == 0, shown.stderr
    result = json.loads(shown.stdout)
    assert (result["state"], result["sold"], result["clearing_price"]) == ("closed", 600, "55.00")
    assert [(b["id"], b["status"], b["allocated"], b["paid"]) for b in result["bids"]] == [
        ("B0", "rejected", 0, None),
        ("B1", "filled", 600, "55.00"),
        ("B2", "rejected", 0, None),
    ]
    # E1's operator sees the result but none of E2's bids.
    mine = runner.invoke(auction_cli(clock), ["show", "A1", "--json", "--as", "e1op", "--db", db])
    assert json.loads(mine.stdout)["bids"] == []


def test_the_installed_cets_auction_reads_refuses_and_rejects_bad_input(db: str) -> None:
    # An auction of yesterday's market, closed: every answer below holds whatever the time.
    store = SqlStore.open(db)
    clock = SettableClock(at(10))
    venue = Exchange(store, clock, Policy())
    window = (at(10), at(10, 30))
    assert venue.open_auction("A1", "E1", CEA, 500, 5000, "pay_as_bid", window=window, actor="x").ok
    assert venue.bid("B1", "A1", "E2", 200, 5200, actor="x").ok
    clock.set(at(10, 30))
    assert venue.close_auction("A1", actor="x").ok
    store.close()

    shown = cets("auction", "show", "A1", "--as", "exch1", db=db)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "A1: E1 sells 500 t CEA-2023, reserve 50.00, pay_as_bid" in text
    assert "closed, sold 200 t at clearing price 52.00" in text
    assert "B1 │ E2 │ 52.00 │ 200 │ filled │ 200 │ 52.00" in text

    late = cets("auction", "bid", "A1", "--account", "E2", "--quantity", "10", "--price", "60.00",
                "--as", "e2op", db=db)  # fmt: skip
    assert late.returncode == 1
    assert "auction_not_open: auction 'A1' is closed" in " ".join(late.stderr.split())
    bad = cets("auction", "bid", "A1", "--account", "E2", "--quantity", "10", "--price", "6.005",
               "--as", "e2op", db=db)  # fmt: skip
    assert bad.returncode == 2 and "--price" in bad.stderr
    stranger = cets("auction", "close", "A1", "--as", "e2op", db=db)
    assert stranger.returncode == 2 and "not_authorized" in stranger.stderr
    missing = cets("auction", "show", "A9", "--as", "exch1", db=db)
    assert missing.returncode == 2 and "no auction 'A9'" in missing.stderr
