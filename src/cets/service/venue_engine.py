"""The venue's engine: the books of every instrument in memory, kept in step with the database
(rebuilt from the stored open orders when another process moved the venue on), and the group
commit every venue command goes through (`VenueEngine._write`). The commands and their rules are
in `venue_base` (admission, holds, fills) and `exchange`, `block`, `auction`."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from typing import Any, Protocol, TypeVar

from cets.domain.errors import DomainError
from cets.domain.marketdata.klines import DailyStats
from cets.domain.policy import Policy
from cets.domain.trading.book import Book
from cets.domain.trading.calendar import Mode, TradingCalendar
from cets.domain.trading.orders import Order, Side
from cets.service.clock import Clock
from cets.service.ports import CommandResult, OrderRow, Store, TradeRow, UnitOfWork
from cets.service.registry_base import RegistryBase

_T = TypeVar("_T")


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
    def bought_unsettled(self, account: str, instrument: str) -> int: ...
    def position(self, account: str, instrument: str) -> int: ...
    def buyer_fees(self, buy_order: str) -> int: ...
    def allocated(self, account: str, asset: str) -> int: ...
    def write_daily_bar(
        self, instrument: str, day: date, stats: DailyStats, prev_close: int | None = None
    ) -> None: ...


class _Job:
    """A caller's command waiting for its batch: the work, then its result or its exception."""

    __slots__ = ("done", "error", "result", "work")

    def __init__(self, work: Any) -> None:
        self.work = work
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class VenueEngine(RegistryBase):
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

    def _read_book(self, instrument: str, read: Callable[[Book], _T]) -> _T | None:
        """`read` of the instrument's book now, books synced (None: no such instrument)."""
        with self._turn, self.store.unit_of_work() as raw:
            uow = self._venue_uow(raw)
            self._sync(uow)
            book = self.books.get(instrument)
            return None if book is None else read(book)

    def depth(self, instrument: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
        """The five best levels of each side now (None: no such instrument), books synced."""
        return self._read_book(instrument, lambda book: book.depth(5))

    def quotes(self, instrument: str) -> list[Order] | None:
        """The resting orders a pick may take now (`Book.quotes`; None: no such instrument)."""
        return self._read_book(instrument, lambda book: book.quotes())

    def _refusing(self, work: Any) -> CommandResult:
        try:
            result: CommandResult = self._write(work)
        except DomainError as refused:
            return CommandResult(refused.code, refused.message, field=refused.field)
        return result
