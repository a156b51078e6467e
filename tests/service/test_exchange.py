"""The venue as a service: books follow the database across Exchange instances (processes),
repeats are idempotent, refusals leave nothing held, and the ledger audits clean."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from cets.adapters.sql.store import SqlStore
from cets.domain.errors import RejectCode
from cets.domain.policy import Policy
from cets.domain.registry.holders import Holder
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.exchange import Exchange
from cets.service.registry import Registry

CEA = "CEA-2023"


@pytest.fixture
def world(db_url: str) -> Iterator[tuple[SqlStore, SettableClock]]:
    store = SqlStore.open(db_url, durable=False)
    clock = SettableClock(datetime(2024, 3, 4, 9, 0, tzinfo=SHANGHAI))
    reg = Registry(store, clock)
    for holder in ("E1", "E2"):
        assert reg.open_holder(Holder(holder, "key_emitter", holder), actor="t").ok
    assert reg.issue("iss", CEA, 100_000).ok
    assert reg.allocate("a1", "E1", CEA, 10_000).ok
    assert reg.deposit("d2", "E2", 10_000_000).ok
    Exchange(store, clock, Policy()).list_instrument(CEA, 6000, actor="t")
    clock.set(datetime(2024, 3, 4, 10, 0, tzinfo=SHANGHAI))
    yield store, clock
    report = store.audit()
    store.close()
    assert report.ok, (report.chain_break, report.violations)


def test_a_second_exchange_on_the_same_database_sees_the_first_ones_orders(
    world: tuple[SqlStore, SettableClock],
) -> None:
    store, clock = world
    first, second = Exchange(store, clock, Policy()), Exchange(store, clock, Policy())
    assert first.place("S1", "E1", CEA, "sell", 300, 6000, actor="E1").ok
    assert second.place("B1", "E2", CEA, "buy", 100, 6100, actor="E2").ok
    assert first.place("B2", "E2", CEA, "buy", 300, 6100, actor="E2").ok
    trades = store.venue_trades()
    assert [(t.buy_order, t.sell_order, t.quantity, t.price) for t in trades] == [
        ("B1", "S1", 100, 6000),
        ("B2", "S1", 200, 6000),
    ]
    assert first.books[CEA].best_bid() == 6100 and first.books[CEA].best_ask() is None


def test_repeating_an_order_replays_it_and_another_body_is_duplicate_id(
    world: tuple[SqlStore, SettableClock],
) -> None:
    store, clock = world
    venue = Exchange(store, clock, Policy())
    assert venue.place("S1", "E1", CEA, "sell", 300, 6000, actor="E1").ok
    again = venue.place("S1", "E1", CEA, "sell", 300, 6000, actor="E1")
    assert again.ok and again.replayed
    other = venue.place("S1", "E1", CEA, "sell", 301, 6000, actor="E1")
    assert other.code == RejectCode.duplicate_id
    assert len(store.venue_orders()) == 1
    assert sum(h.remaining for h in store.open_holds()) == 300


def test_a_refused_order_holds_nothing_and_is_recorded_as_rejected(
    world: tuple[SqlStore, SettableClock],
) -> None:
    store, clock = world
    venue = Exchange(store, clock, Policy())
    refused = venue.place("B1", "E2", CEA, "buy", 100_000, 6000, actor="E2")
    assert refused.code == RejectCode.quantity_out_of_range
    broke = venue.place("B2", "E2", CEA, "buy", 99_999, 6000, actor="E2")
    assert broke.code == RejectCode.insufficient_funds
    assert store.open_holds() == []
    rows = {o.id: (o.status, o.reason) for o in store.venue_orders()}
    assert rows == {
        "B1": ("rejected", "quantity_out_of_range"),
        "B2": ("rejected", "insufficient_funds"),
    }
