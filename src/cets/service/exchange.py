"""The trading venue's use cases: instruments, order entry, cancel, pick, halts and the day's end.

One `Exchange` is the single writer of the books of every instrument. Commands are
group-committed (`venue_engine`): the callers' commands share one transaction under the writers'
lock (the journal head), each in its own savepoint, and are answered once it has committed. The
books in memory follow the venue's version stored with them, so when another process has changed
the venue they are rebuilt from the open orders, in arrival order, before this one acts (and
after a command that failed once it had touched a book, or a batch that failed to commit, so
memory never runs ahead of what is stored).

Order entry (DOMAIN.md, "Trading"; checks in this precedence, the first failing one reported):
account state, halt, session, tick, quantity range for the mode, band around the previous close,
T+1 sellability, the position limit (buys), available units or funds (fees included); a pick's
quote must be within the best five levels of its side, checked after the gates and before the
means. An accepted order holds the seller's
units or the buyer's funds (hold `order:<id>`, credited to the exchange's in-transit account),
then matches in price-time priority at the resting price; what is left rests. At a fill the
clearing account advances the seller its net proceeds (so they can buy the same day); the units
and the buyer's money stay held until the day's settlement run delivers the trade versus payment
(`settlement`).

Journal: an accepted order is one entry (`order`, with its hold); its fills are a second entry
(`fills`, naming every trade), so trades are in the hash chain; a cancel, or the part of an order
that self-trade prevention cancelled, voids its share of the hold in its own entry.

Choices where the rules are silent (written down here so they are found):
- a buy order holds price x quantity plus the buyer's fee on that value; what a fill at a better
  price or a cancel leaves held is released at the day's end;
- units bought today reach the buyer at the day's end, so they cannot be sold or transferred
  before the next trading day; a sell that only today's purchases would cover is refused with
  `units_not_yet_sellable` rather than `insufficient_units`;
- an order refused at entry is kept (status `rejected`, the code as its reason), so its id stays
  used and the refusal can be looked up; a repeat with the same id and body gets the same answer;
- position limits are supervision's (issue 7) and not checked here yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ledger.model import TransferFlags
from cets.domain.marketdata.klines import Trade as MarketTrade
from cets.domain.marketdata.klines import daily_stats
from cets.domain.trading.book import Book
from cets.domain.trading.calendar import Mode, to_local
from cets.domain.trading.orders import Order, Side
from cets.domain.units import format_fen
from cets.service.auction import AuctionDesk
from cets.service.block import BlockDesk
from cets.service.clock import from_us, to_us
from cets.service.ports import CommandResult, OrderRow, TradeRow
from cets.service.settlement_corrections import CorrectionDesk
from cets.service.venue_base import VenueBase, VenueUnitOfWork, order_status

_PENDING = TransferFlags.PENDING
_VOID = TransferFlags.VOID_PENDING


class Exchange(CorrectionDesk, AuctionDesk, BlockDesk, VenueBase):
    """Every venue command as a use case; holds the books of every instrument in memory."""

    # -- instruments and halts ---------------------------------------------------------------

    def list_instrument(self, symbol: str, prev_close: int, *, actor: str) -> CommandResult:
        """List (or re-price) an instrument: a unit asset, traded around `prev_close`."""
        unit = self._unit_asset(symbol)
        if prev_close <= 0:
            return CommandResult(
                RejectCode.amount_must_be_positive,
                f"previous close {format_fen(prev_close)}, was expected > 0",
                field="prev_close",
            )

        def work(uow: VenueUnitOfWork) -> CommandResult:
            halted = uow.instruments().get(unit, (0, False))[1]
            uow.put_instrument(unit, prev_close, halted)
            now = to_us(self.clock.now())
            seq = uow.journal(
                "list_instrument", actor, {"symbol": unit, "prev_close": prev_close}, now
            )
            self.books.setdefault(unit, Book(unit))
            return CommandResult(None, seq=seq)

        result: CommandResult = self._write(work)
        return result

    def halt(self, instrument: str | None, *, actor: str, halted: bool = True) -> CommandResult:
        """Halt (or resume) one instrument, or the whole market when `instrument` is None."""

        def work(uow: VenueUnitOfWork) -> CommandResult:
            now = to_us(self.clock.now())
            kind = "halt" if halted else "resume"
            if instrument is None:
                uow.bump_venue(halted=halted)
            else:
                known = uow.instruments()
                if instrument not in known:
                    raise DomainError(
                        RejectCode.unknown_instrument,
                        f"no instrument {instrument!r}",
                        field="instrument",
                    )
                uow.put_instrument(instrument, known[instrument][0], halted)
            seq = uow.journal(kind, actor, {"instrument": instrument}, now)
            return CommandResult(None, seq=seq)

        return self._refusing(work)

    # -- orders ------------------------------------------------------------------------------

    def place(
        self,
        order_id: str,
        account: str,
        instrument: str,
        side: str,
        quantity: int,
        price: int,
        *,
        mode: str = Mode.listed,
        actor: str,
    ) -> CommandResult:
        """Enter a limit order (listed agreement): checks, hold, matching, resting remainder."""
        body = {
            "id": order_id,
            "account": account,
            "instrument": instrument,
            "side": side,
            "quantity": quantity,
            "price": price,
            "mode": mode,
        }

        malformed = _malformed(quantity=quantity, price=price)
        if malformed is not None:
            return malformed

        def work(uow: VenueUnitOfWork) -> CommandResult:
            known = uow.order(order_id)
            if known is not None:
                return _repeat_order(known, body)
            now = self.clock.now()
            row = self._new_order(
                uow, now, order_id, instrument, account, side, mode, price, quantity
            )
            try:
                result = self._hold(uow, row, self._admit(uow, row, now), "order", actor, body)
            except DomainError as refused:
                return self._refused(uow, row, refused)
            if row.mode == Mode.listed:
                self._match(uow, row, actor)  # stores the order as matching leaves it
            else:
                uow.insert_order(row)
            return result._replace(message=row.status)

        result: CommandResult = self._write(work)
        return result

    def pick(
        self,
        order_id: str,
        account: str,
        quote: str,
        quantity: int,
        *,
        actor: str,
    ) -> CommandResult:
        """Take resting quote `quote` (listed agreement) at its price, for up to `quantity`; only
        within the best five price levels of the quote's side. The unfilled part never rests."""

        malformed = _malformed(quantity=quantity)
        if malformed is not None:
            return malformed

        def work(uow: VenueUnitOfWork) -> CommandResult:
            resting = uow.order(quote)
            if resting is None or resting.status not in ("open", "partially_filled"):
                raise DomainError(
                    RejectCode.unknown_order, f"no open quote {quote!r}", field="quote"
                )
            side = Side.buy if resting.side == Side.sell else Side.sell
            body = {"id": order_id, "account": account, "quote": quote, "quantity": quantity}
            known = uow.order(order_id)
            if known is not None:
                return CommandResult(
                    RejectCode.duplicate_id, f"order id {order_id!r} was already used"
                )
            now = self.clock.now()
            row = self._new_order(
                uow,
                now,
                order_id,
                resting.instrument,
                account,
                side,
                Mode.listed,
                resting.price,
                quantity,
            )
            book = self.books[row.instrument]
            taker = Order(row.id, row.account, side, row.price, row.quantity, row.quantity)
            try:
                self._gates(uow, row, now)
                book.pickable(quote, side, field="quote")  # after the gates, before the means
                result = self._hold(uow, row, self._means_hold(uow, row), "pick", actor, body)
            except DomainError as refused:
                return self._refused(uow, row, refused)
            uow.insert_order(row)
            outcome = book.pick(taker, quote)
            self._record_fills(uow, row, outcome.fills, actor)
            if outcome.cancelled:
                row.cancelled += outcome.cancelled
                row.reason = outcome.reason
                self._void(uow, row, outcome.cancelled, actor, outcome.reason or "not rested")
            row.status = order_status(row, rested=False)
            uow.save_order_state(row)
            return result._replace(message=row.status)

        return self._refusing(work)

    # -- the day's end -----------------------------------------------------------------------

    def end_of_day(self, *, actor: str, day: date | None = None) -> CommandResult:
        """Expire the day orders, fix each instrument's day (open, high, low, close = VWAP of the
        listed trades, volumes; the close becomes the next day's previous close) and prepare
        the day's settlement run, each order hold cut to what its trades need; then settle the
        run (`settle_run`: confirmed by the system when policy lets it and it has no break, and
        delivered). `day` is the trading day closed (by default the one of now; `DayCloser`
        names a missed one). The result's message is the run's id."""

        def work(uow: VenueUnitOfWork) -> CommandResult:
            now = self.clock.now()
            at = to_us(now)
            closing = day or self.calendar.trading_day_of(to_local(now))
            for row in uow.open_orders():
                self.books[row.instrument].cancel(row.id)
                row.cancelled = row.quantity - row.filled
                row.status, row.closed_us = "expired", at
                uow.save_order_state(row)
            self._expire_inquiries(uow)
            closes = self._close_day(uow, closing, uow.unsettled_trades())
            run = self._prepare_run(uow, closing, actor, at)
            run_id = None if run is None else run.id
            body = {"day": closing.isoformat(), "closes": closes, "run": run_id}
            seq = uow.journal("end_of_day", actor, body, at)
            return CommandResult(None, run_id or "", seq=seq)

        closed = self._refusing(work)
        if closed.ok and closed.message:
            self.settle_run(closed.message, actor=actor)
        return closed

    def _close_day(self, uow: VenueUnitOfWork, day: date, trades: list[TradeRow]) -> dict[str, int]:
        """Each instrument's daily statistics, stored as its bar; closes become previous closes."""
        closes: dict[str, int] = {}
        for symbol, (prev_close, halted) in uow.instruments().items():
            todays = [
                MarketTrade(from_us(t.at_us), t.price, t.quantity, t.mode)
                for t in trades
                if t.instrument == symbol and t.day == day
            ]
            if not todays:
                continue
            stats = daily_stats(todays, prev_close)
            uow.write_daily_bar(symbol, day, stats, prev_close)
            uow.put_instrument(symbol, stats.close, halted)
            closes[symbol] = stats.close
        return closes

    def cancel(self, order_id: str, *, actor: str, account: str | None = None) -> CommandResult:
        """Cancel what remains of an open order; its hold on that remainder is released."""

        def work(uow: VenueUnitOfWork) -> CommandResult:
            row = uow.order(order_id)
            if row is None or (account is not None and row.account != account):
                raise DomainError(RejectCode.unknown_order, f"no order {order_id!r}", field="id")
            if row.status not in ("open", "partially_filled"):
                raise DomainError(
                    RejectCode.unknown_order,
                    f"order {order_id!r} is {row.status}: nothing left to cancel",
                    field="id",
                )
            left = row.quantity - row.filled - row.cancelled
            if row.mode == Mode.listed:
                resting = self.books[row.instrument].cancel(order_id)
                assert resting is not None and resting.remaining == left, f"{order_id}: book"
            row.cancelled += left
            row.status, row.reason = "cancelled", None
            self._void(uow, row, left, actor, "cancelled")
            uow.save_order_state(row)
            return CommandResult(None)

        return self._refusing(work)


def _malformed(**values: int) -> CommandResult | None:
    """A quantity or price of 0 or less is no order at all: refused, and not recorded."""
    for name, value in values.items():
        if value <= 0:
            return CommandResult(
                RejectCode.amount_must_be_positive, f"{name} {value}, was expected > 0", field=name
            )
    return None


def _repeat_order(known: OrderRow, body: Mapping[str, Any]) -> CommandResult:
    same = (
        known.account,
        known.instrument,
        known.side,
        known.quantity,
        known.price,
        known.mode,
    ) == (
        body["account"],
        body["instrument"],
        body["side"],
        body["quantity"],
        body["price"],
        body["mode"],
    )
    if not same:
        return CommandResult(
            RejectCode.duplicate_id, f"order id {known.id!r} was already used for another order"
        )
    if known.status == "rejected":
        assert known.reason is not None
        return CommandResult(
            RejectCode(known.reason), f"order {known.id!r} was rejected", replayed=True
        )
    return CommandResult(None, known.status, replayed=True)
