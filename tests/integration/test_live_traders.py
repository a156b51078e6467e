"""The demo's live traders on a real store: they trade the listed instrument within its band,
never for an excluded holder (a demo login's own), only while the session is open, and cancel
their stale orders."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import Policy
from cets.domain.registry.holders import Holder
from cets.domain.trading.rules import band_limits
from cets.service.clock import SettableClock
from cets.service.exchange import Exchange
from cets.service.registry import Registry
from cets.sim.live import LiveTraders

CEA = "CEA-2025"
OPEN = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday


def market(tmp_path: Path) -> Exchange:
    store = SqlStore.open(f"sqlite:///{tmp_path}/live.db", durable=False)
    clock = SettableClock(OPEN)
    registry = Registry(store, clock)
    holders = [Holder(f"E{i}", "key_emitter", f"Emitter {i}") for i in range(1, 5)]
    holders += [Holder("I1", "individual", "Zhang San"), Holder("ME", "key_emitter", "Mine")]
    assert registry.issue("issue", CEA, 1_000_000).ok
    for holder in holders:
        assert registry.open_holder(holder, actor="setup").ok
        assert registry.allocate(f"a-{holder.id}", holder.id, CEA, 20_000).ok
        assert registry.deposit(f"d-{holder.id}", holder.id, 5_000_000_00).ok
    venue = Exchange(store, clock, Policy())
    assert venue.list_instrument(CEA, 6000, actor="setup").ok
    return venue


def test_they_trade_within_the_band_and_never_for_an_excluded_holder(tmp_path: Path) -> None:
    venue = market(tmp_path)
    traders = LiveTraders(venue, seed=3, exclude=frozenset({"ME"}))
    placed = sum(traders.run_once() for _ in range(60))
    orders = venue.store.venue_orders()  # type: ignore[attr-defined]
    trades = venue.store.venue_trades(instrument=CEA)  # type: ignore[attr-defined]
    assert placed == len(orders) > 40
    assert trades, "nobody traded"
    low, high = band_limits(6000, Policy().band_listed_pct, 1)
    assert all(low <= o.price <= high for o in orders)
    assert {o.account for o in orders} <= {"E1", "E2", "E3", "E4", "I1"}
    assert {o.side for o in orders} == {"buy", "sell"}
    venue.store.close()  # type: ignore[attr-defined]


def test_they_wait_for_the_session_and_cancel_what_rests_too_long(tmp_path: Path) -> None:
    venue = market(tmp_path)
    clock = venue.clock
    assert isinstance(clock, SettableClock)
    clock.set(datetime(2026, 1, 5, 4, 0, tzinfo=UTC))  # 12:00: the lunch break
    traders = LiveTraders(venue, seed=1, stale_s=0)
    assert [traders.run_once() for _ in range(5)] == [0] * 5
    clock.set(OPEN)
    for _ in range(20):
        traders.run_once()
    resting = [o for o in venue.store.venue_orders() if o.status == "open"]  # type: ignore[attr-defined]
    assert resting, "something should rest"
    traders.run_once()  # with stale_s=0 every earlier order is stale
    still = {o.id for o in venue.store.venue_orders() if o.status == "open"}  # type: ignore[attr-defined]
    assert not still & {o.id for o in resting}
    venue.store.close()  # type: ignore[attr-defined]
