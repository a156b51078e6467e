"""Rows of the trading venue: the venue row, instruments, orders and trades (see `tables`).

`VenueRows` is mixed into the unit of work, so the venue's writes share the transaction of the
journal entries and ledger holds they go with.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, String, bindparam, func, select, text, update

from cets.adapters.sql import tables as t
from cets.adapters.sql.bars import DailyBar, write_bars
from cets.adapters.sql.block_rows import BlockRows
from cets.adapters.sql.prepared import Prepared, as_date
from cets.domain.marketdata.klines import DailyStats
from cets.service.ports import OrderRow, TradeRow

_ORDER_COLUMNS = (
    t.orders.c.id,
    t.orders.c.seq,
    t.orders.c.instrument,
    t.orders.c.account,
    t.orders.c.side,
    t.orders.c.mode,
    t.orders.c.price_fen,
    t.orders.c.quantity_t,
    t.orders.c.filled_t,
    t.orders.c.cancelled_t,
    t.orders.c.status,
    t.orders.c.reason,
    t.orders.c.day,
    t.orders.c.at_us,
    t.orders.c.closed_us,
)
_TRADE_COLUMNS = (
    t.trades.c.ordinal,
    t.trades.c.id,
    t.trades.c.instrument,
    t.trades.c.mode,
    t.trades.c.buy_order,
    t.trades.c.sell_order,
    t.trades.c.buyer,
    t.trades.c.seller,
    t.trades.c.price_fen,
    t.trades.c.quantity_t,
    t.trades.c.buyer_fee_fen,
    t.trades.c.seller_fee_fen,
    t.trades.c.day,
    t.trades.c.at_us,
    t.trades.c.settled_seq,
)
OPEN = ("open", "partially_filled")


def orders(
    conn: Connection, *, status: Sequence[str] | None = None, account: str | None = None
) -> list[OrderRow]:
    """Orders in arrival order (all, or those in `status`, or of one `account`)."""
    stmt = select(*_ORDER_COLUMNS).order_by(t.orders.c.seq, t.orders.c.id)
    if status is not None:
        stmt = stmt.where(t.orders.c.status.in_(list(status)))
    if account is not None:
        stmt = stmt.where(t.orders.c.account == account)
    return [OrderRow(*r) for r in conn.execute(stmt)]  # type: ignore[call-arg]


def trades(
    conn: Connection,
    *,
    day: date | None = None,
    unsettled: bool = False,
    instrument: str | None = None,
    since: date | None = None,
    until: date | None = None,
    last: int | None = None,
    after: int | None = None,
    first: int | None = None,
    run: str | None = None,
    trade_id: str | None = None,
) -> list[TradeRow]:
    """Trades in the order they were made; filtered (`after`: ordinals above it; `run`: cleared
    in that settlement run), and only the `last` few, or the `first` few, if given."""
    stmt = select(*_TRADE_COLUMNS)
    if run is not None:
        stmt = stmt.where(t.trades.c.run == run)
    if trade_id is not None:
        stmt = stmt.where(t.trades.c.id == trade_id)
    if after is not None:
        stmt = stmt.where(t.trades.c.ordinal > after)
    if day is not None:
        stmt = stmt.where(t.trades.c.day == day)
    if instrument is not None:
        stmt = stmt.where(t.trades.c.instrument == instrument)
    if since is not None:
        stmt = stmt.where(t.trades.c.day >= since)
    if until is not None:
        stmt = stmt.where(t.trades.c.day <= until)
    if unsettled:
        stmt = stmt.where(t.trades.c.settled_seq.is_(None))
    if last is not None:
        newest = stmt.order_by(t.trades.c.ordinal.desc()).limit(last)
        return [TradeRow(*r) for r in reversed(conn.execute(newest).all())]
    stmt = stmt.order_by(t.trades.c.ordinal).limit(first)
    return [TradeRow(*r) for r in conn.execute(stmt)]  # type: ignore[call-arg]


_INSERT_ORDER = Prepared(t.orders.insert().values({c: bindparam(c.key) for c in t.orders.c}))
_SAVE_ORDER_STATE = Prepared(
    update(t.orders)
    .where(t.orders.c.id == bindparam("id"))
    .values(
        filled_t=bindparam("filled_t"),
        cancelled_t=bindparam("cancelled_t"),
        status=bindparam("status"),
        reason=bindparam("reason"),
        closed_us=bindparam("closed_us"),
    )
)
_ORDER_BY_ID = Prepared(select(*_ORDER_COLUMNS).where(t.orders.c.id == bindparam("id")))


def order(conn: Connection, order_id: str) -> OrderRow | None:
    row = _ORDER_BY_ID(conn, id=order_id).fetchone()
    if row is None:
        return None
    *fields, day, at_us, closed_us = row
    return OrderRow(*fields, as_date(day), at_us, closed_us)  # type: ignore[call-arg]


def instruments(conn: Connection) -> dict[str, tuple[int, bool]]:
    """symbol -> (previous close in fen, halted)."""
    rows = conn.execute(select(t.instruments).order_by(t.instruments.c.symbol))
    return {r.symbol: (r.prev_close_fen, bool(r.halted)) for r in rows}


def _position() -> Prepared:
    """One statement, each part read through its index (the partial ones need their conditions
    written as the index has them)."""
    account, instrument = bindparam("account", type_=String), bindparam("instrument", type_=String)
    held = (
        select(t.accounts.c.credits_posted - t.accounts.c.debits_posted)
        .where(
            t.accounts.c.holder == account,
            t.accounts.c.purpose == "holding",
            t.accounts.c.asset == instrument,
        )
        .scalar_subquery()
    )
    left = t.orders.c.quantity_t - t.orders.c.filled_t - t.orders.c.cancelled_t
    bidding = (
        select(func.coalesce(func.sum(left), 0))
        .where(
            text(t.ORDER_OPEN),
            t.orders.c.account == account,
            t.orders.c.instrument == instrument,
            t.orders.c.side == "buy",
        )
        .scalar_subquery()
    )
    bought = (
        select(func.coalesce(func.sum(t.trades.c.quantity_t), 0))
        .where(
            t.trades.c.buyer == account,
            t.trades.c.instrument == instrument,
            t.trades.c.settled_seq.is_(None),
        )
        .scalar_subquery()
    )
    return Prepared(select(func.coalesce(held, 0) + bidding + bought))


_POSITION = _position()
_BUYER_FEES = Prepared(
    select(func.coalesce(func.sum(t.trades.c.buyer_fee_fen), 0)).where(
        t.trades.c.buy_order == bindparam("buy_order", type_=String)
    )
)


class VenueRows(BlockRows):
    """The venue's writes inside the unit of work's transaction.

    The venue row, the instruments and the next order and trade numbers are read once per
    transaction and then kept here (a transaction is a whole group-committed batch): only the
    venue writes them, under the writers' lock it holds until the commit. `CACHED` names them
    for the unit of work's savepoints, which restore them when a command is rolled back.
    """

    CACHED = ("_venue_row", "_instrument_rows", "_order_seq", "_trade_ordinal")
    conn: Connection
    _venue_row: tuple[int, bool] | None = None
    _instrument_rows: dict[str, tuple[int, bool]] | None = None
    _order_seq: int | None = None
    _trade_ordinal: int | None = None

    def venue(self) -> tuple[int, bool]:
        """(version, market halted)."""
        if self._venue_row is None:
            row = self.conn.execute(select(t.venue.c.version, t.venue.c.halted)).one()
            self._venue_row = int(row.version), bool(row.halted)
        return self._venue_row

    def bump_venue(self, *, halted: bool | None = None) -> int:
        values: dict[str, Any] = {"version": t.venue.c.version + 1}
        if halted is not None:
            values["halted"] = int(halted)
        self.conn.execute(update(t.venue).where(t.venue.c.id == 1).values(**values))
        self._venue_row = None
        return self.venue()[0]

    def instruments(self) -> dict[str, tuple[int, bool]]:
        if self._instrument_rows is None:
            self._instrument_rows = instruments(self.conn)
        return dict(self._instrument_rows)

    def put_instrument(self, symbol: str, prev_close: int, halted: bool = False) -> None:
        self._instrument_rows = None
        known = self.conn.execute(
            select(t.instruments.c.symbol).where(t.instruments.c.symbol == symbol)
        ).first()
        values = {"prev_close_fen": prev_close, "halted": int(halted)}
        if known is None:
            self.conn.execute(t.instruments.insert().values(symbol=symbol, **values))
        else:
            self.conn.execute(
                update(t.instruments).where(t.instruments.c.symbol == symbol).values(**values)
            )

    def order(self, order_id: str) -> OrderRow | None:
        return order(self.conn, order_id)

    def open_orders(self) -> list[OrderRow]:
        return orders(self.conn, status=OPEN)

    def next_order_seq(self) -> int:
        if self._order_seq is None:
            self._order_seq = int(
                self.conn.execute(select(func.coalesce(func.max(t.orders.c.seq), 0))).scalar_one()
            )
        self._order_seq += 1
        return self._order_seq

    def next_trade_ordinal(self) -> int:
        """The ordinal of the next trade (the caller numbers its trades on from it)."""
        if self._trade_ordinal is None:
            self._trade_ordinal = int(
                self.conn.execute(
                    select(func.coalesce(func.max(t.trades.c.ordinal), 0))
                ).scalar_one()
            )
        return self._trade_ordinal + 1

    def insert_order(self, o: OrderRow) -> None:
        _INSERT_ORDER(
            self.conn,
            id=o.id,
            seq=o.seq,
            instrument=o.instrument,
            account=o.account,
            side=o.side,
            mode=o.mode,
            price_fen=o.price,
            quantity_t=o.quantity,
            filled_t=o.filled,
            cancelled_t=o.cancelled,
            status=o.status,
            reason=o.reason,
            day=o.day.isoformat() if self.conn.dialect.name == "sqlite" else o.day,
            at_us=o.at_us,
            closed_us=o.closed_us,
        )

    def save_order_state(self, o: OrderRow) -> None:
        _SAVE_ORDER_STATE(
            self.conn,
            id=o.id,
            filled_t=o.filled,
            cancelled_t=o.cancelled,
            status=o.status,
            reason=o.reason,
            closed_us=o.closed_us,
        )

    def insert_trades(self, rows: Sequence[TradeRow]) -> None:
        if not rows:
            return
        self._trade_ordinal = max(self.next_trade_ordinal() - 1, *(r.ordinal for r in rows))
        self.conn.execute(
            t.trades.insert(),
            [
                {
                    "ordinal": r.ordinal,
                    "id": r.id,
                    "instrument": r.instrument,
                    "mode": r.mode,
                    "buy_order": r.buy_order,
                    "sell_order": r.sell_order,
                    "buyer": r.buyer,
                    "seller": r.seller,
                    "price_fen": r.price,
                    "quantity_t": r.quantity,
                    "buyer_fee_fen": r.buyer_fee,
                    "seller_fee_fen": r.seller_fee,
                    "day": r.day,
                    "at_us": r.at_us,
                }
                for r in rows
            ],
        )

    def unsettled_trades(self) -> list[TradeRow]:
        return trades(self.conn, unsettled=True)

    def write_daily_bar(
        self, instrument: str, day: date, stats: DailyStats, prev_close: int | None = None
    ) -> None:
        write_bars(
            self.conn,
            [
                DailyBar(
                    instrument,
                    day,
                    stats.open,
                    stats.high,
                    stats.low,
                    stats.close,
                    stats.volume,
                    stats.amount,
                    stats.block_volume,
                    stats.block_amount,
                    "cets",
                )
            ],
        )
        if prev_close is not None:  # supervision's price band of the day
            self.conn.execute(
                update(t.daily_bars)
                .where(t.daily_bars.c.instrument == instrument, t.daily_bars.c.day == day)
                .values(prev_close_fen=prev_close)
            )

    def bought_unsettled(self, account: str, instrument: str) -> int:
        """Units `account` bought and has not yet received (settlement delivers them)."""
        return int(
            self.conn.execute(
                select(func.coalesce(func.sum(t.trades.c.quantity_t), 0)).where(
                    t.trades.c.buyer == account,
                    t.trades.c.instrument == instrument,
                    t.trades.c.settled_seq.is_(None),
                )
            ).scalar_one()
        )

    def buyer_fees(self, buy_order: str) -> int:
        """The buyer fees charged so far on the trades of `buy_order`."""
        return int(_BUYER_FEES(self.conn, buy_order=buy_order).fetchone()[0])

    def position(self, account: str, instrument: str) -> int:
        """Units of `instrument` that `account` holds (its holding account), has bought and not
        yet received, and still bids for in open buy orders (see `_position`)."""
        return int(_POSITION(self.conn, account=account, instrument=instrument).fetchone()[0])

    def allocated(self, account: str, asset: str) -> int:
        """Units of `asset` allocated to `account` (free allocation and true-ups, less
        recoveries). Reads only the allocation transfers, through their partial indexes."""
        holding = (
            select(t.accounts.c.id)
            .where(
                t.accounts.c.holder == account,
                t.accounts.c.purpose == "holding",
                t.accounts.c.asset == asset,
            )
            .scalar_subquery()
        )
        codes = text(t.ALLOCATED)  # as the partial indexes say it, so they are used
        total = func.coalesce(func.sum(t.transfers.c.amount), 0)
        received = self.conn.execute(
            select(total).where(codes, t.transfers.c.credit_account_id == holding)
        ).scalar_one()
        recovered = self.conn.execute(
            select(total).where(codes, t.transfers.c.debit_account_id == holding)
        ).scalar_one()
        return int(received) - int(recovered)
