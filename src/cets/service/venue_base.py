"""The venue's plumbing, shared by its commands: the books in memory and their rebuilding from
the stored open orders, one locked transaction per command, order admission (the gates and the
hold), matching and fills, and releasing what an order holds. See `exchange` for the rules."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from typing import Any, Protocol

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import Hold, Purpose, Transfer, TransferCode, TransferFlags
from cets.domain.marketdata.klines import DailyStats
from cets.domain.policy import Policy
from cets.domain.registry.holders import EXCHANGE, HolderKind
from cets.domain.trading.book import Book
from cets.domain.trading.calendar import Mode, TradingCalendar, to_local
from cets.domain.trading.orders import Fill, Order, Side
from cets.domain.trading.rules import check_order
from cets.domain.units import CASH, fee_fen
from cets.service.clock import Clock, to_us
from cets.service.ports import Command, CommandResult, OrderRow, Store, TradeRow, UnitOfWork
from cets.service.registry_base import RegistryBase

_PENDING = TransferFlags.PENDING
_VOID = TransferFlags.VOID_PENDING


class VenueUnitOfWork(UnitOfWork, Protocol):
    def savepoint(self) -> AbstractContextManager[None]: ...
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
    def position(self, account: str, instrument: str) -> int: ...
    def buyer_fees(self, buy_order: str) -> int: ...
    def allocated(self, account: str, asset: str) -> int: ...
    def open_order_holds(self) -> list[Hold]: ...
    def write_daily_bar(self, instrument: str, day: date, stats: DailyStats) -> None: ...


class _Job:
    """A caller's command waiting for its batch: the work, then its result or its exception."""

    __slots__ = ("done", "error", "result", "work")

    def __init__(self, work: Any) -> None:
        self.work = work
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


def order_hold_id(order_id: str) -> TransferId:
    return TransferId(f"order:{order_id}")


def side_fee(value_fen: int, bps: int, minimum_fen: int) -> int:
    """One side's fee on a trade value: basis points, half-up to the fen, at least the minimum
    (no fee at all when both are 0)."""
    if value_fen == 0:
        return 0
    return max(fee_fen(value_fen, bps), minimum_fen)


class VenueBase(RegistryBase):
    """The books of every instrument, kept in step with the database."""

    def __init__(
        self, store: Store, clock: Clock, policy: Policy, *, max_batch: int = 1000
    ) -> None:
        super().__init__(store, clock)
        self.policy = policy
        self.calendar = TradingCalendar.from_policy(policy)
        self.books: dict[str, Book] = {}
        self._version: int | None = None
        # The books are one writer's: the threads of one process (API workers) queue their
        # commands for the batch leader (see `_write`); processes take turns at the database's
        # writer lock. `_turn` is held while the books are used (a batch, a depth read).
        self._turn = threading.RLock()
        self._inline: tuple[int, VenueUnitOfWork] | None = None  # see `batched`
        self._queue: deque[_Job] = deque()
        self._queue_changed = threading.Condition()
        self._leading = False
        self.max_batch = max_batch
        self.batches = 0  # transactions committed (observability, tests)

    # -- the books ---------------------------------------------------------------------------

    def _sync(self, uow: VenueUnitOfWork) -> None:
        """Rebuild the books from the open orders when the stored venue moved on without us."""
        version, _ = uow.venue()
        if version != self._version:
            self._rebuild(uow)
            self._version = version

    def _rebuild(self, uow: VenueUnitOfWork) -> None:
        """The books as the open orders in `uow`'s view make them, re-entered in arrival order."""
        books: dict[str, Book] = {symbol: Book(symbol) for symbol in uow.instruments()}
        for row in uow.open_orders():
            if row.mode != Mode.listed:
                continue  # block quotes wait for their acceptance outside the listed book
            remaining = row.quantity - row.filled - row.cancelled
            # The book only needs what is left: it re-enters as an order of that size.
            order = Order(row.id, row.account, Side(row.side), row.price, remaining, remaining)
            outcome = books[row.instrument].submit(order)
            assert not outcome.fills, f"open order {row.id} crosses the book it is restored to"
        self.books = books

    def _venue_uow(self, uow: UnitOfWork) -> VenueUnitOfWork:
        return uow  # type: ignore[return-value]  # the SQL unit of work has the venue rows

    # -- group commit ------------------------------------------------------------------------

    def _write(self, work: Any) -> Any:
        """Run `work(uow)` as one all-or-nothing command and return its result once durable.

        Group commit, led by the callers themselves: a caller queues its command; if no batch
        is being written it becomes the leader, takes every queued command (up to `max_batch`)
        and runs them in one transaction, each inside its own savepoint, then commits once and
        wakes the callers whose commands were in it. Callers arriving meanwhile wait and form
        the next batch. A command that raises is rolled back alone (its savepoint) and its
        caller gets the exception; if it had already changed a book, the books are rebuilt
        from the transaction's view. Nothing is acknowledged before the commit; if the commit
        fails, every command of the batch fails with it and the books are rebuilt next time.
        """
        job = _Job(work)
        inline = self._inline
        if inline is not None and inline[0] == threading.get_ident():
            self._attempt(inline[1], job)  # inside `batched()`: this thread's own transaction
            if job.error is not None:
                raise job.error
            return job.result
        with self._queue_changed:
            self._queue.append(job)
        while not job.done:
            with self._queue_changed:
                while self._leading and not job.done:
                    self._queue_changed.wait()
                if job.done:
                    break
                self._leading = True
                take = min(len(self._queue), self.max_batch)
                batch = [self._queue.popleft() for _ in range(take)]
            try:
                self._write_batch(batch)
            finally:
                with self._queue_changed:
                    for each in batch:
                        each.done = True
                    self._leading = False
                    self._queue_changed.notify_all()
        if job.error is not None:
            raise job.error
        return job.result

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Run the commands this thread calls inside the block as one batch: one transaction,
        each command in its own savepoint, committed when the block ends. For replays and bulk
        loads driven from one thread. Each command's answer comes back as it runs, before it is
        durable; if the commit fails, the block raises and none of them was stored. Other
        threads' commands wait until the block ends."""
        with self._queue_changed:
            while self._leading:
                self._queue_changed.wait()
            self._leading = True
        try:
            with self._turn, self.store.unit_of_work() as raw:
                uow = self._venue_uow(raw)
                try:
                    uow.lock()
                    self._sync(uow)
                    self._inline = (threading.get_ident(), uow)
                    yield
                    self._version = uow.bump_venue()
                    uow.commit()
                    self.batches += 1
                except BaseException:
                    self._version = None
                    raise
                finally:
                    self._inline = None
        finally:
            with self._queue_changed:
                self._leading = False
                self._queue_changed.notify_all()

    def _write_batch(self, batch: list[_Job]) -> None:
        with self._turn, self.store.unit_of_work() as raw:
            uow = self._venue_uow(raw)
            try:
                uow.lock()
                self._sync(uow)
                for job in batch:
                    self._attempt(uow, job)
                self._version = uow.bump_venue()
                uow.commit()
                self.batches += 1
            except BaseException as failed:
                self._version = None  # memory may be ahead of the database: rebuild next time
                for job in batch:
                    job.result, job.error = None, failed
                if not isinstance(failed, Exception):
                    raise

    def _attempt(self, uow: VenueUnitOfWork, job: _Job) -> None:
        """One command of a batch, alone in its savepoint."""
        marks = [(id(book), book.changes) for book in self.books.values()]
        try:
            with uow.savepoint():
                job.result = job.work(uow)
        except Exception as refused:
            job.error = refused
            if marks != [(id(book), book.changes) for book in self.books.values()]:
                self._rebuild(uow)  # the command got as far as a book: undo it there too

    def depth(self, instrument: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
        """The five best levels of each side now (None: no such instrument), books synced."""
        with self._turn, self.store.unit_of_work() as raw:
            uow = self._venue_uow(raw)
            self._sync(uow)
            book = self.books.get(instrument)
            return None if book is None else book.depth(5)

    def _new_order(
        self,
        uow: VenueUnitOfWork,
        now: datetime,
        order_id: str,
        instrument: str,
        account: str,
        side: str,
        mode: str,
        price: int,
        quantity: int,
    ) -> OrderRow:
        """An order arriving at `now`: the next arrival number, nothing filled yet."""
        return OrderRow(
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

    def _refusing(self, work: Any) -> CommandResult:
        try:
            result: CommandResult = self._write(work)
        except DomainError as refused:
            return CommandResult(refused.code, refused.message, field=refused.field)
        return result

    def _admit(self, uow: VenueUnitOfWork, row: OrderRow, now: datetime) -> Transfer:
        """The checks before the hold, in their precedence; the hold the order needs."""
        self._gates(uow, row, now)
        return self._means_hold(uow, row)

    def _gates(self, uow: VenueUnitOfWork, row: OrderRow, now: datetime) -> None:
        """The order's checks before its means, in their precedence (see `exchange`)."""
        if row.side not in (Side.buy, Side.sell):
            raise DomainError(
                RejectCode.invalid_field, f"side {row.side!r}: buy or sell", field="side"
            )
        if row.mode not in (Mode.listed, Mode.block):
            raise DomainError(
                RejectCode.invalid_field, f"mode {row.mode!r}: listed or block", field="mode"
            )
        selling = row.side == Side.sell
        holder = self._holder(
            uow, row.account, moving_out=selling, receiving=not selling, field="account"
        )
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
            Mode(row.mode),
            now,
            prev_close,
            self.calendar,
            self.policy,
            halted or uow.venue()[1],
            instrument=row.instrument,
        )
        if not selling:
            self._check_position(uow, holder.kind, row)

    def _means_hold(self, uow: VenueUnitOfWork, row: OrderRow) -> Transfer:
        """The hold order `row` needs: the seller's units, or the buyer's money and fee, into
        the exchange's in-transit account (opened on first use)."""
        selling = row.side == Side.sell
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

    def _check_position(self, uow: VenueUnitOfWork, kind: str, row: OrderRow) -> None:
        """The position limit (DOMAIN.md): what a buyer holds of the instrument's units, has
        bought and not yet received, and still bids for, plus this order, may not exceed its
        limit: a key emitter's allocation of that vintage plus `key_emitter_extra_t`, anyone
        else `other_t`. Units it has frozen or pledged sit in custody and are not counted."""
        limit = self.policy.position_limit
        if limit is None:
            return
        if kind == HolderKind.key_emitter:
            allowed = uow.allocated(row.account, row.instrument) + limit.key_emitter_extra_t
        else:
            allowed = limit.other_t
        position = uow.position(row.account, row.instrument)
        if position + row.quantity > allowed:
            raise DomainError(
                RejectCode.position_limit_exceeded,
                f"{row.account} would hold {position + row.quantity} t of {row.instrument} "
                f"({position} t held, bought or bid for, + {row.quantity} t), over its "
                f"position limit of {allowed} t",
                field="quantity",
            )

    def _hold(
        self,
        uow: VenueUnitOfWork,
        row: OrderRow,
        hold: Transfer,
        kind: str,
        actor: str,
        body: dict[str, Any],
    ) -> CommandResult:
        """Journal order `row` as `kind` with its hold; a refusal (the means are not there) is
        raised as the DomainError the order is rejected with."""
        (result,) = uow.submit([Command(kind, actor, body, (hold,))], row.at_us)
        if not result.ok:
            assert result.code is not None
            raise DomainError(result.code, result.message)
        return result

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
        """Match new order `row` (not stored yet) in its book; store it as it comes out."""
        book = self.books[row.instrument]
        order = Order(row.id, row.account, Side(row.side), row.price, row.quantity, row.quantity)
        outcome = book.submit(order)
        self._record_fills(uow, row, outcome.fills, actor)
        if outcome.cancelled:
            row.cancelled += outcome.cancelled
            row.reason = outcome.reason
            self._void(uow, row, outcome.cancelled, actor, outcome.reason or "cancelled")
        row.status = order_status(row, rested=outcome.rested)
        uow.insert_order(row)

    def _record_fills(
        self, uow: VenueUnitOfWork, taker: OrderRow, fills: tuple[Fill, ...], actor: str
    ) -> None:
        if not fills:
            return
        ordinal = uow.next_trade_ordinal()
        rows: list[TradeRow] = []
        fees = self.policy.fees
        budgets: dict[str, int] = {}  # buy order -> buyer fee its hold still has room for
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
                    self._buyer_fee(uow, buyer, value, budgets),
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

    def _buyer_fee(
        self, uow: VenueUnitOfWork, buy: OrderRow, value: int, budgets: dict[str, int]
    ) -> int:
        """The buyer's fee on a trade of `value`: the schedule's (basis points half-up, at least
        the minimum), but never more than what the buy order's hold still reserves for fees.
        The hold reserved one fee, on the order's whole value at its limit; fees charged trade
        by trade (each rounded, each at least the minimum) could add up to more, and settlement
        would then find the hold short. So a buyer never pays more in fees on an order than the
        order reserved: a trade that would take it over pays what is left."""
        fees = self.policy.fees
        if buy.id not in budgets:
            reserved = self._buy_hold(buy.price, buy.quantity) - buy.price * buy.quantity
            budgets[buy.id] = reserved - uow.buyer_fees(buy.id)
        charged = min(side_fee(value, fees.buyer_bps, fees.min_fee_fen), budgets[buy.id])
        budgets[buy.id] -= charged
        return charged

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


def order_status(row: OrderRow, *, rested: bool) -> str:
    if row.filled == row.quantity:
        return "filled"
    if rested:
        return "partially_filled" if row.filled else "open"
    return "cancelled"
