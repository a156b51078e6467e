"""Block agreement negotiation as a service (`cets.service.block`): inquiries hold nothing,
counter-offers hold their side and go to the poster of what they answer, only the addressee
answers an addressed quote or inquiry, answering releases one's own answered offer in the same
linked chain as the new hold, inquiries expire at the day's end, repeats replay, and the ledger
audits clean after every test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest

from cets.adapters.sql.block_reads import BlockReads
from cets.adapters.sql.store import SqlStore
from cets.domain.errors import RejectCode
from cets.domain.policy import Policy
from cets.domain.registry.holders import Holder
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.exchange import Exchange
from cets.service.queries import positions
from cets.service.registry import Registry

CEA = "CEA-2023"
AFTERNOON = datetime(2024, 3, 4, 13, 30, tzinfo=SHANGHAI)


@dataclass
class World:
    store: SqlStore
    clock: SettableClock
    venue: Exchange

    def units_in_orders(self, holder: str) -> int:
        units, _ = positions(
            self.store.holders(), self.store.all_accounts(), self.store.open_holds()
        )
        return units[holder][CEA].in_orders if CEA in units[holder] else 0

    def funds(self, holder: str) -> tuple[int, int]:
        """(available, in orders) in fen."""
        _, funds = positions(
            self.store.holders(), self.store.all_accounts(), self.store.open_holds()
        )
        return funds[holder].available, funds[holder].in_orders

    def order(self, order_id: str) -> tuple[str, int, int, str | None]:
        """(status, filled, remaining, reason)."""
        o = self.store.venue_order(order_id)
        assert o is not None, order_id
        return o.status, o.filled, o.quantity - o.filled - o.cancelled, o.reason


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    """E1 holds 300,000 t; E2 has 30,000,000.00 yuan; E3 has nothing. 13:30, block session."""
    store = SqlStore.open(db_url, durable=False)
    clock = SettableClock(datetime(2024, 3, 4, 9, 0, tzinfo=SHANGHAI))
    reg = Registry(store, clock)
    for holder in ("E1", "E2", "E3"):
        assert reg.open_holder(Holder(holder, "key_emitter", holder), actor="t").ok
    assert reg.issue("iss", CEA, 1_000_000).ok
    assert reg.allocate("a1", "E1", CEA, 300_000).ok
    assert reg.deposit("d2", "E2", 3_000_000_000).ok
    venue = Exchange(store, clock, Policy())
    assert venue.list_instrument(CEA, 6000, actor="t").ok
    clock.set(AFTERNOON)
    yield World(store, clock, venue)
    report = store.audit()
    store.close()
    assert report.ok, (report.chain_break, report.violations)


def test_an_inquiry_holds_nothing_and_the_counter_offer_to_it_holds_its_side(
    world: World,
) -> None:
    venue = world.venue
    asked = venue.inquire("Q1", "E3", CEA, "buy", 200_000, 6500, actor="E3")
    assert asked.ok and asked.message == "open"  # E3 has no money: an inquiry commits to nothing
    assert world.store.open_holds() == []
    offered = venue.counter("C1", "E1", "Q1", 200_000, 6800, actor="E1")
    assert offered.ok, offered
    assert world.units_in_orders("E1") == 200_000
    c1 = world.store.venue_order("C1")
    assert c1 is not None and (c1.side, c1.instrument, c1.mode) == ("sell", CEA, "block")
    short = venue.accept_block("A1", "E3", "C1", actor="E3")
    assert short.code == RejectCode.insufficient_funds  # the inquirer's means count at acceptance
    assert world.store.venue_trades() == []


def test_accepting_a_counter_offer_to_ones_own_quote_uses_the_quote_up_by_the_quantity_traded(
    world: World,
) -> None:
    venue = world.venue
    assert venue.quote("K1", "E1", CEA, "sell", 300_000, 7000, actor="E1").ok
    assert venue.counter("C1", "E2", "K1", 100_000, 6800, actor="E2").ok
    # E1 holds exactly 300,000 t, all in K1: the acceptance is covered by what it takes of K1.
    accepted = venue.accept_block("A1", "E1", "C1", actor="E1")
    assert accepted.ok, accepted
    assert world.order("K1") == ("open", 0, 200_000, None)  # the rest of the quote stays open
    assert world.units_in_orders("E1") == 300_000
    (trade,) = world.store.venue_trades()
    assert (trade.buy_order, trade.sell_order, trade.quantity, trade.price) == (
        "C1",
        "A1",
        100_000,
        6800,
    )
    assert venue.accept_block("A2", "E2", "K1", actor="E2").ok  # K1's rest, at its own price
    assert world.order("K1") == ("filled", 200_000, 0, None)
    assert world.units_in_orders("E1") == 300_000
    assert venue.end_of_day(actor="t").ok
    assert world.units_in_orders("E1") == 0


def test_a_newer_counter_offer_replaces_the_posters_earlier_one_and_frees_what_it_held(
    world: World,
) -> None:
    venue = world.venue
    assert venue.inquire("Q1", "E2", CEA, "buy", 300_000, actor="E2").ok
    assert venue.counter("C1", "E1", "Q1", 300_000, 6900, actor="E1").ok
    assert venue.counter("C2", "E2", "C1", 300_000, 6600, actor="E2").ok
    # E1's 300,000 t are all in C1; its next offer replaces C1 in the same linked chain.
    assert venue.counter("C3", "E1", "C2", 300_000, 6800, actor="E1").ok
    assert world.order("C1") == ("cancelled", 0, 0, "replaced_by_a_newer_counter_offer")
    assert world.units_in_orders("E1") == 300_000
    assert venue.accept_block("A1", "E2", "C1", actor="E2").code == RejectCode.unknown_order
    assert venue.accept_block("A2", "E2", "C3", actor="E2").ok
    assert world.order("C2") == ("cancelled", 0, 0, "taken_up_by_the_accepted_reply")
    assert world.funds("E2") == (3_000_000_000 - 300_000 * 6800, 300_000 * 6800)


def test_countering_a_reply_to_ones_own_quote_keeps_the_quote_open_and_held(
    world: World,
) -> None:
    venue = world.venue
    assert venue.quote("K1", "E1", CEA, "sell", 300_000, 7000, actor="E1").ok
    assert venue.counter("C1", "E2", "K1", 300_000, 6600, actor="E2").ok
    again = venue.counter("C2", "E1", "C1", 300_000, 6800, actor="E1")
    assert again.code == RejectCode.units_encumbered  # K1 stays firm and keeps its units
    assert world.order("K1") == ("open", 0, 300_000, None)
    assert world.order("C2") == ("rejected", 0, 300_000, "units_encumbered")
    assert venue.cancel("K1", actor="E1").ok
    assert venue.counter("C3", "E1", "C1", 300_000, 6800, actor="E1").ok
    assert world.units_in_orders("E1") == 300_000


def test_when_the_new_hold_is_refused_the_release_of_the_answered_offer_is_undone_too(
    world: World,
) -> None:
    venue = world.venue
    # E2 bids 400,000 t at 70.00 (28,000,000.00 of its 30,000,000.00); E1 asks 78.00 for 300,000 t.
    assert venue.quote("K1", "E2", CEA, "buy", 400_000, 7000, actor="E2").ok
    assert venue.counter("C1", "E1", "K1", 300_000, 7800, actor="E1").ok
    before = world.funds("E2")
    # Accepting would release 300,000 t x 70.00 of K1 and hold 300,000 t x 78.00: 2,400,000.00
    # more than E2 has free. Neither happens.
    refused = venue.accept_block("A1", "E2", "C1", actor="E2")
    assert refused.code == RejectCode.insufficient_funds
    assert world.funds("E2") == before
    assert world.order("K1") == ("open", 0, 400_000, None)
    assert world.order("A1") == ("rejected", 0, 300_000, "insufficient_funds")
    assert world.store.venue_trades() == []


def test_only_the_holder_a_quote_or_inquiry_is_put_to_may_answer_it(world: World) -> None:
    venue = world.venue
    assert world.store.venue_order("K1") is None
    assert venue.quote("K1", "E1", CEA, "sell", 100_000, 7000, to="E2", actor="E1").ok
    assert venue.accept_block("A1", "E3", "K1", actor="E3").code == (
        RejectCode.quote_not_addressed_to_account
    )
    assert venue.counter("C1", "E3", "K1", 100_000, 6900, actor="E3").code == (
        RejectCode.quote_not_addressed_to_account
    )
    assert venue.inquire("Q1", "E2", CEA, "buy", 100_000, to="E1", actor="E2").ok
    assert venue.counter("C2", "E3", "Q1", 100_000, 6900, actor="E3").code == (
        RejectCode.quote_not_addressed_to_account
    )
    assert venue.counter("C3", "E2", "Q1", 100_000, 6900, actor="E2").code == (
        RejectCode.accounts_must_be_different
    )
    assert venue.accept_block("A2", "E2", "K1", actor="E2").ok
    assert world.order("A1")[3] == "quote_not_addressed_to_account"


def test_an_addressed_quote_needs_a_holder_other_than_its_poster_that_is_not_closed(
    world: World,
) -> None:
    venue = world.venue
    to_self = venue.quote("K1", "E1", CEA, "sell", 100_000, 7000, to="E1", actor="E1")
    assert (to_self.code, to_self.field) == (RejectCode.accounts_must_be_different, "to")
    nobody = venue.quote("K2", "E1", CEA, "sell", 100_000, 7000, to="NOPE", actor="E1")
    assert (nobody.code, nobody.field) == (RejectCode.unknown_account, "to")
    assert world.store.open_holds() == []


@pytest.mark.parametrize(
    ("at", "quantity", "price", "code"),
    [
        ((10, 0), 100_000, None, RejectCode.outside_trading_session),
        ((13, 30), 99_999, None, RejectCode.quantity_out_of_range),
        ((13, 30), 100_000, 7801, RejectCode.price_outside_band),
        ((13, 30), 100_000, 4199, RejectCode.price_outside_band),
    ],
)
def test_an_inquiry_passes_the_block_gates(
    world: World, at: tuple[int, int], quantity: int, price: int | None, code: RejectCode
) -> None:
    world.clock.set(AFTERNOON.replace(hour=at[0], minute=at[1]))
    refused = world.venue.inquire("Q1", "E2", CEA, "buy", quantity, price, actor="E2")
    assert refused.code == code
    again = world.venue.inquire("Q1", "E2", CEA, "buy", quantity, price, actor="E2")
    assert (again.code, again.replayed) == (code, True)  # kept as rejected, answered the same
    inquiry = BlockReads(world.store.engine).inquiry("Q1")
    assert inquiry is not None and (inquiry.status, inquiry.reason) == ("rejected", code.value)


def test_an_inquiry_is_refused_while_the_instrument_is_halted(world: World) -> None:
    assert world.venue.halt(CEA, actor="t").ok
    refused = world.venue.inquire("Q1", "E2", CEA, "buy", 100_000, actor="E2")
    assert (refused.code, refused.field) == (RejectCode.instrument_halted, "instrument")


def test_inquiries_expire_at_the_day_end_and_are_cancelled_only_while_open(world: World) -> None:
    venue, reads = world.venue, BlockReads(world.store.engine)
    assert venue.inquire("Q1", "E2", CEA, "buy", 100_000, actor="E2").ok
    assert venue.inquire("Q2", "E2", CEA, "buy", 100_000, actor="E2").ok
    assert venue.cancel_inquiry("Q2", actor="E2", account="E3").code == RejectCode.unknown_order
    assert venue.cancel_inquiry("Q2", actor="E2", account="E2").ok
    assert venue.cancel_inquiry("Q2", actor="E2").code == RejectCode.unknown_order
    assert venue.counter("C1", "E1", "Q2", 100_000, 6900, actor="E1").code == (
        RejectCode.unknown_order
    )
    assert venue.end_of_day(actor="t").ok
    statuses = {i.id: i.status for i in reads.inquiries()}
    assert statuses == {"Q1": "expired", "Q2": "cancelled"}
    world.clock.set(AFTERNOON.replace(day=5))
    assert venue.counter("C2", "E1", "Q1", 100_000, 6900, actor="E1").code == (
        RejectCode.unknown_order
    )


def test_an_inquiry_of_an_earlier_day_cannot_be_answered_even_before_a_day_end_marks_it(
    world: World,
) -> None:
    assert world.venue.inquire("Q1", "E2", CEA, "buy", 100_000, actor="E2").ok
    world.clock.set(AFTERNOON.replace(day=5))  # the next trading day; no day's end was run
    late = world.venue.counter("C1", "E1", "Q1", 100_000, 6900, actor="E1")
    assert (late.code, late.field) == (RejectCode.unknown_order, "reply_to")


def test_repeats_replay_and_ids_are_one_space_for_inquiries_and_orders(world: World) -> None:
    venue = world.venue
    assert venue.inquire("Q1", "E2", CEA, "buy", 100_000, 6500, actor="E2").ok
    again = venue.inquire("Q1", "E2", CEA, "buy", 100_000, 6500, actor="E2")
    assert again.ok and again.replayed
    assert venue.inquire("Q1", "E2", CEA, "buy", 100_000, 6600, actor="E2").code == (
        RejectCode.duplicate_id
    )
    assert venue.counter("C1", "E1", "Q1", 100_000, 6900, actor="E1").ok
    replay = venue.counter("C1", "E1", "Q1", 100_000, 6900, actor="E1")
    assert replay.ok and replay.replayed
    assert venue.counter("C1", "E1", "Q1", 100_000, 6800, actor="E1").code == (
        RejectCode.duplicate_id
    )
    assert world.units_in_orders("E1") == 100_000  # held once
    for used in (
        venue.quote("Q1", "E1", CEA, "sell", 100_000, 7000, actor="E1"),
        venue.counter("Q1", "E1", "Q1", 100_000, 6900, actor="E1"),
        venue.accept_block("Q1", "E2", "C1", actor="E2"),
        venue.inquire("C1", "E2", CEA, "buy", 100_000, actor="E2"),
    ):
        assert used.code == RejectCode.duplicate_id
    assert venue.quote("K1", "E1", CEA, "sell", 100_000, 7000, to="E2", actor="E1").ok
    assert venue.quote("K1", "E1", CEA, "sell", 100_000, 7000, to="E2", actor="E1").replayed
    assert venue.quote("K1", "E1", CEA, "sell", 100_000, 7000, actor="E1").code == (
        RejectCode.duplicate_id
    )


def test_a_malformed_counter_offer_is_refused_and_not_recorded(world: World) -> None:
    assert world.venue.quote("K1", "E1", CEA, "sell", 100_000, 7000, actor="E1").ok
    zero = world.venue.counter("C1", "E2", "K1", 0, 6900, actor="E2")
    assert (zero.code, zero.field) == (RejectCode.amount_must_be_positive, "quantity")
    free = world.venue.counter("C1", "E2", "K1", 100_000, 0, actor="E2")
    assert (free.code, free.field) == (RejectCode.amount_must_be_positive, "price")
    missing = world.venue.counter("C1", "E2", "K9", 100_000, 6900, actor="E2")
    assert (missing.code, missing.field) == (RejectCode.unknown_order, "reply_to")
    assert world.store.venue_order("C1") is None


def test_a_counter_offer_stands_when_what_it_answered_is_taken_by_someone_else(
    world: World,
) -> None:
    venue = world.venue
    assert world.store.holder("E3") is not None
    assert venue.quote("K1", "E1", CEA, "sell", 100_000, 7000, actor="E1").ok
    assert venue.counter("C1", "E2", "K1", 100_000, 6900, actor="E2").ok
    assert venue.accept_block("A1", "E2", "K1", actor="E2").ok  # E2 takes K1 as it stands
    assert world.order("C1") == ("open", 0, 100_000, None)  # its own counter-offer is apart
    assert venue.accept_block("A2", "E1", "C1", actor="E1").ok  # E1 sells E2 100,000 t more
    assert [t.quantity for t in world.store.venue_trades()] == [100_000, 100_000]


def test_the_thread_gathers_the_negotiation_and_each_holder_sees_only_its_part(
    world: World,
) -> None:
    venue, reads = world.venue, BlockReads(world.store.engine)
    assert venue.quote("K1", "E1", CEA, "sell", 200_000, 7000, actor="E1").ok
    assert venue.counter("C1", "E2", "K1", 100_000, 6900, actor="E2").ok
    assert venue.counter("C2", "E1", "C1", 100_000, 6950, actor="E1").ok
    assert venue.inquire("Q1", "E3", CEA, "buy", 100_000, to="E1", actor="E3").ok
    for any_id in ("K1", "C1", "C2"):
        thread = reads.thread(any_id)
        assert thread is not None and thread.id == "K1"
        assert [(o.id, t and t.reply_to) for o, t in thread.offers] == [
            ("K1", None),
            ("C1", "K1"),
            ("C2", "C1"),
        ]
    whole = reads.thread("C2")
    assert whole is not None
    assert [o.id for o, _ in whole.seen_by("E3").offers] == ["K1"]  # public; the rest is private
    assert [o.id for o, _ in whole.seen_by("E2").offers] == ["K1", "C1", "C2"]
    asked = reads.thread("Q1")
    assert asked is not None and asked.inquiry is not None and asked.offers == []
    assert asked.seen_by("E2").inquiry is None  # put to E1 only
    assert reads.thread("nothing") is None
