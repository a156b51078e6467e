"""Replaying the venue's journal: a fresh, identically prepared venue is fed the journaled venue
commands (orders, picks, cancels, the day's end) with its clock at each entry's time. Shared by
the determinism tests (tests/service/test_exchange_replay.py, the 100,000-order run in
tests/integration/test_venue_replay_100k.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson

from cets.adapters.sql.store import SqlStore
from cets.domain.journal import JournalEntry
from cets.domain.policy import Policy
from cets.domain.registry.holders import Holder
from cets.service.clock import SHANGHAI, SettableClock, from_us
from cets.service.exchange import Exchange
from cets.service.registry import Registry

CEA = "CEA-2023"
# The position limit is on, but far above what these flows can hold.
POLICY = Policy().with_overrides(
    {"fees_bps": {"buyer": 5, "seller": 5}, "position_limit": {"other_t": 10**12}}
)
DAY_ONE = datetime(2024, 3, 4, 9, 30, tzinfo=SHANGHAI)


def prepared(
    path: Path, holders: list[str], *, units: int = 50_000, funds: int = 500_000_000
) -> tuple[SqlStore, SettableClock, Exchange]:
    """A venue on SQLite at `path`: CEA-2023 listed at 60.00, each holder with `units` t of it
    and `funds` fen; the clock an hour before the first session."""
    store = SqlStore.open(f"sqlite:///{path}", durable=False)
    clock = SettableClock(DAY_ONE - timedelta(hours=1))
    reg = Registry(store, clock)
    assert reg.issue("iss", CEA, units * len(holders)).ok
    for i, holder in enumerate(holders):
        assert reg.open_holder(Holder(holder, "institution", holder), actor="t").ok
        assert reg.allocate(f"a{i}", holder, CEA, units).ok
        assert reg.deposit(f"d{i}", holder, funds).ok
    venue = Exchange(store, clock, POLICY)
    assert venue.list_instrument(CEA, 6000, actor="t").ok
    return store, clock, venue


def entries(store: SqlStore, page: int = 10_000) -> Iterator[JournalEntry]:
    after = 0
    while batch := store.journal_page(after=after, limit=page):
        yield from batch
        after = batch[-1].seq


def replay(source: SqlStore, venue: Exchange, clock: SettableClock, *, batch: int = 1) -> int:
    """Feed `source`'s journaled venue commands to `venue`, `batch` to a transaction (see
    `VenueBase.batched`); returns how many were replayed."""
    replayed = 0
    stream = entries(source)
    while True:
        with venue.batched():
            for _ in range(batch):
                entry = next(stream, None)
                if entry is None:
                    return replayed
                replayed += _replay_one(entry, venue, clock)


def _replay_one(entry: JournalEntry, venue: Exchange, clock: SettableClock) -> int:
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
        venue.pick(body["id"], body["account"], body["quote"], body["quantity"], actor=entry.actor)
    elif entry.kind == "order_cancelled" and body["reason"] == "cancelled":
        venue.cancel(body["order"], actor=entry.actor)
    elif entry.kind == "end_of_day":
        venue.end_of_day(actor=entry.actor, day=date.fromisoformat(body["day"]))
    else:
        return 0
    return 1


def trades(store: SqlStore) -> list[tuple[object, ...]]:
    return [
        (t.id, t.buy_order, t.sell_order, t.price, t.quantity, t.buyer_fee, t.seller_fee, t.at_us)
        for t in store.venue_trades()
    ]


def orders(store: SqlStore) -> list[tuple[object, ...]]:
    # Refused orders are kept as records but are not journaled: the journal is what happened.
    return [
        (o.id, o.status, o.filled, o.cancelled)
        for o in store.venue_orders()
        if o.status != "rejected"
    ]
