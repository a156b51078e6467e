"""Random order flows through the whole venue service, its ledger and its store, over several days.

`tests/unit/test_book_stateful.py` holds the book alone to the matching rules; this machine drives
a real `Exchange` on a fresh SQLite store per example (listed orders inside and outside the band,
picks, cancels, day ends) and after every step holds the service to the issue's "Must show":

- the book is never crossed (best bid < best ask), and it is what the stored open orders make;
- every trade is at the price of its maker (the order that rested first: the lower `seq`), never
  worse than either order's limit, between two different holders, with the policy's fees;
- every accepted order: filled + cancelled + remaining = quantity, remaining being what the book
  holds for it while it is open and 0 once it is not; its filled is the sum of its trades;
- holds are exact (below); after a day's end no order hold has anything left;
- conservation: per asset, what the holders and the exchange's in-transit, fee and clearing
  accounts hold together never changes, nothing else moves, and every holder's balance is exactly
  its starting balance plus its settled trades (units one way, value and fees the other) plus the
  net proceeds of its sales not yet settled (advanced at the fill by the clearing account, which
  is below zero by exactly those); the store's audit
  (what `cets audit verify` runs) finds no violation;
- nothing a holder has (balance, available, held) is ever negative.

Orders are also checked against what order entry promises (exchange.py's precedence): a price
outside the band, a quantity outside 1..99,999 t, a moment outside the sessions, or units or funds
short of what the order needs (fees included) is refused with that code; anything else is accepted.

The exact hold of an order `order:<id>` (venue_base `_admit`, `_buy_hold`, `_void`; settlement;
exchange.py: "a buy order holds price x quantity plus the buyer's fee on that value; what a fill
at a better price or a cancel leaves held is released at the day's end"):

- sell of Q: Q units; a cancel (or the unfilled part of a pick, or self-trade prevention) releases
  the cancelled units, a fill releases nothing until the day's end, so until then the hold has
  Q - cancelled: the unfilled part plus what the day's fills will deliver;
- buy of Q at limit P: P x Q + buyer_fee(P x Q); a cancel of C releases P x C (not its fee share),
  so until the day's end the hold has P x (Q - C) + buyer_fee(P x Q);
- at the day's end each trade posts from its orders' holds (units; value and the buyer's fee, the
  fees on an order never more than it reserved: venue_base `_buyer_fee`) and the rest of every
  hold is voided, so every order hold ends at 0 with posted + voided = amount.

Fees follow the policy, computed here independently: basis points of the trade value, half-up to
the fen, at least the minimum (DOMAIN.md, "Settlement"). The machine runs under three fee
schedules: none, 5 bps a side, and 5/3 bps with a 2.00 CNY minimum.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from cets.adapters.sql.store import SqlStore
from cets.domain.errors import RejectCode
from cets.domain.ledger.model import Account, Hold, Purpose, TransferFlags
from cets.domain.policy import Policy
from cets.domain.registry.holders import EXCHANGE, Holder
from cets.domain.trading.book import Book
from cets.domain.trading.calendar import TradingCalendar
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.exchange import Exchange
from cets.service.ports import CommandResult, OrderRow, TradeRow
from cets.service.registry import Registry

CEA = "CEA-2023"
CNY = "CNY"
DAY_ONE = date(2024, 3, 4)  # a Monday
OPEN = ("open", "partially_filled")
LISTED_MAX_T = 99_999  # DOMAIN.md: 1 t .. 99,999 t per listed order
BAND_PCT = 10  # DOMAIN.md: +-10% of the previous close
# A and B hold units and funds, C only funds, D only units: C and D share nothing.
HOLDERS = ("A", "B", "C", "D")
UNIT_HOLDERS = ("A", "B", "D")
FUND_HOLDERS = ("A", "B", "C")
POLICIES = {
    "no fees": Policy(),
    "5 bps a side": Policy().with_overrides({"fees_bps": {"buyer": 5, "seller": 5}}),
    "5/3 bps, 2.00 minimum": Policy().with_overrides(
        {"fees_bps": {"buyer": 5, "seller": 3, "min_fee_fen": 200}}
    ),
}
SHORT_OF_UNITS = frozenset(
    {RejectCode.insufficient_units, RejectCode.units_encumbered, RejectCode.units_not_yet_sellable}
)

holders = st.sampled_from(HOLDERS)
sides = st.sampled_from(("buy", "sell"))


def fee(value_fen: int, bps: int, minimum_fen: int) -> int:
    """One side's fee, written out again: bps of the value half-up to the fen, at least the
    minimum; none on no value."""
    if value_fen == 0:
        return 0
    return max((2 * value_fen * bps + 10_000) // 20_000, minimum_fen)


def band(prev_close: int) -> tuple[int, int]:
    """Previous close x (1 -+ 10%), half-up to the fen (the tick), never below one tick."""
    low = (2 * prev_close * (100 - BAND_PCT) + 100) // 200
    high = (2 * prev_close * (100 + BAND_PCT) + 100) // 200
    return max(low, 1), high


@dataclass(frozen=True)
class Snapshot:
    """The venue and its ledger as stored after a step, and the (synced) book in memory."""

    rows: dict[str, OrderRow]
    trades: list[TradeRow]
    accounts: list[Account]
    holds: dict[str, Hold]
    moved: dict[str, tuple[int, int]]  # hold id -> (posted, voided) by the transfer log
    book: Book


class VenueMachine(RuleBasedStateMachine):
    store: SqlStore
    clock: SettableClock
    exchange: Exchange
    policy: Policy
    calendar: TradingCalendar
    units: dict[str, int]  # what each holder started with
    funds: dict[str, int]
    others: dict[int, tuple[int, int, int, int]]  # buckets of every non-trading account at start
    totals: dict[str, int]  # per asset, what the holders and the exchange hold together at start

    def __init__(self) -> None:
        super().__init__()
        self.dir: Path | None = None
        self.day = DAY_ONE
        self.today: set[str] = set()  # orders (accepted or refused) entered since the last day end
        self.ids: list[str] = []  # every order id that has a row
        self.count = 0
        self.steps_today = 0
        self.step = 0
        self.snap: tuple[int, Snapshot] | None = None

    # -- setup --------------------------------------------------------------------------------

    @initialize(
        fees=st.sampled_from(sorted(POLICIES)),
        prev_close=st.integers(1_000, 9_000),
        units=st.tuples(*(st.integers(20, 300) for _ in UNIT_HOLDERS)),
        tonnes=st.tuples(*(st.integers(1, 80) for _ in FUND_HOLDERS)),
        spare=st.tuples(*(st.sampled_from((0, 1, 199, 50_000, 2_000_000)) for _ in FUND_HOLDERS)),
    )
    def open_the_market(
        self,
        fees: str,
        prev_close: int,
        units: tuple[int, ...],
        tonnes: tuple[int, ...],
        spare: tuple[int, ...],
    ) -> None:
        """Holders fund a number of tonnes at the previous close, the buyer's fee included, and
        keep a little or a lot spare: a buy of exactly those tonnes at the close needs every fen."""
        self.dir = Path(tempfile.mkdtemp(prefix="cets-venue-"))
        self.store = SqlStore.open(f"sqlite:///{self.dir / 'cets.db'}", durable=False)
        self.clock = SettableClock(datetime.combine(DAY_ONE, time(9, 0), tzinfo=SHANGHAI))
        self.policy = POLICIES[fees]
        self.calendar = TradingCalendar.from_policy(self.policy)
        self.units = dict.fromkeys(HOLDERS, 0) | dict(zip(UNIT_HOLDERS, units, strict=True))
        funds = [
            prev_close * t + self.buyer_fee(prev_close * t) + s
            for t, s in zip(tonnes, spare, strict=True)
        ]
        self.funds = dict.fromkeys(HOLDERS, 0) | dict(zip(FUND_HOLDERS, funds, strict=True))
        reg = Registry(self.store, self.clock)
        assert reg.issue("iss", CEA, 1_000_000).ok
        for holder in HOLDERS:
            assert reg.open_holder(Holder(holder, "institution", holder), actor="t").ok
            if self.units[holder]:
                assert reg.allocate(f"a-{holder}", holder, CEA, self.units[holder]).ok
            if self.funds[holder]:
                assert reg.deposit(f"d-{holder}", holder, self.funds[holder]).ok
        self.exchange = Exchange(self.store, self.clock, self.policy)
        assert self.exchange.list_instrument(CEA, prev_close, actor="t").ok
        self.others = {a.id: a.buckets() for a in self.store.all_accounts() if not _trades_on(a)}
        self.totals = {CEA: sum(self.units.values()), CNY: sum(self.funds.values())}
        self.clock.set(self.opening(self.day))

    def teardown(self) -> None:
        """The example's end: the store's audit finds nothing; the store goes."""
        if self.dir is None:
            return
        try:
            if hasattr(self, "store"):
                self.the_audit_finds_nothing()
        finally:
            if hasattr(self, "store"):
                self.store.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- rules --------------------------------------------------------------------------------

    @rule(holder=holders, side=sides, offset=st.integers(-6, 6), quantity=st.integers(1, 40))
    def place_near_the_close(self, holder: str, side: str, offset: int, quantity: int) -> None:
        low, high = band(self.prev_close())
        self.place(holder, side, min(max(self.prev_close() + offset, low), high), quantity)

    @rule(
        holder=holders,
        side=sides,
        edge=st.sampled_from(("low", "high")),
        quantity=st.integers(1, 40),
    )
    def place_at_a_band_limit(self, holder: str, side: str, edge: str, quantity: int) -> None:
        low, high = band(self.prev_close())
        self.place(holder, side, low if edge == "low" else high, quantity)

    @rule(
        holder=holders,
        side=sides,
        offset=st.one_of(st.just(0), st.integers(-6, 6)),
        extra=st.integers(0, 1),
    )
    def place_all_in(self, holder: str, side: str, offset: int, extra: int) -> None:
        """Everything the holder has available (units, or funds with the fee), or one more."""
        low, high = band(self.prev_close())
        price = min(max(self.prev_close() + offset, low), high)
        snap = self.snapshot()
        if side == "sell":
            quantity = self.available(snap, holder, CEA)
        else:
            funds = self.available(snap, holder, CNY)
            quantity = funds // price
            while quantity and price * quantity + self.buyer_fee(price * quantity) > funds:
                quantity -= 1
        self.place(holder, side, price, min(max(quantity, 1) + extra, LISTED_MAX_T))

    @rule(holder=holders, side=sides, quantity=st.integers(1, 5))
    def place_a_ladder(self, holder: str, side: str, quantity: int) -> None:
        """Six orders a tick apart, just beyond the prices the other rules use: a side with more
        than five levels, so that some quotes are out of the picks' reach."""
        sign = -1 if side == "buy" else 1
        for level in range(7, 13):
            self.place(holder, side, self.prev_close() + sign * level, quantity)

    @rule(
        holder=holders,
        side=sides,
        kind=st.sampled_from(("below the band", "above the band", "too many", "none", "lunch")),
        beyond=st.integers(1, 300),
    )
    def place_what_must_be_refused(self, holder: str, side: str, kind: str, beyond: int) -> None:
        low, high = band(self.prev_close())
        price, quantity = self.prev_close(), 10
        if kind == "below the band":
            price = low - beyond
        elif kind == "above the band":
            price = high + beyond
        elif kind == "too many":
            quantity = LISTED_MAX_T + beyond
        elif kind == "none":
            quantity = 0
        else:  # between the morning and the afternoon sessions
            back = self.clock.now()
            self.clock.set(datetime.combine(self.day, time(12, 15), tzinfo=SHANGHAI))
            try:
                self.place(holder, side, price, quantity, in_session=False)
            finally:
                self.clock.set(back)
            return
        self.place(holder, side, price, quantity)

    @rule(
        holder=holders,
        which=st.integers(0, 10**6),
        anything=st.integers(0, 3),
        quantity=st.integers(1, 40),
    )
    def pick(self, holder: str, which: int, anything: int, quantity: int) -> None:
        """Take a resting quote (or, one time in four, any order id ever used, or none)."""
        snap = self.next_step()
        candidates = [r.id for r in snap.rows.values() if r.status in OPEN] if anything else []
        candidates = candidates or [*self.ids, "no-such-order"]
        quote_id = candidates[which % len(candidates)]
        quote = snap.rows.get(quote_id)
        order_id = self.new_id("P")
        expected = self.expect_pick(snap, holder, quote, quantity)
        result = self.exchange.pick(order_id, holder, quote_id, quantity, actor=holder)
        assert result.code in expected, (order_id, quote, result, expected)
        row = self.store.venue_order(order_id)
        event(f"pick: {result.code or (row.status if row else '?')}")
        if result.code in (RejectCode.unknown_order, RejectCode.amount_must_be_positive):
            assert row is None, row
            return
        assert row is not None
        self.recorded(order_id)
        if result.code is not None:
            assert (row.status, row.reason) == ("rejected", result.code.value), row
            return
        assert quote is not None
        took = 0 if quote.account == holder else min(quantity, _left(quote))
        assert (row.filled, row.cancelled) == (took, quantity - took), row
        assert row.status == ("filled" if took == quantity else "cancelled"), row
        after = self.store.venue_order(quote.id)
        assert after is not None and after.filled == quote.filled + took, (quote, after)

    @rule(which=st.integers(0, 10**6), by=st.sampled_from(("anyone", "owner", "another")))
    def cancel(self, which: int, by: str) -> None:
        snap = self.next_step()
        ids = [*self.ids, "no-such-order"]
        order_id = ids[which % len(ids)]
        row = snap.rows.get(order_id)
        account: str | None = None
        if by != "anyone":
            owner = row.account if row is not None else "A"
            account = owner if by == "owner" else HOLDERS[(HOLDERS.index(owner) + 1) % 4]
        result = self.exchange.cancel(order_id, actor="t", account=account)
        cancellable = row is not None and row.status in OPEN and by != "another"
        if not cancellable:
            assert result.code == RejectCode.unknown_order, (order_id, row, result)
            return
        assert row is not None and result.ok, (row, result)
        after = self.store.venue_order(order_id)
        assert after is not None and after.status == "cancelled", after
        assert (after.filled, after.cancelled) == (row.filled, row.cancelled + _left(row)), after

    @precondition(lambda self: self.steps_today >= 6)
    @rule()
    def end_the_day(self) -> None:
        """15:00: expire, settle, release, close; then the next trading day's session opens."""
        self.next_step()
        self.clock.set(datetime.combine(self.day, time(15, 0), tzinfo=SHANGHAI))
        before = self.prev_close()
        todays = [t for t in self.store.venue_trades() if t.day == self.day]
        assert self.exchange.end_of_day(actor="t").ok
        event(f"day end: {'some' if todays else 'no'} trades")
        self.the_audit_finds_nothing()
        assert self.store.open_holds() == [], "order holds left after the day's end"
        assert all(t.settled_seq is not None for t in self.store.venue_trades())
        assert all(r.status not in OPEN for r in self.store.venue_orders())
        volume = sum(t.quantity for t in todays)
        amount = sum(t.price * t.quantity for t in todays)
        close = (2 * amount + volume) // (2 * volume) if volume else before
        assert self.prev_close() == close, (self.prev_close(), close, todays)
        self.today.clear()
        self.day = self.calendar.next_trading_day(self.day)
        self.steps_today = 0
        self.clock.set(self.opening(self.day))

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def the_book_is_never_crossed(self) -> None:
        snap = self.snapshot()
        assert snap.book.violations() == []
        bids, asks = snap.book.depth()
        assert [p for p, _ in bids] == sorted({p for p, _ in bids}, reverse=True), bids
        assert [p for p, _ in asks] == sorted({p for p, _ in asks}), asks
        if bids and asks:
            assert bids[0][0] < asks[0][0], f"crossed book: bids {bids}, asks {asks}"

    @invariant()
    def the_book_is_what_the_stored_open_orders_make(self) -> None:
        snap = self.snapshot()
        resting = {o.id: o.remaining for o in snap.book.resting()}
        stored = {r.id: _left(r) for r in snap.rows.values() if r.status in OPEN}
        assert resting == stored, (resting, stored)
        fresh = Exchange(self.store, self.clock, self.policy)
        assert fresh.depth(CEA) == snap.book.depth()
        again = [(o.id, o.remaining) for o in fresh.books[CEA].resting()]
        assert again == [(o.id, o.remaining) for o in snap.book.resting()]

    @invariant()
    def every_trade_is_at_its_makers_price(self) -> None:
        snap = self.snapshot()
        fees = self.policy.fees
        filled: dict[str, int] = defaultdict(int)
        budget: dict[str, int] = {}  # buy order -> the fee its hold still reserves
        for t in snap.trades:
            buy, sell = snap.rows[t.buy_order], snap.rows[t.sell_order]
            assert (buy.side, sell.side) == ("buy", "sell"), t
            assert (t.buyer, t.seller) == (buy.account, sell.account), t
            assert t.buyer != t.seller, f"self-trade {t}"
            maker = buy if buy.seq < sell.seq else sell
            assert t.price == maker.price, (
                f"{t.id} at {t.price}, its maker {maker.id} at {maker.price}"
            )
            assert sell.price <= t.price <= buy.price, f"{t.id} at {t.price}: {buy} / {sell}"
            assert t.quantity > 0 and t.instrument == CEA and t.mode == "listed", t
            value = t.price * t.quantity
            # The schedule's fee, but never more than the buy order reserved for fees in all.
            reserved = self.buyer_fee(buy.price * buy.quantity)
            left = budget.setdefault(buy.id, reserved)
            assert t.buyer_fee == min(fee(value, fees.buyer_bps, fees.min_fee_fen), left), t
            budget[buy.id] -= t.buyer_fee
            # The schedule's, never more than the value (venue_base.seller_fee).
            assert t.seller_fee == min(fee(value, fees.seller_bps, fees.min_fee_fen), value), t
            unsettled = t.buy_order in self.today or t.sell_order in self.today
            assert (t.settled_seq is None) == unsettled, t
            filled[t.buy_order] += t.quantity
            filled[t.sell_order] += t.quantity
        for row in snap.rows.values():
            assert row.filled == filled[row.id], (
                f"{row.id} filled {row.filled}, its trades {filled[row.id]}"
            )

    @invariant()
    def filled_cancelled_and_remaining_make_the_quantity(self) -> None:
        snap = self.snapshot()
        for row in snap.rows.values():
            if row.status == "rejected":
                assert row.filled == row.cancelled == 0 and row.reason is not None, row
                assert snap.book.get(row.id) is None, row
                continue
            resting = snap.book.get(row.id)
            if row.status in OPEN:
                assert resting is not None, f"open order {row.id} is not in the book"
                remaining = resting.remaining
                assert remaining > 0 and (row.status == "open") == (row.filled == 0), row
            else:
                assert resting is None, f"{row.status} order {row.id} is still in the book"
                remaining = 0
                assert row.status in ("filled", "cancelled", "expired"), row
                assert (row.status == "filled") == (row.filled == row.quantity), row
            assert min(row.filled, row.cancelled) >= 0, row
            assert row.filled + row.cancelled + remaining == row.quantity, (row, remaining)

    @invariant()
    def holds_are_exact(self) -> None:
        snap = self.snapshot()
        by_id = {a.id: a for a in snap.accounts}
        accepted = {r.id: r for r in snap.rows.values() if r.status != "rejected"}
        assert set(snap.holds) == {f"order:{i}" for i in accepted}, sorted(snap.holds)
        trades_of: dict[str, list[TradeRow]] = defaultdict(list)
        for t in snap.trades:
            trades_of[t.buy_order].append(t)
            trades_of[t.sell_order].append(t)
        for row in accepted.values():
            hold = snap.holds[f"order:{row.id}"]
            amount, remaining = self.expected_hold(row)
            assert (hold.amount, hold.remaining) == (amount, remaining), (row, hold)
            asset = CEA if row.side == "sell" else CNY
            debit, credit = by_id[hold.debit_account_id], by_id[hold.credit_account_id]
            assert (debit.holder, debit.asset) == (row.account, asset), (row, debit)
            assert (credit.holder, credit.purpose) == (EXCHANGE, Purpose.in_transit), credit
            posted, voided = snap.moved.get(hold.id, (0, 0))
            assert posted + voided + hold.remaining == hold.amount, (row, hold, posted, voided)
            if row.id in self.today:
                assert posted == 0, f"{row.id}: {posted} posted before the day's end"
            else:
                assert posted == self.settled_from_hold(row, trades_of[row.id]), (row, posted)

    @invariant()
    def conservation(self) -> None:
        """Per asset, all accounts sum to zero (the ledger's rule); trading moves nothing in or
        out of the holders and the exchange together; no other account moves."""
        snap = self.snapshot()
        posted: dict[str, int] = defaultdict(int)
        pending: dict[str, int] = defaultdict(int)
        trading = dict.fromkeys(self.totals, 0)
        for a in snap.accounts:
            posted[a.asset] += a.balance
            pending[a.asset] += a.credits_pending - a.debits_pending
            if _trades_on(a):
                trading[a.asset] += a.balance
            else:
                assert self.others.get(a.id) == a.buckets(), f"{a} moved, or is new"
        assert all(v == 0 for v in posted.values()), posted
        assert all(v == 0 for v in pending.values()), pending
        assert trading == self.totals, (trading, self.totals)

    @invariant()
    def balances_are_the_start_plus_the_settled_trades(self) -> None:
        snap = self.snapshot()
        expected: dict[tuple[str, str, str], int] = {}
        for holder in HOLDERS:
            if self.units[holder]:
                expected[holder, Purpose.holding, CEA] = self.units[holder]
            expected[holder, Purpose.fund, CNY] = self.funds[holder]  # opened with the holder
        fees = advanced = 0
        for t in snap.trades:
            value = t.price * t.quantity
            # The seller's net proceeds are advanced at the fill by the clearing account...
            key = (t.seller, Purpose.fund, CNY)
            expected[key] = expected.get(key, 0) + value - t.seller_fee
            if t.settled_seq is None:
                advanced += value - t.seller_fee
                continue
            # ... and the rest moves when the trade is settled (which repays the advance).
            for key, change in (
                ((t.buyer, Purpose.holding, CEA), t.quantity),
                ((t.buyer, Purpose.fund, CNY), -value - t.buyer_fee),
                ((t.seller, Purpose.holding, CEA), -t.quantity),
            ):
                expected[key] = expected.get(key, 0) + change
            fees += t.buyer_fee + t.seller_fee
        expected[EXCHANGE, Purpose.fees, CNY] = fees
        expected[EXCHANGE, Purpose.clearing, CNY] = -advanced
        held: dict[tuple[str, str], int] = defaultdict(int)
        for row in snap.rows.values():
            if row.status != "rejected":
                held[row.account, CEA if row.side == "sell" else CNY] += self.expected_hold(row)[1]
        actual: dict[tuple[str, str, str], int] = {}
        for a in snap.accounts:
            if a.holder in HOLDERS:
                actual[a.holder, a.purpose, a.asset] = a.balance
                assert a.debits_pending == held[a.holder, a.asset], (a, held)
                assert a.credits_pending == 0, a
            elif (a.holder, a.purpose) in ((EXCHANGE, Purpose.fees), (EXCHANGE, Purpose.clearing)):
                actual[a.holder, a.purpose, a.asset] = a.balance
            elif (a.holder, a.purpose) == (EXCHANGE, Purpose.in_transit):
                # Between a trade's legs only: posted in and out in the same chain.
                assert a.balance == 0 and a.debits_pending == 0, a
                assert a.credits_pending == sum(
                    v for (_, asset), v in held.items() if asset == a.asset
                ), a
        if (EXCHANGE, Purpose.fees, CNY) not in actual and not fees:
            actual[EXCHANGE, Purpose.fees, CNY] = 0  # not opened until a fee is paid
        if (EXCHANGE, Purpose.clearing, CNY) not in actual and not snap.trades:
            actual[EXCHANGE, Purpose.clearing, CNY] = 0  # not opened until a first trade
        assert actual == expected, (actual, expected)

    @invariant()
    def nothing_a_holder_has_is_negative(self) -> None:
        for a in self.snapshot().accounts:
            if a.holder in HOLDERS:
                assert min(a.buckets()) >= 0 and a.balance >= 0 and a.available >= 0, a

    def the_audit_finds_nothing(self) -> None:
        """What `cets audit verify` runs: the hash chain and every ledger invariant, recomputed
        from the stored transfers (run at each day's end and at the example's end: it costs a
        third of a step)."""
        report = self.store.audit()
        assert report.ok, (report.chain_break, report.violations)

    # -- the model ----------------------------------------------------------------------------

    def expected_hold(self, row: OrderRow) -> tuple[int, int]:
        """(amount, remaining now) of the hold of accepted order `row`: see the module docstring."""
        amount, held = self.held_until_the_day_end(row)
        return amount, held if row.id in self.today else 0

    def held_until_the_day_end(self, row: OrderRow) -> tuple[int, int]:
        """(amount, what it holds from the order's last cancel to its day's settlement). Expiry
        releases nothing before settlement, and an order that expires was never cancelled in
        part before (a cancel takes all that rests; a taker's cancelled part never rests)."""
        cancelled = 0 if row.status == "expired" else row.cancelled
        if row.side == "sell":
            return row.quantity, row.quantity - cancelled
        amount = row.price * row.quantity + self.buyer_fee(row.price * row.quantity)
        return amount, amount - row.price * cancelled

    def settled_from_hold(self, row: OrderRow, trades: Iterable[TradeRow]) -> int:
        """What settlement posts from a settled order's hold: its units, or its trades' value and
        every one of their buyer fees (capped at what the order reserved, so the hold pays them
        all and the buyer's free funds are never asked: `VenueBase._buyer_fee`)."""
        if row.side == "sell":
            return sum(t.quantity for t in trades)
        return sum(t.price * t.quantity + t.buyer_fee for t in trades)

    def buyer_fee(self, value: int) -> int:
        return fee(value, self.policy.fees.buyer_bps, self.policy.fees.min_fee_fen)

    def model_balance(self, snap: Snapshot, holder: str, asset: str) -> int:
        """The holder's balance of `asset` by the model: start plus settled trades, plus the net
        proceeds of its sales as soon as they are made (advanced at the fill)."""
        balance = self.units[holder] if asset == CEA else self.funds[holder]
        for t in snap.trades:
            value = t.price * t.quantity
            if t.settled_seq is None:
                if t.seller == holder and asset == CNY:
                    balance += value - t.seller_fee
                continue
            if t.buyer == holder:
                balance += t.quantity if asset == CEA else -value - t.buyer_fee
            elif t.seller == holder:
                balance += -t.quantity if asset == CEA else value - t.seller_fee
        return balance

    def available(self, snap: Snapshot, holder: str, asset: str) -> int:
        side = "sell" if asset == CEA else "buy"
        held = sum(
            self.expected_hold(r)[1]
            for r in snap.rows.values()
            if r.account == holder and r.side == side and r.status != "rejected"
        )
        return self.model_balance(snap, holder, asset) - held

    def shortfall(
        self, snap: Snapshot, holder: str, side: str, price: int, quantity: int
    ) -> frozenset[RejectCode | None]:
        """What order entry answers about the holder's means: None when they cover the order."""
        if side == "buy":
            need = price * quantity + self.buyer_fee(price * quantity)
            if self.available(snap, holder, CNY) >= need:
                return frozenset({None})
            return frozenset({RejectCode.insufficient_funds})
        available = self.available(snap, holder, CEA)
        if available >= quantity:
            return frozenset({None})
        bought = sum(t.quantity for t in snap.trades if t.buyer == holder and t.settled_seq is None)
        if bought and available + bought >= quantity:
            # exchange.py: "a sell that only today's purchases would cover is
            # units_not_yet_sellable"; when even they would not cover it, the code still says
            # units_not_yet_sellable (any purchase today), which the docstring does not promise.
            return frozenset({RejectCode.units_not_yet_sellable})
        if bought:
            return SHORT_OF_UNITS
        balance = self.model_balance(snap, holder, CEA)
        return frozenset(
            {RejectCode.units_encumbered if balance >= quantity else RejectCode.insufficient_units}
        )

    def expect_place(
        self, snap: Snapshot, holder: str, side: str, price: int, quantity: int, in_session: bool
    ) -> frozenset[RejectCode | None]:
        """Order entry's answer, in its precedence (exchange.py)."""
        low, high = band(self.prev_close())
        if quantity <= 0 or price <= 0:
            return frozenset({RejectCode.amount_must_be_positive})
        if not in_session:
            return frozenset({RejectCode.outside_trading_session})
        if not 1 <= quantity <= LISTED_MAX_T:
            return frozenset({RejectCode.quantity_out_of_range})
        if not low <= price <= high:
            return frozenset({RejectCode.price_outside_band})
        return self.shortfall(snap, holder, side, price, quantity)

    def expect_pick(
        self, snap: Snapshot, holder: str, quote: OrderRow | None, quantity: int
    ) -> frozenset[RejectCode | None]:
        """A pick's answer, in the precedence of `Exchange.pick`: the quote must be open; then
        the gates, the best five levels of the quote's side, the picker's means."""
        if quote is None or quote.status not in OPEN:
            return frozenset({RejectCode.unknown_order})
        if not 1 <= quantity <= LISTED_MAX_T:
            return frozenset({RejectCode.quantity_out_of_range})
        bids, asks = snap.book.depth(5)
        if quote.price not in [p for p, _ in (bids if quote.side == "buy" else asks)]:
            return frozenset({RejectCode.quote_not_in_best_levels})
        side = "buy" if quote.side == "sell" else "sell"
        return self.shortfall(snap, holder, side, quote.price, quantity)

    # -- plumbing -----------------------------------------------------------------------------

    def place(
        self, holder: str, side: str, price: int, quantity: int, *, in_session: bool = True
    ) -> CommandResult:
        snap = self.next_step()
        order_id = self.new_id("O")
        expected = self.expect_place(snap, holder, side, price, quantity, in_session)
        result = self.exchange.place(order_id, holder, CEA, side, quantity, price, actor=holder)
        assert result.code in expected, (order_id, holder, side, price, quantity, result, expected)
        row = self.store.venue_order(order_id)
        event(f"place: {result.code or (row.status if row else '?')}")
        if result.code == RejectCode.amount_must_be_positive:
            assert row is None, row
            return result
        assert row is not None
        self.recorded(order_id)
        if result.code is not None:
            assert (row.status, row.reason) == ("rejected", result.code.value), row
        else:
            assert row.status in (*OPEN, "filled", "cancelled"), row
            assert row.status != "cancelled" or row.reason == "self_trade_prevented", row
        return result

    def next_step(self) -> Snapshot:
        """A new step: the clock moves on a second (inside the session); the state before it."""
        snap = self.snapshot()
        self.step += 1
        self.steps_today += 1
        self.clock.set(self.clock.now() + timedelta(seconds=1))
        return snap

    def snapshot(self) -> Snapshot:
        if self.snap is not None and self.snap[0] == self.step:
            return self.snap[1]
        self.exchange.depth(CEA)  # brings the books in step with the store
        moved: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for t in self.store.transfers():
            if t.pending_id is not None:
                moved[t.pending_id][0 if t.flags & TransferFlags.POST_PENDING else 1] += t.amount
        snap = Snapshot(
            {r.id: r for r in self.store.venue_orders()},
            self.store.venue_trades(),
            self.store.all_accounts(),
            {h.id: h for h in self.store.holds()},
            {k: (v[0], v[1]) for k, v in moved.items()},
            self.exchange.books[CEA],
        )
        self.snap = (self.step, snap)
        return snap

    def recorded(self, order_id: str) -> None:
        self.ids.append(order_id)
        self.today.add(order_id)

    def new_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def prev_close(self) -> int:
        return self.store.venue_instruments()[CEA][0]

    @staticmethod
    def opening(day: date) -> datetime:
        return datetime.combine(day, time(9, 30), tzinfo=SHANGHAI)


def _left(row: OrderRow) -> int:
    return row.quantity - row.filled - row.cancelled


def _trades_on(account: Account) -> bool:
    """Accounts trading may move: the holders' and the exchange's in-transit, fee and clearing
    accounts."""
    return account.holder in HOLDERS or (
        account.holder == EXCHANGE
        and account.purpose in (Purpose.in_transit, Purpose.fees, Purpose.clearing)
    )


VenueMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=40,
    deadline=None,
    # No explain phase: it reruns a failing example hundreds of times (minutes here).
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_random_flows_through_the_venue_keep_its_promises = VenueMachine.TestCase


# -- the bug the machine found, as plain cases -----------------------------------------------
# A buy order held one buyer fee, on its whole value at its limit, while each of its trades was
# charged its own fee (each rounded, each at least the minimum): over several fills the fees
# could add up to more than the hold reserved, a later trade's value no longer fitted, and the
# whole day's end failed. Fixed: a buyer's fees on an order are capped at what it reserved
# (`VenueBase._buyer_fee`).


@pytest.mark.parametrize(
    ("fees_bps", "price", "fills", "funds"),
    [
        # Hypothesis' shrunk case: 2 t at 10.00 hold 2,000 + 1 fen of fee, all the buyer has;
        # each 1 t trade costs 0.5 -> 1 fen of fee, 2 in all; the second finds no free fen.
        pytest.param({"buyer": 5, "seller": 5}, 1000, 2, 2_001, id="all-funds-committed"),
        # Each trade pays the 2.00 minimum, the hold kept one: T3's 60.00 meets 58.00 held.
        pytest.param(
            {"buyer": 5, "seller": 3, "min_fee_fen": 200}, 6000, 3, 10_000_000, id="minimum-fee"
        ),
        # 15 t at 55.00 hold 41 fen of fee (41.25); 15 trades of 1 t pay 3 fen each (2.75):
        # after 14 of them the hold is 1 fen short of T15's value.
        pytest.param({"buyer": 5, "seller": 5}, 5500, 15, 10_000_000, id="rounded-per-trade"),
    ],
)
def test_a_buy_filled_in_several_trades_settles_at_the_days_end(
    tmp_path: Path, fees_bps: dict[str, int], price: int, fills: int, funds: int
) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'cets.db'}", durable=False)
    clock = SettableClock(datetime.combine(DAY_ONE, time(9, 0), tzinfo=SHANGHAI))
    reg = Registry(store, clock)
    assert reg.issue("iss", CEA, 1_000).ok
    for holder in ("S", "B"):
        assert reg.open_holder(Holder(holder, "institution", holder), actor="t").ok
    assert reg.allocate("a", "S", CEA, 100).ok
    assert reg.deposit("d", "B", funds).ok
    venue = Exchange(store, clock, Policy().with_overrides({"fees_bps": fees_bps}))
    assert venue.list_instrument(CEA, price, actor="t").ok
    clock.set(datetime.combine(DAY_ONE, time(10, 0), tzinfo=SHANGHAI))
    assert venue.place("B1", "B", CEA, "buy", fills, price, actor="B").message == "open"
    for i in range(fills):
        assert venue.place(f"S{i}", "S", CEA, "sell", 1, price, actor="S").message == "filled"
    clock.set(datetime.combine(DAY_ONE, time(15, 0), tzinfo=SHANGHAI))
    try:
        assert venue.end_of_day(actor="t").ok
        assert all(t.settled_seq is not None for t in store.venue_trades())
        assert store.open_holds() == []
        bought: dict[tuple[str, str], int] = {
            (a.holder, a.asset): a.balance for a in store.all_accounts()
        }
        assert bought["B", CEA] == fills
        report = store.audit()
        assert report.ok, (report.chain_break, report.violations)
    finally:
        store.close()
