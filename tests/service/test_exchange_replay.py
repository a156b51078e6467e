"""Determinism: the venue's journal, replayed into a fresh venue, makes the same trades.

A seeded flow of orders, picks and cancels over two trading days runs on one database; its venue
entries are then read back from the journal and replayed, with the clock at each entry's time,
into an identically prepared second database. The trades (ids, orders, prices, quantities,
times) and every order's final state must be identical, and both ledgers audit clean.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from cets.service.clock import SHANGHAI, SettableClock
from cets.service.exchange import Exchange
from venue_journal import CEA, DAY_ONE, orders, prepared, replay, trades

ACCOUNTS = [f"H{i}" for i in range(8)]


def flow(venue: Exchange, clock: SettableClock, rng: random.Random, n: int) -> None:
    placed: list[str] = []
    for i in range(n):
        clock.set(clock.now() + timedelta(seconds=rng.randint(1, 5)))
        roll = rng.random()
        account = rng.choice(ACCOUNTS)
        if roll < 0.15 and placed:
            venue.cancel(rng.choice(placed), actor=account)
        elif roll < 0.25 and placed:
            venue.pick(f"P{i}", account, rng.choice(placed), rng.randint(1, 300), actor=account)
        else:
            side = rng.choice(("buy", "sell"))
            price = 6000 + rng.randint(-40, 40) * 5
            venue.place(f"O{i}", account, CEA, side, rng.randint(1, 400), price, actor=account)
            placed.append(f"O{i}")


def test_replaying_the_journal_into_a_fresh_venue_makes_the_same_trades(tmp_path: Path) -> None:
    first, first_clock, venue = prepared(tmp_path / "first.db", ACCOUNTS)
    rng = random.Random(20240304)
    clock_start = DAY_ONE
    first_clock.set(clock_start)
    flow(venue, first_clock, rng, 700)
    first_clock.set(datetime(2024, 3, 4, 15, 0, tzinfo=SHANGHAI))
    assert venue.end_of_day(actor="t").ok
    first_clock.set(datetime(2024, 3, 5, 9, 30, tzinfo=SHANGHAI))
    flow(venue, first_clock, rng, 700)

    second, second_clock, fresh = prepared(tmp_path / "second.db", ACCOUNTS)
    replay(first, fresh, second_clock)

    made = trades(first)
    assert len(made) > 200  # the flow really trades
    assert trades(second) == made
    assert orders(second) == orders(first)
    for store in (first, second):
        report = store.audit()
        assert report.ok, (report.chain_break, report.violations)
        store.close()
