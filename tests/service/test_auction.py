"""One-way auctions as a service, on SQLite and PostgreSQL: what is held at opening and at each
bid, what the close releases, what the day's end settles (at the trade price, with the fees),
idempotent repeats, withdrawals, the journal, and a second exchange on the same database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest

from cets.adapters.sql.store import SqlStore
from cets.domain.errors import RejectCode
from cets.domain.ledger.model import Purpose
from cets.domain.policy import FeeSchedule, Policy
from cets.domain.registry.holders import AUTHORITY, EXCHANGE, Holder
from cets.domain.units import CASH
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.exchange import Exchange
from cets.service.registry import Registry

CEA = "CEA-2023"
POLICY = Policy(fees=FeeSchedule(buyer_bps=10, seller_bps=10))
WINDOW = (
    datetime(2024, 3, 4, 10, 0, tzinfo=SHANGHAI),
    datetime(2024, 3, 4, 11, 0, tzinfo=SHANGHAI),
)


def at(hour: int, minute: int = 0, day: int = 4) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def world(db_url: str) -> Iterator[tuple[SqlStore, SettableClock, Exchange]]:
    """E1 holds 10,000 t; E2 and I1 have 100,000.00 yuan each; 90,000 t stay in the reserve."""
    store = SqlStore.open(db_url, durable=False)
    clock = SettableClock(at(9))
    reg = Registry(store, clock)
    for holder, kind in (("E1", "key_emitter"), ("E2", "key_emitter"), ("I1", "individual")):
        assert reg.open_holder(Holder(holder, kind, holder), actor="t").ok
    assert reg.issue("iss", CEA, 100_000).ok
    assert reg.allocate("a1", "E1", CEA, 10_000).ok
    assert reg.deposit("d2", "E2", 10_000_000).ok
    assert reg.deposit("d3", "I1", 10_000_000).ok
    venue = Exchange(store, clock, POLICY)
    assert venue.list_instrument(CEA, 6000, actor="t").ok
    yield store, clock, venue
    report = store.audit()
    store.close()
    assert report.ok, (report.chain_break, report.violations)


def balance(store: SqlStore, holder: str, purpose: str, asset: str) -> tuple[int, int]:
    """(posted balance, held by pending holds) of one account; (0, 0) if never opened."""
    for a in store.all_accounts():
        if (a.holder, a.purpose, a.asset) == (holder, purpose, asset):
            return a.balance, a.debits_pending
    return 0, 0


def holds(store: SqlStore) -> dict[str, int]:
    return {h.id: h.remaining for h in store.open_holds()}


def journal_kinds(store: SqlStore) -> list[str]:
    return [e.kind for e in store.journal_entries()]


def test_a_uniform_auction_of_the_reserve_holds_releases_and_settles_to_the_fen(
    world: tuple[SqlStore, SettableClock, Exchange],
) -> None:
    store, clock, venue = world
    opened = venue.open_auction(
        "A1", AUTHORITY, CEA, 1000, 5000, "uniform", window=WINDOW, actor="exch"
    )
    assert opened.ok, opened
    assert balance(store, AUTHORITY, Purpose.reserve, CEA) == (90_000, 1000)
    clock.set(at(10, 5))
    assert venue.bid("B1", "A1", "E2", 700, 5500, actor="E2").ok
    assert venue.bid("B2", "A1", "I1", 500, 5200, actor="I1").ok
    # 700 x 55.00 + 0.1% and 500 x 52.00 + 0.1%, held until the close.
    assert holds(store) == {
        "order:A1": 1000,
        "order:B1": 3_850_000 + 3850,
        "order:B2": 2_600_000 + 2600,
    }

    clock.set(at(11))
    closed = venue.close_auction("A1", actor="exch")
    assert closed.ok and closed.message == "closed"
    trades = [
        (t.buy_order, t.quantity, t.price, t.buyer_fee, t.seller_fee) for t in store.venue_trades()
    ]
    # All pay 52.00, the lowest accepted bid; B2 fills the last 300 t of its 500.
    assert trades == [("B1", 700, 5200, 3640, 3640), ("B2", 300, 5200, 1560, 1560)]
    # The close releases what settlement will not take: B1's 3.00/t above 52.00 and the fee on
    # it, B2's unfilled 200 t and their fee. What stays is exactly the value at 52.00 + fee.
    assert holds(store) == {
        "order:A1": 1000,
        "order:B1": 700 * 5200 + 3640,
        "order:B2": 300 * 5200 + 1560,
    }

    clock.set(at(15, 30))
    assert venue.end_of_day(actor="exch").ok
    assert holds(store) == {}
    assert balance(store, "E2", Purpose.holding, CEA) == (700, 0)
    assert balance(store, "I1", Purpose.holding, CEA) == (300, 0)
    assert balance(store, "E2", Purpose.fund, CASH) == (10_000_000 - 3_640_000 - 3640, 0)
    assert balance(store, "I1", Purpose.fund, CASH) == (10_000_000 - 1_560_000 - 1560, 0)
    # The authority's proceeds, less the seller's fee, in its own fund account.
    assert balance(store, AUTHORITY, Purpose.fund, CASH) == (5_200_000 - 3640 - 1560, 0)
    assert balance(store, AUTHORITY, Purpose.reserve, CEA) == (89_000, 0)
    assert balance(store, EXCHANGE, Purpose.fees, CASH)[0] == 2 * (3640 + 1560)
    kinds = journal_kinds(store)
    assert [k for k in kinds if k in ("auction_open", "bid", "auction_close")] == [
        "auction_open",
        "bid",
        "bid",
        "auction_close",
    ]


def test_the_close_journals_its_trades_and_the_clearing_price(
    world: tuple[SqlStore, SettableClock, Exchange],
) -> None:
    store, clock, venue = world
    assert venue.open_auction("A1", "E1", CEA, 500, 5000, "pay_as_bid", actor="exch").ok
    clock.set(at(10))
    assert venue.bid("B1", "A1", "E2", 200, 5100, actor="E2").ok
    assert venue.bid("B2", "A1", "I1", 100, 5300, actor="I1").ok
    clock.set(at(14))  # no window was announced: the exchange closes when it decides
    assert venue.close_auction("A1", actor="exch").ok
    (entry,) = [e for e in store.journal_entries() if e.kind == "auction_close"]
    body = json.loads(entry.body)
    assert body["sold"] == 300 and body["clearing_price"] == 5100
    assert [row[1:4] for row in body["trades"]] == [["B2", 100, 5300], ["B1", 200, 5100]]
    # The seller's 200 unsold tonnes were released in that same entry.
    assert holds(store)["order:A1"] == 300
    assert balance(store, "E1", Purpose.holding, CEA) == (10_000, 300)
    view = venue.auction_view("A1")
    assert view is not None
    assert (view.auction.state, view.auction.clearing, view.order.status) == (
        "closed",
        5100,
        "expired",
    )
    assert [(b.id, view.allocation(b.id)) for b in view.bids] == [
        ("B1", (200, 5100)),
        ("B2", (100, 5300)),
    ]


def test_repeats_replay_and_another_body_under_a_used_id_is_duplicate_id(
    world: tuple[SqlStore, SettableClock, Exchange],
) -> None:
    store, clock, venue = world
    clock.set(at(9, 30))
    assert venue.place("S1", "E1", CEA, "sell", 10, 6100, actor="E1").ok
    args = ("A1", "E1", CEA, 500, 5000, "uniform")
    assert venue.open_auction(*args, actor="exch").ok
    again = venue.open_auction(*args, actor="exch")
    assert again.ok and again.replayed
    other = venue.open_auction("A1", "E1", CEA, 500, 5000, "pay_as_bid", actor="exch")
    assert other.code == RejectCode.duplicate_id
    taken = venue.open_auction("S1", "E1", CEA, 500, 5000, "uniform", actor="exch")
    assert taken.code == RejectCode.duplicate_id
    clock.set(at(10))
    assert venue.bid("B1", "A1", "E2", 100, 5000, actor="E2").ok
    repeat = venue.bid("B1", "A1", "E2", 100, 5000, actor="E2")
    assert repeat.ok and repeat.replayed
    assert venue.bid("B1", "A1", "E2", 101, 5000, actor="E2").code == RejectCode.duplicate_id
    clock.set(at(15))
    assert venue.close_auction("A1", actor="exch").ok
    twice = venue.close_auction("A1", actor="exch")
    assert twice.ok and twice.replayed
    assert len(store.venue_trades()) == 1
    assert journal_kinds(store).count("auction_close") == 1


def test_refused_bids_hold_nothing_and_are_recorded_as_rejected(
    world: tuple[SqlStore, SettableClock, Exchange],
) -> None:
    store, clock, venue = world
    assert venue.open_auction("A1", "E1", CEA, 500, 5000, "uniform", window=WINDOW, actor="x").ok
    clock.set(at(10))
    below = venue.bid("B1", "A1", "E2", 100, 4999, actor="E2")
    assert (below.code, below.field) == (RejectCode.bid_below_reserve_price, "price")
    broke = venue.bid("B2", "A1", "E2", 500, 20_000, actor="E2")  # 100,100.00 > 100,000.00
    assert broke.code == RejectCode.insufficient_funds
    unknown = venue.bid("B3", "A9", "E2", 100, 5000, actor="E2")
    assert (unknown.code, unknown.field) == (RejectCode.unknown_auction, "auction")
    assert (
        venue.bid("B4", "A1", "E2", 100, 0, actor="E2").code == RejectCode.amount_must_be_positive
    )
    assert holds(store) == {"order:A1": 500}
    rows = {o.id: (o.status, o.reason) for o in store.venue_orders() if o.id != "A1"}
    assert rows == {
        "B1": ("rejected", "bid_below_reserve_price"),
        "B2": ("rejected", "insufficient_funds"),
    }
    # A repeat of a refused bid gets the same refusal, even though it would now be too late.
    clock.set(at(11, 30))
    again = venue.bid("B1", "A1", "E2", 100, 4999, actor="E2")
    assert (again.code, again.replayed) == (RejectCode.bid_below_reserve_price, True)


def test_a_window_must_lie_in_todays_trading_day_before_15_00_and_not_be_over(
    world: tuple[SqlStore, SettableClock, Exchange],
) -> None:
    store, clock, venue = world
    clock.set(at(10, 30))

    def opening(start: datetime, end: datetime) -> tuple[object, object]:
        auction_id = f"A{start:%d%H%M}-{end:%d%H%M}"
        result = venue.open_auction(
            auction_id, "E1", CEA, 10, 5000, "uniform", window=(start, end), actor="x"
        )
        return result.code, result.field

    # Ending at 15:00 would leave no time to close before the day's end expires the orders.
    assert opening(at(13), at(15)) == (RejectCode.invalid_field, "window")
    assert opening(at(10, 0, day=5), at(11, 0, day=5)) == (RejectCode.invalid_field, "window")
    assert opening(at(11), at(10)) == (RejectCode.invalid_field, "window")
    assert opening(at(9, 30), at(10, 30)) == (RejectCode.outside_trading_session, "window")
    assert store.open_holds() == []
    assert opening(at(9, 30), at(14, 59)) == (None, None)  # started already, ends in time


def test_a_close_before_the_window_ends_changes_nothing(
    world: tuple[SqlStore, SettableClock, Exchange],
) -> None:
    store, clock, venue = world
    assert venue.open_auction("A1", "E1", CEA, 500, 5000, "uniform", window=WINDOW, actor="x").ok
    clock.set(at(10, 59))
    assert venue.bid("B1", "A1", "E2", 100, 5000, actor="E2").ok
    before = (holds(store), journal_kinds(store), store.venue_orders())
    early = venue.close_auction("A1", actor="exch")
    assert (early.code, early.field) == (RejectCode.auction_window_not_ended, "id")
    assert (holds(store), journal_kinds(store), store.venue_orders()) == before
    assert store.venue_trades() == []


def test_a_withdrawn_auction_takes_no_bids_and_its_close_releases_the_bidders(
    world: tuple[SqlStore, SettableClock, Exchange],
) -> None:
    store, clock, venue = world
    assert venue.open_auction("A1", "E1", CEA, 500, 5000, "uniform", window=WINDOW, actor="x").ok
    clock.set(at(10))
    assert venue.bid("B1", "A1", "E2", 100, 5000, actor="E2").ok
    assert venue.bid("B2", "A1", "I1", 100, 5100, actor="I1").ok
    assert venue.cancel("B2", actor="I1").ok  # a bidder may withdraw a bid before the close
    assert venue.cancel("A1", actor="E1").ok  # the seller withdraws its units
    late = venue.bid("B3", "A1", "I1", 100, 5100, actor="I1")
    assert late.code == RejectCode.auction_not_open
    assert venue.close_auction("A1", actor="exch").ok  # nothing to wait for
    assert store.venue_trades() == []
    statuses = {o.id: o.status for o in store.venue_orders()}
    assert statuses == {"A1": "cancelled", "B1": "expired", "B2": "cancelled", "B3": "rejected"}
    assert balance(store, "E2", Purpose.fund, CASH) == (10_000_000, 0)
    assert balance(store, "E1", Purpose.holding, CEA) == (10_000, 0)
    # What B2's cancel left of its hold (the fee part) goes at the day's end, as for any order.
    clock.set(at(15, 30))
    assert venue.end_of_day(actor="exch").ok
    assert holds(store) == {}


def test_a_second_exchange_sees_the_auction_and_keeps_it_out_of_the_listed_book(
    world: tuple[SqlStore, SettableClock, Exchange],
) -> None:
    store, clock, first = world
    second = Exchange(store, clock, POLICY)
    assert first.open_auction("A1", "E1", CEA, 500, 5000, "uniform", actor="x").ok
    clock.set(at(10))
    assert second.bid("B1", "A1", "E2", 500, 6500, actor="E2").ok
    # A listed buy at 65.00 does not cross the auction's 50.00 sell: it is not in the book.
    assert first.place("P1", "I1", CEA, "buy", 10, 6500, actor="I1").ok
    assert first.books[CEA].best_ask() is None and first.books[CEA].best_bid() == 6500
    clock.set(at(15))
    assert second.close_auction("A1", actor="x").ok
    assert [(t.buy_order, t.sell_order, t.price) for t in store.venue_trades()] == [
        ("B1", "A1", 6500)
    ]
    assert first.bid("B2", "A1", "I1", 10, 5000, actor="I1").code == RejectCode.auction_not_open
