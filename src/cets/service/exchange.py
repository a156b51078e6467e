"""The trading venue's use cases: instruments, order entry, cancel, pick, halts and the day's end.

One `Exchange` is the single writer of the books. Each command runs in one transaction under the
writers' lock (the journal head); the books in memory follow the venue's version stored with
them, so when another process has changed the venue the books are rebuilt from the open orders,
in arrival order, before this one acts (and after any failed write, so memory never runs ahead
of what is stored).

Order entry (DOMAIN.md, "Trading"; checks in this precedence, the first failing one reported):
account state, halt, session, tick, quantity range for the mode, band around the previous close,
T+1 sellability, available units or funds (fees included). An accepted order holds the seller's
units or the buyer's funds (hold `order:<id>`, credited to the exchange's in-transit account),
then matches in price-time priority at the resting price; what is left rests. A fill moves
nothing yet: the trade waits for the day's end, which settles it (delivery versus payment).

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
from datetime import date, datetime
from typing import Any, Protocol

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import Hold, Purpose, Transfer, TransferCode, TransferFlags
from cets.domain.marketdata.klines import DailyStats, daily_stats
from cets.domain.marketdata.klines import Trade as MarketTrade
from cets.domain.policy import Policy
from cets.domain.registry.holders import EXCHANGE
from cets.domain.trading.book import BEST_LEVELS, Book
from cets.domain.trading.calendar import Mode, TradingCalendar, to_local
from cets.domain.trading.orders import Fill, Order, Side
from cets.domain.trading.rules import check_order
from cets.domain.units import CASH, fee_fen, format_fen
from cets.service.clock import Clock, from_us, to_us
from cets.service.ports import Command, CommandResult, OrderRow, Store, TradeRow, UnitOfWork
from cets.service.registry_base import RegistryBase

_PENDING = TransferFlags.PENDING
_VOID = TransferFlags.VOID_PENDING


class VenueUnitOfWork(UnitOfWork, Protocol):
    def venue(self) -> tuple[int, bool]: ...
    def bump_venue(self, *, halted: bool | None = None) -> int: ...
    def instruments(self) -> dict[str, tuple[int, bool]]: ...
    def put_instrument(self, symbol: str, prev_close: int, halted: bool = False) -> None: ...
    def order(self, order_id: str) -> OrderRow | None: ...
    def open_orders(self) -> list[OrderRow]: ...
    def next_order_seq(self) -> int: ...
    def next_trade_ordinal(self) -> int: ...
    def insert_order(self, o: OrderRow) -> None: ...
    def save_order_state(self, o: OrderRow) -> None: ...
    def insert_trades(self, rows: list[TradeRow]) -> None: ...
    def unsettled_trades(self) -> list[TradeRow]: ...
    def mark_settled(self, ordinals: list[int], seq: int) -> None: ...
    def bought_unsettled(self, account: str, instrument: str) -> int: ...
    def open_order_holds(self) -> list[Hold]: ...
    def write_daily_bar(self, instrument: str, day: date, stats: DailyStats) -> None: ...


def order_hold_id(order_id: str) -> TransferId:
    return TransferId(f"order:{order_id}")


def side_fee(value_fen: int, bps: int, minimum_fen: int) -> int:
    """One side's fee on a trade value: basis points, half-up to the fen, at least the minimum
    (no fee at all when both are 0)."""
    if value_fen == 0:
        return 0
    return max(fee_fen(value_fen, bps), minimum_fen)


class Exchange(RegistryBase):
    """Every venue command as a use case; holds the books of every instrument in memory."""

    def __init__(self, store: Store, clock: Clock, policy: Policy) -> None:
        super().__init__(store, clock)
        self.policy = policy
        self.calendar = TradingCalendar.from_policy(policy)
        self.books: dict[str, Book] = {}
        self._version: int | None = None

    # -- the books ---------------------------------------------------------------------------

    def _sync(self, uow: VenueUnitOfWork) -> None:
        """Rebuild the books from the open orders when the stored venue moved on without us."""
        version, _ = uow.venue()
        if version == self._version:
            return
        books: dict[str, Book] = {symbol: Book(symbol) for symbol in uow.instruments()}
        for row in uow.open_orders():
            remaining = row.quantity - row.filled - row.cancelled
            # The book only needs what is left: it re-enters as an order of that size.
            order = Order(row.id, row.account, Side(row.side), row.price, remaining, remaining)
            outcome = books[row.instrument].submit(order)
            assert not outcome.fills, f"open order {row.id} crosses the book it is restored to"
        self.books = books
        self._version = version

    def _venue_uow(self, uow: UnitOfWork) -> VenueUnitOfWork:
        return uow  # type: ignore[return-value]  # the SQL unit of work has the venue rows

    def _write(self, work: Any) -> Any:
        """Run `work(uow)` in one locked transaction; forget the books if it fails."""
        with self.store.unit_of_work() as raw:
            uow = self._venue_uow(raw)
            uow.lock()
            try:
                self._sync(uow)
                result = work(uow)
                self._version = uow.bump_venue()
                uow.commit()
            except BaseException:
                self._version = None  # memory may be ahead of the database: rebuild next time
                raise
            return result

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

    def _refusing(self, work: Any) -> CommandResult:
        try:
            result: CommandResult = self._write(work)
        except DomainError as refused:
            return CommandResult(refused.code, refused.message, field=refused.field)
        return result

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

        def work(uow: VenueUnitOfWork) -> CommandResult:
            known = uow.order(order_id)
            if known is not None:
                return _repeat_order(known, body)
            now = self.clock.now()
            row = OrderRow(
                order_id,
                uow.next_order_seq(),
                instrument,
                account,
                side,
                mode,
                price,
                quantity,
                0,
                0,
                "open",
                None,
                self.calendar.trading_day_of(to_local(now)),
                to_us(now),
            )
            try:
                hold = self._admit(uow, row, now)
                results = uow.submit([Command("order", actor, body, (hold,))], row.at_us)
                result = results[0]
                if not result.ok:
                    assert result.code is not None
                    raise DomainError(result.code, result.message)
            except DomainError as refused:
                return self._refused(uow, row, refused)
            uow.insert_order(row)
            self._match(uow, row, actor)
            return result._replace(message=row.status)

        result: CommandResult = self._write(work)
        return result

    def _admit(self, uow: VenueUnitOfWork, row: OrderRow, now: datetime) -> Transfer:
        """The checks before the hold, in their precedence; the hold the order needs."""
        if row.side not in (Side.buy, Side.sell):
            raise DomainError(
                RejectCode.invalid_field, f"side {row.side!r}: buy or sell", field="side"
            )
        if row.mode != Mode.listed:
            raise DomainError(
                RejectCode.invalid_field,
                f"mode {row.mode!r}: only listed orders are taken so far",
                field="mode",
            )
        selling = row.side == Side.sell
        self._holder(uow, row.account, moving_out=selling, receiving=not selling, field="account")
        instruments = uow.instruments()
        if row.instrument not in instruments:
            raise DomainError(
                RejectCode.unknown_instrument,
                f"no instrument {row.instrument!r}",
                field="instrument",
            )
        prev_close, halted = instruments[row.instrument]
        check_order(
            row.price,
            row.quantity,
            Mode.listed,
            now,
            prev_close,
            self.calendar,
            self.policy,
            halted or uow.venue()[1],
            instrument=row.instrument,
        )
        asset = row.instrument if selling else CASH
        amount = row.quantity if selling else self._buy_hold(row.price, row.quantity)
        purpose = Purpose.holding if selling else Purpose.fund
        debit = self._existing(uow, row.account, purpose, asset, amount)
        (transit,) = self._accounts(uow, row.at_us, (EXCHANGE, Purpose.in_transit, asset))
        return self._move(
            row.id,
            debit,
            transit,
            amount,
            TransferCode.order,
            flags=_PENDING,
            ref=row.id,
            transfer_id=order_hold_id(row.id),
        )

    def _buy_hold(self, price: int, quantity: int) -> int:
        value = price * quantity
        return value + side_fee(value, self.policy.fees.buyer_bps, self.policy.fees.min_fee_fen)

    def _refused(self, uow: VenueUnitOfWork, row: OrderRow, refused: DomainError) -> CommandResult:
        """Record the order as rejected. T+1: a sell that only today's purchases (delivered at
        the day's end) would cover is `units_not_yet_sellable`, not a plain shortfall."""
        code = refused.code
        short = code in (RejectCode.insufficient_units, RejectCode.units_encumbered)
        if row.side == Side.sell and short and uow.bought_unsettled(row.account, row.instrument):
            code = RejectCode.units_not_yet_sellable
        row.status, row.reason = "rejected", code.value
        uow.insert_order(row)
        return CommandResult(code, refused.message, field=refused.field)

    def _match(self, uow: VenueUnitOfWork, row: OrderRow, actor: str) -> None:
        book = self.books[row.instrument]
        order = Order(row.id, row.account, Side(row.side), row.price, row.quantity, row.quantity)
        outcome = book.submit(order)
        self._record_fills(uow, row, outcome.fills, actor)
        if outcome.cancelled:
            row.cancelled += outcome.cancelled
            row.reason = outcome.reason
            self._void(uow, row, outcome.cancelled, actor, outcome.reason or "cancelled")
        row.status = _status(row, rested=outcome.rested)
        uow.save_order_state(row)

    def _record_fills(
        self, uow: VenueUnitOfWork, taker: OrderRow, fills: tuple[Fill, ...], actor: str
    ) -> None:
        if not fills:
            return
        ordinal = uow.next_trade_ordinal()
        rows: list[TradeRow] = []
        fees = self.policy.fees
        for fill in fills:
            maker = uow.order(fill.maker)
            assert maker is not None, f"resting order {fill.maker} has no row"
            maker.filled += fill.quantity
            maker.status = "filled" if fill.maker_remaining == 0 else "partially_filled"
            uow.save_order_state(maker)
            taker.filled += fill.quantity
            buyer, seller = (taker, maker) if taker.side == Side.buy else (maker, taker)
            value = fill.price * fill.quantity
            rows.append(
                TradeRow(
                    ordinal,
                    f"T{ordinal}",
                    taker.instrument,
                    taker.mode,
                    fill.buy_order,
                    fill.sell_order,
                    buyer.account,
                    seller.account,
                    fill.price,
                    fill.quantity,
                    side_fee(value, fees.buyer_bps, fees.min_fee_fen),
                    side_fee(value, fees.seller_bps, fees.min_fee_fen),
                    taker.day,
                    taker.at_us,
                )
            )
            ordinal += 1
        uow.insert_trades(rows)
        uow.journal(
            "fills",
            actor,
            {
                "order": taker.id,
                "trades": [
                    [
                        r.id,
                        r.buy_order,
                        r.sell_order,
                        r.price,
                        r.quantity,
                        r.buyer_fee,
                        r.seller_fee,
                    ]
                    for r in rows
                ],
            },
            taker.at_us,
        )

    def _void(
        self, uow: VenueUnitOfWork, row: OrderRow, quantity: int, actor: str, why: str
    ) -> None:
        """Release the hold on `quantity` of `row` (units, or their value at the order's price)."""
        hold = uow.hold(order_hold_id(row.id))
        assert hold is not None, f"order {row.id} has no hold"
        amount = quantity if row.side == Side.sell else quantity * row.price
        now = to_us(self.clock.now())
        void = self._on_hold(
            TransferId(f"order:{row.id}/void:{row.cancelled}"),
            hold,
            min(amount, hold.remaining),
            TransferCode.order,
            _VOID,
            row.id,
        )
        body = {"order": row.id, "quantity": quantity, "reason": why}
        (result,) = uow.submit([Command("order_cancelled", actor, body, (void,))], now)
        assert result.ok, f"voiding the hold of order {row.id}: {result.code} {result.message}"

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
            row = OrderRow(
                order_id,
                uow.next_order_seq(),
                resting.instrument,
                account,
                side,
                Mode.listed,
                resting.price,
                quantity,
                0,
                0,
                "open",
                None,
                self.calendar.trading_day_of(to_local(now)),
                to_us(now),
            )
            try:
                hold = self._admit(uow, row, now)
                book = self.books[row.instrument]
                taker = Order(row.id, row.account, side, row.price, row.quantity, row.quantity)
                _check_pick(book, resting)
                (result,) = uow.submit([Command("pick", actor, body, (hold,))], row.at_us)
                if not result.ok:
                    assert result.code is not None
                    raise DomainError(result.code, result.message)
            except DomainError as refused:
                return self._refused(uow, row, refused)
            uow.insert_order(row)
            outcome = book.pick(taker, quote)
            self._record_fills(uow, row, outcome.fills, actor)
            if outcome.cancelled:
                row.cancelled += outcome.cancelled
                row.reason = outcome.reason
                self._void(uow, row, outcome.cancelled, actor, outcome.reason or "not rested")
            row.status = _status(row, rested=False)
            uow.save_order_state(row)
            return result._replace(message=row.status)

        return self._refusing(work)

    # -- the day's end -----------------------------------------------------------------------

    def end_of_day(self, *, actor: str) -> CommandResult:
        """Expire the day orders, settle every unsettled trade (one linked batch each), release
        what the orders still hold, and fix each instrument's day: open, high, low, close (VWAP
        of the listed trades), volumes; the close becomes the next day's previous close."""

        def work(uow: VenueUnitOfWork) -> CommandResult:
            now = self.clock.now()
            at = to_us(now)
            day = self.calendar.trading_day_of(to_local(now))
            for row in uow.open_orders():
                self.books[row.instrument].cancel(row.id)
                row.cancelled = row.quantity - row.filled
                row.status = "expired"
                uow.save_order_state(row)
            trades = uow.unsettled_trades()
            settlement = _Settlement(self, uow, at)
            results = uow.submit([settlement.chain(trade) for trade in trades], at)
            for trade, result in zip(trades, results, strict=True):
                assert result.ok, f"settling {trade.id}: {result.code} {result.message}"
                uow.mark_settled([trade.ordinal], result.seq or 0)
            released = [
                self._on_hold(
                    TransferId(f"{hold.id}/release"),
                    hold,
                    0,
                    TransferCode.order,
                    _VOID,
                    hold.ref or "",
                )
                for hold in uow.open_order_holds()
            ]
            if released:
                (result,) = uow.submit(
                    [
                        Command(
                            "release_order_holds",
                            EXCHANGE,
                            {"day": day.isoformat()},
                            tuple(released),
                        )
                    ],
                    at,
                )
                assert result.ok, f"releasing order holds: {result.code} {result.message}"
            closes = self._close_day(uow, day, trades)
            seq = uow.journal("end_of_day", actor, {"day": day.isoformat(), "closes": closes}, at)
            return CommandResult(None, seq=seq)

        return self._refusing(work)

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
            uow.write_daily_bar(symbol, day, stats)
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
            resting = self.books[row.instrument].cancel(order_id)
            assert resting is not None, f"open order {order_id} is not in its book"
            row.cancelled += resting.remaining
            row.status, row.reason = "cancelled", None
            self._void(uow, row, resting.remaining, actor, "cancelled")
            uow.save_order_state(row)
            return CommandResult(None)

        return self._refusing(work)


class _Settlement:
    """The transfers that settle trades, one linked chain per trade (delivery versus payment):
    the seller's units out of its order hold to the buyer, the buyer's money out of its order
    hold to the seller, each fee its own leg to the exchange's fee account. What a hold still has
    is tracked here across the day's trades, so a buyer's fee the hold no longer covers (a
    minimum fee charged on several fills) is taken from its free funds instead."""

    def __init__(self, exchange: Exchange, uow: VenueUnitOfWork, now: int) -> None:
        self.exchange = exchange
        self.uow = uow
        self.now = now
        self.remaining: dict[str, int] = {}

    def _hold(self, order_id: str) -> Hold:
        hold = self.uow.hold(order_hold_id(order_id))
        assert hold is not None, f"order {order_id} has no hold"
        self.remaining.setdefault(hold.id, hold.remaining)
        return hold

    def _post(self, tid: str, hold: Hold, amount: int, ref: str) -> Transfer:
        self.remaining[hold.id] -= amount
        return self.exchange._on_hold(
            TransferId(tid), hold, amount, TransferCode.trade, TransferFlags.POST_PENDING, ref
        )

    def chain(self, trade: TradeRow) -> Command:
        ex, uow, now = self.exchange, self.uow, self.now
        units, money = self._hold(trade.sell_order), self._hold(trade.buy_order)
        value = trade.price * trade.quantity
        unit_transit, cash_transit, fees, buyer_units, seller_fund = ex._accounts(
            uow,
            now,
            (EXCHANGE, Purpose.in_transit, trade.instrument),
            (EXCHANGE, Purpose.in_transit, CASH),
            (EXCHANGE, Purpose.fees, CASH),
            (trade.buyer, Purpose.holding, trade.instrument),
            (trade.seller, Purpose.fund, CASH),
        )
        tid = f"settle:{trade.id}"
        legs = [
            self._post(f"{tid}/units", units, trade.quantity, trade.id),
            ex._move(
                tid,
                unit_transit,
                buyer_units,
                trade.quantity,
                TransferCode.trade,
                ref=trade.id,
                transfer_id=TransferId(f"{tid}/deliver"),
            ),
            self._post(f"{tid}/funds", money, value, trade.id),
            ex._move(
                tid,
                cash_transit,
                seller_fund,
                value,
                TransferCode.trade,
                ref=trade.id,
                transfer_id=TransferId(f"{tid}/pay"),
            ),
        ]
        if trade.buyer_fee:
            from_hold = min(trade.buyer_fee, self.remaining[money.id])
            if from_hold:
                legs.append(self._post(f"{tid}/buyer-fee-held", money, from_hold, trade.id))
                legs.append(
                    ex._move(
                        tid,
                        cash_transit,
                        fees,
                        from_hold,
                        TransferCode.fee,
                        ref=trade.id,
                        transfer_id=TransferId(f"{tid}/buyer-fee"),
                    )
                )
            if trade.buyer_fee > from_hold:
                buyer_fund = ex._existing(uow, trade.buyer, Purpose.fund, CASH, trade.buyer_fee)
                legs.append(
                    ex._move(
                        tid,
                        buyer_fund,
                        fees,
                        trade.buyer_fee - from_hold,
                        TransferCode.fee,
                        ref=trade.id,
                        transfer_id=TransferId(f"{tid}/buyer-fee-free"),
                    )
                )
        if trade.seller_fee:
            legs.append(
                ex._move(
                    tid,
                    seller_fund,
                    fees,
                    trade.seller_fee,
                    TransferCode.fee,
                    ref=trade.id,
                    transfer_id=TransferId(f"{tid}/seller-fee"),
                )
            )
        body = {
            "trade": trade.id,
            "buyer": trade.buyer,
            "seller": trade.seller,
            "instrument": trade.instrument,
            "price": trade.price,
            "quantity": trade.quantity,
            "buyer_fee": trade.buyer_fee,
            "seller_fee": trade.seller_fee,
        }
        return Command("settle_trade", EXCHANGE, body, tuple(legs))


def _check_pick(book: Book, quote: OrderRow) -> None:
    """A quote may be picked only within the best five price levels of its side (checked before
    the picker's hold, as the code precedence wants; the book checks it again)."""
    bids, asks = book.depth(BEST_LEVELS)
    levels = [price for price, _ in (bids if quote.side == Side.buy else asks)]
    if quote.price not in levels:
        raise DomainError(
            RejectCode.quote_not_in_best_levels,
            f"quote {quote.id!r} at {format_fen(quote.price)} is not within the best "
            f"{BEST_LEVELS} price levels of the {quote.side} side",
            field="quote",
        )


def _status(row: OrderRow, *, rested: bool) -> str:
    if row.filled == row.quantity:
        return "filled"
    if rested:
        return "partially_filled" if row.filled else "open"
    return "cancelled"


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
