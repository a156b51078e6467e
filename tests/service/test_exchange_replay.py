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

import orjson

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import Policy
from cets.domain.registry.holders import Holder
from cets.service.clock import SHANGHAI, SettableClock, from_us
from cets.service.exchange import Exchange
from cets.service.registry import Registry

CEA = "CEA-2023"
ACCOUNTS = [f"H{i}" for i in range(8)]
POLICY = Policy().with_overrides({"fees_bps": {"buyer": 5, "seller": 5}})
DAY_ONE = datetime(2024, 3, 4, 9, 30, tzinfo=SHANGHAI)


def prepared(path: Path) -> tuple[SqlStore, SettableClock, Exchange]:
    store = SqlStore.open(f"sqlite:///{path}", durable=False)
    clock = SettableClock(DAY_ONE - timedelta(hours=1))
    reg = Registry(store, clock)
    assert reg.issue("iss", CEA, 10_000_000).ok
    for i, holder in enumerate(ACCOUNTS):
        assert reg.open_holder(Holder(holder, "institution", holder), actor="t").ok
        assert reg.allocate(f"a{i}", holder, CEA, 50_000).ok
        assert reg.deposit(f"d{i}", holder, 500_000_000).ok
    venue = Exchange(store, clock, POLICY)
    assert venue.list_instrument(CEA, 6000, actor="t").ok
    return store, clock, venue


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


def replay(source: SqlStore, venue: Exchange, clock: SettableClock) -> None:
    for entry in source.journal_page(limit=1_000_000):
        body = orjson.loads(entry.body)
        clock.set(from_us(entry.at_us))
        if entry.kind == "order":
            venue.place(
                body["id"],
                body["account"],
                body["instrument"],
                body["side"],
                body["quantity"],
                body["price"],
                actor=entry.actor,
            )
        elif entry.kind == "pick":
            venue.pick(
                body["id"], body["account"], body["quote"], body["quantity"], actor=entry.actor
            )
        elif entry.kind == "order_cancelled" and body["reason"] == "cancelled":
            venue.cancel(body["order"], actor=entry.actor)
        elif entry.kind == "end_of_day":
            venue.end_of_day(actor=entry.actor)


def test_replaying_the_journal_into_a_fresh_venue_makes_the_same_trades(tmp_path: Path) -> None:
    first, first_clock, venue = prepared(tmp_path / "first.db")
    rng = random.Random(20240304)
    clock_start = DAY_ONE
    first_clock.set(clock_start)
    flow(venue, first_clock, rng, 700)
    first_clock.set(datetime(2024, 3, 4, 15, 0, tzinfo=SHANGHAI))
    assert venue.end_of_day(actor="t").ok
    first_clock.set(datetime(2024, 3, 5, 9, 30, tzinfo=SHANGHAI))
    flow(venue, first_clock, rng, 700)

    second, second_clock, fresh = prepared(tmp_path / "second.db")
    replay(first, fresh, second_clock)

    def trades(store: SqlStore) -> list[tuple[object, ...]]:
        return [
            (t.id, t.buy_order, t.sell_order, t.price, t.quantity, t.buyer_fee, t.at_us)
            for t in store.venue_trades()
        ]

    def orders(store: SqlStore) -> list[tuple[object, ...]]:
        # Refused orders are kept as records but are not journaled: the journal is what happened.
        return [
            (o.id, o.status, o.filled, o.cancelled)
            for o in store.venue_orders()
            if o.status != "rejected"
        ]

    made = trades(first)
    assert len(made) > 200  # the flow really trades
    assert trades(second) == made
    assert orders(second) == orders(first)
    for store in (first, second):
        report = store.audit()
        assert report.ok, (report.chain_break, report.violations)
        store.close()
