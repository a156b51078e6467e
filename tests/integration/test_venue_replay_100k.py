"""Determinism at scale: a 100,000-order run, entered by eight client threads through the group
commit over two trading days, replayed from its journal into a fresh venue one command at a
time, makes the same trades and leaves every order in the same state.

The run is concurrent, so the order in which the commands meet the book is decided by the group
commit, not by the test; the journal records that order, and the replay must follow it exactly.
Each client places limit orders around 60.00 CNY/t (about one in eight is a pick of someone's
resting quote) and cancels some of its own resting orders, until the venue has accepted 100,000
orders in all; refusals (a pick of a quote gone by then, a cancel of an order already filled) come
on top and are not journaled.
"""

from __future__ import annotations

import random
import threading
from datetime import datetime
from pathlib import Path

import pytest

from cets.service.clock import SHANGHAI
from cets.service.exchange import Exchange
from venue_journal import CEA, orders, prepared, replay, trades

HOLDERS = [f"H{i:02d}" for i in range(16)]
CLIENTS = 8
ORDERS = 100_000
DAYS = (datetime(2024, 3, 4, 10, 0, tzinfo=SHANGHAI), datetime(2024, 3, 5, 10, 0, tzinfo=SHANGHAI))


def one_day(venue: Exchange, day: int, per_client: int) -> None:
    resting: list[str] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        rng = random.Random(day * 100 + c)
        mine: list[str] = []
        accepted = i = 0
        while accepted < per_client:  # orders the venue accepted; refusals come on top
            i += 1
            account = HOLDERS[rng.randrange(len(HOLDERS))]
            order_id = f"D{day}C{c}N{i}"
            if rng.random() < 0.15 and mine:
                venue.cancel(mine.pop(rng.randrange(len(mine))), actor=account)
            if rng.random() < 0.12 and resting:
                with lock:
                    quote = resting[rng.randrange(len(resting))]
                answer = venue.pick(order_id, account, quote, rng.randint(1, 300), actor=account)
                accepted += answer.ok
                continue
            side = rng.choice(("buy", "sell"))
            price = 6000 + rng.randint(-30, 30) * 5
            answer = venue.place(
                order_id, account, CEA, side, rng.randint(1, 400), price, actor=account
            )
            accepted += answer.ok
            if answer.ok and answer.message in ("open", "partially_filled"):
                mine.append(order_id)
                with lock:
                    resting.append(order_id)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_100000_order_run_replayed_from_its_journal_makes_the_same_trades(
    tmp_path: Path,
) -> None:
    first, first_clock, venue = prepared(
        tmp_path / "first.db", HOLDERS, units=100_000_000, funds=10**13
    )
    per_client = ORDERS // CLIENTS // len(DAYS)
    for day, opening in enumerate(DAYS):
        first_clock.set(opening)
        one_day(venue, day, per_client)
        first_clock.set(opening.replace(hour=15))
        assert venue.end_of_day(actor="t").ok
    assert venue.batches < ORDERS  # the clients' commands were group-committed

    second, second_clock, fresh = prepared(
        tmp_path / "second.db", HOLDERS, units=100_000_000, funds=10**13
    )
    replayed = replay(first, fresh, second_clock, batch=1000)

    made, placed = trades(first), orders(first)
    assert len(placed) == ORDERS  # every accepted order, and only those, is journaled
    assert replayed > len(placed)  # the orders, the cancels, the two day ends
    assert len(made) > ORDERS // 4  # the flow really trades
    assert trades(second) == made
    assert orders(second) == placed
    for store in (first, second):
        report = store.audit()
        assert report.ok, (report.chain_break, report.violations)
        store.close()
