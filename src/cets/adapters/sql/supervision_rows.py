"""Supervision rows inside the transaction (see `supervision_tables`): the order and trade
streams as the detectors read them, alerts and their history, large-holder reports.

`SupervisionRows` is mixed into the unit of work. The stream reads are set-based: one query for
the orders, one for the trades, one for the days' bands, whatever their number (a day's orders
by `ix_orders_day`, its trades by `ix_trades_day`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update

from cets.adapters.sql import supervision_tables as s
from cets.adapters.sql import tables as t
from cets.adapters.sql.prepared import as_date
from cets.adapters.sql.statements import history
from cets.domain.ledger.model import Purpose
from cets.domain.registry.holders import SYSTEM_HOLDERS
from cets.domain.supervision.alerts import Alert, AlertType, Severity
from cets.domain.supervision.events import DayContext, Holdings, OrderEvent, TradeEvent
from cets.domain.supervision.large_holder import Movement
from cets.domain.supervision.records import (
    AlertAction,
    Candidate,
    LargeHolderReport,
    StoredAlert,
    alert_id,
)
from cets.domain.trading.calendar import DAY_END, local_datetime
from cets.domain.trading.rules import band_limits
from cets.domain.units import CASH
from cets.service.clock import from_us, to_us

_A, _X, _R = s.alerts.c, s.alert_actions.c, s.large_holder_reports.c
_O, _T = t.orders.c, t.trades.c
_SYSTEM = tuple(h.id for h in SYSTEM_HOLDERS)


def _day_bounds(column: Any, first: date | None, last: date | None) -> list[Any]:
    where = []
    if first is not None:
        where.append(column >= first)
    if last is not None:
        where.append(column <= last)
    return where


def _stored(row: Any) -> StoredAlert:
    alert = Alert(
        AlertType(row.type),
        Severity(row.severity),
        row.topic,
        row.instrument,
        tuple(json.loads(row.accounts)),
        tuple(json.loads(row.orders)),
        tuple(json.loads(row.trades)),
        row.explanation,
    )
    day = None if row.day is None else as_date(row.day)
    return StoredAlert(
        row.id, alert, day, row.state, row.resolution, row.detected_at, row.updated_at
    )


def _report(row: Any) -> LargeHolderReport:
    return LargeHolderReport(
        row.id,
        row.holder,
        row.asset,
        row.position,
        row.threshold,
        row.limit_t,
        row.transfer,
        row.transfer_ordinal,
        row.crossed_at,
        [(d, p, c) for d, p, c in json.loads(row.history)],
        row.alert,
        row.at,
    )


_ORDER_EVENTS = (
    "SELECT id, instrument, account, side, price_fen, quantity_t, at_us, day, filled_t, status, "
    "reason, CASE WHEN status = 'cancelled' THEN closed_us END, mode FROM orders "
    "WHERE status <> 'rejected'{days} ORDER BY seq"
)
_TRADE_EVENTS = (
    "SELECT id, instrument, buyer, seller, price_fen, quantity_t, at_us, day, buy_order, "
    "sell_order, mode FROM trades WHERE 1 = 1{days} ORDER BY ordinal"
)


def _names() -> Callable[[str, str], str]:
    """One string object per holder or instrument name: the detectors key dicts by them, and
    an equal string already hashed and identical compares at once (measured: a third off the
    detectors' time over a million stored trades, `bench/supervision_store.py`)."""
    seen: dict[str, str] = {}
    return seen.setdefault


def _dates(rows: list[Any], column: int) -> dict[Any, date]:
    """A day column's distinct values as dates (SQLite keeps ISO text), each parsed once."""
    return {value: as_date(value) for value in {row[column] for row in rows}}


class SupervisionRows:
    """Supervision rows inside the transaction."""

    conn: Connection

    # -- the streams the detectors read --------------------------------------------------------

    def order_events(self, first: date | None, last: date | None) -> list[OrderEvent]:
        """Orders placed (not refused at entry) on trading days first..last, in arrival order;
        `cancelled_us` is when a cancelled order was cancelled."""
        rows = self._driver_rows(_ORDER_EVENTS, first, last)
        day, one = _dates(rows, 7), _names()
        return [
            OrderEvent(
                i, one(ins, ins), one(acc, acc), side, price, qty, at, day[d], filled, status,
                why, cut, mode,
            )
            for i, ins, acc, side, price, qty, at, d, filled, status, why, cut, mode in rows
        ]  # fmt: skip

    def trade_events(self, first: date | None, last: date | None) -> list[TradeEvent]:
        """Trades of trading days first..last, in the order they were made."""
        rows = self._driver_rows(_TRADE_EVENTS, first, last)
        day, one = _dates(rows, 7), _names()
        return [
            TradeEvent(i, one(ins, ins), one(b, b), one(s, s), price, qty, at, day[d], bo, so, mode)
            for i, ins, b, s, price, qty, at, d, bo, so, mode in rows
        ]

    def _driver_rows(self, sql: str, first: date | None, last: date | None) -> list[Any]:
        """`sql` (with `{days}` where its day bounds go) through the driver's own cursor: the
        stream is millions of rows, and SQLAlchemy's rows cost twice the driver's (measured,
        `bench/supervision_store.py`)."""
        sqlite = self.conn.dialect.name == "sqlite"
        mark = "?" if sqlite else "%s"
        bounds, params = "", []
        for op, value in ((">=", first), ("<=", last)):
            if value is not None:
                bounds += f" AND day {op} {mark}"
                params.append(value.isoformat() if sqlite else value)
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql.format(days=bounds), params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def day_contexts(
        self, wanted: set[tuple[str, date]], band_pct: int, tick_fen: int
    ) -> dict[tuple[str, date], DayContext]:
        """Each (instrument, day)'s previous close and listed band: the one its bar recorded,
        else the close of the bar before it; a day not closed yet (no bar) has the
        instrument's current previous close."""
        if not wanted:
            return {}
        symbols = sorted({i for i, _ in wanted})
        bars: dict[str, list[tuple[date, int, int | None]]] = {}
        stmt = (
            select(
                t.daily_bars.c.instrument,
                t.daily_bars.c.day,
                t.daily_bars.c.close_fen,
                t.daily_bars.c.prev_close_fen,
            )
            .where(t.daily_bars.c.instrument.in_(symbols))
            .order_by(t.daily_bars.c.instrument, t.daily_bars.c.day)
        )
        for instr, day, close, prev in self.conn.execute(stmt):
            bars.setdefault(instr, []).append((as_date(day), close, prev))
        prices = select(t.instruments.c.symbol, t.instruments.c.prev_close_fen)
        current = {symbol: close for symbol, close in self.conn.execute(prices)}
        out = {}
        for instr, day in wanted:
            prev_close = _prev_close(bars.get(instr, []), day, current.get(instr))
            if prev_close is None:
                continue
            low, high = band_limits(prev_close, band_pct, tick_fen)
            close_us = to_us(local_datetime(day, DAY_END))
            out[instr, day] = DayContext(instr, day, prev_close, low, high, close_us)
        return out

    def controllers(self) -> dict[str, str | None]:
        return {h: c for h, c in self.conn.execute(select(t.holders.c.id, t.holders.c.controller))}

    def unit_holdings(self) -> list[Holdings]:
        """Each unit asset's posted units by holder, the system's own accounts left out."""
        a = t.accounts.c
        stmt = select(a.asset, a.holder, a.credits_posted - a.debits_posted).where(
            a.purpose == Purpose.holding, a.asset != CASH, a.holder.not_in(_SYSTEM)
        )
        by_asset: dict[str, dict[str, int]] = {}
        for asset, holder, units in self.conn.execute(stmt):
            if units > 0:
                by_asset.setdefault(asset, {})[holder] = int(units)
        return [Holdings(asset, by_asset[asset]) for asset in sorted(by_asset)]

    # -- alerts --------------------------------------------------------------------------------

    def latest_alerts(self, topics: Sequence[str]) -> dict[str, tuple[StoredAlert, int]]:
        """For each topic (a detector's key) already alerted: its latest alert and how many
        alerts it has had."""
        out: dict[str, tuple[StoredAlert, int]] = {}
        for start in range(0, len(topics), 500):
            chunk = list(topics[start : start + 500])
            stmt = select(s.alerts).where(_A.topic.in_(chunk)).order_by(_A.ordinal)
            for row in self.conn.execute(stmt):
                seen = out.get(row.topic)
                out[row.topic] = (_stored(row), 1 if seen is None else seen[1] + 1)
        return out

    def next_alert_ordinal(self) -> int:
        return int(self.conn.execute(select(func.coalesce(func.max(_A.ordinal), 0))).scalar_one())

    def insert_alerts(self, rows: Sequence[tuple[int, Alert, date | None, str]], at: int) -> None:
        """Alerts (ordinal, the finding, its day, its key: the finding's own, or `#n` after it
        when its topic was alerted before)."""
        if rows:
            self.conn.execute(
                insert(s.alerts),
                [
                    {
                        "ordinal": n,
                        "id": alert_id(n),
                        "state": "open",
                        "resolution": None,
                        "day": day,
                        "detected_at": at,
                        "updated_at": at,
                        **_evidence(a),
                        "key": key,
                    }
                    for n, a, day, key in rows
                ],
            )

    def update_alert_evidence(self, alert_id_: str, alert: Alert, at: int) -> None:
        self.conn.execute(
            update(s.alerts).where(_A.id == alert_id_).values(updated_at=at, **_evidence(alert))
        )

    def alert(self, alert_id_: str) -> StoredAlert | None:
        row = self.conn.execute(select(s.alerts).where(_A.id == alert_id_)).first()
        return None if row is None else _stored(row)

    def alerts(
        self,
        *,
        state: str | None = None,
        type_: str | None = None,
        first: date | None = None,
        last: date | None = None,
        account: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[StoredAlert]:
        """Alerts in the order they were raised, filtered."""
        stmt = select(s.alerts).where(*_day_bounds(_A.day, first, last)).order_by(_A.ordinal)
        if state is not None:
            stmt = stmt.where(_A.state == state)
        if type_ is not None:
            stmt = stmt.where(_A.type == type_)
        if account is not None:  # the JSON list holds the id quoted
            stmt = stmt.where(_A.accounts.contains(json.dumps(account), autoescape=True))
        rows = [_stored(r) for r in self.conn.execute(stmt.offset(offset).limit(limit))]
        return rows

    def set_alert_state(self, alert_id_: str, state: str, resolution: str | None, at: int) -> None:
        self.conn.execute(
            update(s.alerts)
            .where(_A.id == alert_id_)
            .values(state=state, resolution=resolution, updated_at=at)
        )

    def insert_alert_actions(self, actions: Sequence[AlertAction]) -> None:
        if actions:
            self.conn.execute(
                insert(s.alert_actions),
                [
                    {
                        "alert": x.alert,
                        "action": x.action,
                        "state": x.state,
                        "measure": x.measure,
                        "account": x.account,
                        "text": x.text,
                        "command": x.command,
                        "actor": x.actor,
                        "at": x.at,
                        "seq": x.seq,
                    }
                    for x in actions
                ],
            )

    def alert_actions(self, alert_id_: str) -> list[AlertAction]:
        stmt = (
            select(
                _X.alert,
                _X.action,
                _X.state,
                _X.measure,
                _X.account,
                _X.text,
                _X.command,
                _X.actor,
                _X.at,
                _X.seq,
            )
            .where(_X.alert == alert_id_)
            .order_by(_X.id)
        )
        return [AlertAction(*r) for r in self.conn.execute(stmt)]  # type: ignore[call-arg]

    # -- large holders -------------------------------------------------------------------------

    def supervision_mark(self, name: str) -> int:
        value = self.conn.execute(
            select(s.supervision_marks.c.value).where(s.supervision_marks.c.name == name)
        ).scalar_one_or_none()
        return 0 if value is None else int(value)

    def set_supervision_mark(self, name: str, value: int) -> None:
        marks = s.supervision_marks
        done = self.conn.execute(
            update(marks).where(marks.c.name == name).values(value=value)
        ).rowcount
        if not done:
            self.conn.execute(insert(marks).values(name=name, value=value))

    def last_transfer_ordinal(self) -> int:
        return int(
            self.conn.execute(
                select(func.coalesce(func.max(t.transfers.c.ordinal), 0))
            ).scalar_one()
        )

    def large_holder_candidates(self, min_units: int, after_ordinal: int) -> list[Candidate]:
        """Holders' holding accounts of unit assets that moved after transfer `after_ordinal`
        and now hold at least `min_units`."""
        a, h = t.accounts.c, t.holders.c
        stmt = (
            select(a.id, a.holder, h.kind, a.asset, a.credits_posted - a.debits_posted)
            .join(t.holders, h.id == a.holder)
            .where(
                a.purpose == Purpose.holding,
                a.asset != CASH,
                a.holder.not_in(_SYSTEM),
                a.last_transfer > after_ordinal,
                a.credits_posted - a.debits_posted >= min_units,
            )
            .order_by(a.holder, a.asset)
        )
        return [Candidate(*r) for r in self.conn.execute(stmt)]

    def movements(self, account_id: int, after_ordinal: int = 0) -> Iterator[Movement]:
        """The account's changes of posted units after transfer `after_ordinal`, newest first
        (a hold reserves units without moving them: not a movement)."""
        before = None
        while True:
            lines = history(self.conn, account_id, before=before, limit=500)
            for line in lines:
                if line.ordinal <= after_ordinal:
                    return
                if line.posted:
                    at = line.at_us
                    day = from_us(at).date()
                    yield Movement(line.ordinal, line.id, line.code, at, day, line.posted)
            if len(lines) < 500:
                return
            before = lines[-1].ordinal

    def buy_trades_of_day(self, holder: str, asset: str, day: date) -> list[str]:
        stmt = (
            select(_T.id)
            .where(and_(_T.buyer == holder, _T.instrument == asset, _T.day == day))
            .order_by(_T.ordinal)
        )
        return [r for (r,) in self.conn.execute(stmt)]

    def large_holder_report_exists(self, holder: str, asset: str, ordinal: int) -> bool:
        stmt = select(_R.id).where(
            _R.holder == holder, _R.asset == asset, _R.transfer_ordinal == ordinal
        )
        return self.conn.execute(stmt).first() is not None

    def insert_large_holder_report(self, report: LargeHolderReport) -> None:
        self.conn.execute(
            insert(s.large_holder_reports).values(
                id=report.id,
                holder=report.holder,
                asset=report.asset,
                position=report.position,
                threshold=report.threshold,
                limit_t=report.limit_t,
                transfer=report.transfer,
                transfer_ordinal=report.transfer_ordinal,
                crossed_at=report.crossed_at,
                history=json.dumps(report.history),
                alert=report.alert,
                at=report.at,
            )
        )

    def large_holder_reports(
        self, *, holder: str | None = None, report_id: str | None = None
    ) -> list[LargeHolderReport]:
        stmt = select(s.large_holder_reports).order_by(_R.crossed_at, _R.id)
        if holder is not None:
            stmt = stmt.where(_R.holder == holder)
        if report_id is not None:
            stmt = stmt.where(_R.id == report_id)
        reports = [_report(r) for r in self.conn.execute(stmt)]
        return sorted(reports, key=lambda r: (r.crossed_at, int(r.id[2:])))  # LH2 before LH10

    def count_large_holder_reports(self) -> int:
        return int(
            self.conn.execute(select(func.count()).select_from(s.large_holder_reports)).scalar_one()
        )


def _evidence(a: Alert) -> dict[str, Any]:
    return {
        "topic": a.key,
        "type": a.type.value,
        "severity": int(a.severity),
        "instrument": a.instrument,
        "accounts": json.dumps(list(a.accounts)),
        "orders": json.dumps(list(a.orders)),
        "trades": json.dumps(list(a.trades)),
        "explanation": a.explanation,
    }


def _prev_close(
    bars: list[tuple[date, int, int | None]], day: date, current: int | None
) -> int | None:
    previous_close = None
    for bar_day, close, prev in bars:
        if bar_day == day:
            return prev if prev is not None else previous_close
        if bar_day > day:
            break
        previous_close = close
    return current if previous_close is None or bars[-1][0] < day else previous_close
