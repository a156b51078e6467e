"""Marking the close: one holder's trades in the last minutes that move the closing VWAP.

DOMAIN.md, "Trading": the close is the volume-weighted average price of the day's listed trades,
rounded half-up to 0.01 CNY (block and auction trades do not enter it). Whoever trades at a
chosen price just before the close can move it. This module owns that detector.

Rule, per instrument and trading day that has a `DayContext` (its `close_us` says when the last
listed session ends; a day without one cannot be judged and is skipped):
    - The window is the last `close_window_s` seconds: `close_us - close_window_s` <= `at_us` <=
      `close_us`, both inclusive.
    - For each holder with listed trades in the window (as buyer or as seller), compare the
      close as it stands (the VWAP of all the day's listed trades) with the close without that
      holder's window trades (the VWAP of the rest; if nothing is left, the previous close, as
      when a day has no trade). Both are rounded half-up to the fen, as the market publishes a
      close; the move is (close - close without) / close without, in basis points.
    - The alert fires when |move| >= `close_move_bps` (compared exactly, in integers:
      |difference| x 10,000 >= bps x close without) and the move goes the holder's way: up when
      it bought at least as many tonnes as it sold in the window, down when it sold at least as
      many as it bought. A buyer pushes a price up, a seller pushes it down; the counterparty of
      a holder who paid up to raise the close only sold to it, and is not accused (a holder that
      bought and sold the same tonnage in the window, painting the tape, can move either way).
    - Severity by the size of the move, with T = `close_move_bps`: low for T <= |move| < 2T,
      medium for 2T <= |move| < 4T, high for |move| >= 4T (with the default 100 bp: 1-2 % low,
      2-4 % medium, 4 % or more high, where the listed band is +-10 %).
    - The alert names the holder (its only account), its window trades and the orders on its
      side of them (ids in the order they happened), both closes and the move; its key is
      `marking_the_close:<instrument>:<day>:<holder>` (day in ISO form), so a second run over
      the same trades yields the same alerts.

Choices where the rules are silent (written down so they are found):
    - Block and auction trades are ignored altogether: they neither enter the close nor count
      as a holder's window trades.
    - Each holder is judged alone: a late move spread over many holders, none of whom moves the
      close by the threshold, does not fire (collusion between accounts is the wash-trade
      detector's affair, through their actual controller).
    - Alerts come back in the order their days and, within a day, their holders first appear.

Cost: one pass over the trades (the close's sums per day, and the window trades kept aside),
then one pass over each day's window trades. O(n).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from cets.domain.supervision.alerts import Alert, AlertType, Severity
from cets.domain.supervision.events import DayContext, TradeEvent
from cets.domain.supervision.rules import SupervisionRules
from cets.domain.supervision.wording import times as _times
from cets.domain.units import format_fen, round_half_up_fen

_US: Final = 1_000_000
_BPS: Final = 10_000
_LISTED: Final = "listed"

Day = tuple[str, date]  # instrument, trading day


@dataclass(slots=True)
class _Session:
    """One instrument's trading day: the close's sums, and the listed trades in the window."""

    context: DayContext
    window_start_us: int
    amount_fen: int = 0
    volume_t: int = 0
    window: list[TradeEvent] = field(default_factory=list)


@dataclass(slots=True)
class _Share:
    """One holder's listed trades in a day's window."""

    trades: list[TradeEvent] = field(default_factory=list)
    amount_fen: int = 0
    volume_t: int = 0
    bought_t: int = 0
    sold_t: int = 0


def detect_marking_the_close(
    trades: Sequence[TradeEvent],
    days: Mapping[Day, DayContext],
    rules: SupervisionRules,
) -> list[Alert]:
    """Every marking-the-close alert over `trades` (in the order they happened)."""
    alerts: list[Alert] = []
    for session in _sessions(trades, days, rules).values():
        alerts.extend(_session_alerts(session, rules))
    return alerts


def _sessions(
    trades: Sequence[TradeEvent], days: Mapping[Day, DayContext], rules: SupervisionRules
) -> dict[Day, _Session]:
    """The days with a context, each with its close's sums and its window trades."""
    window_us = rules.close_window_s * _US
    sessions: dict[Day, _Session] = {}
    unknown: set[Day] = set()
    last_key: Day | None = None
    session: _Session | None = None
    for t in trades:
        if t.mode != _LISTED:
            continue
        key = (t.instrument, t.day)
        if key != last_key:  # the stream runs day by day: look up only when the day changes
            last_key, session = key, sessions.get(key)
            if session is None and key not in unknown:
                context = days.get(key)
                if context is None:
                    unknown.add(key)
                else:
                    session = sessions[key] = _Session(context, context.close_us - window_us)
        if session is None:
            continue
        session.amount_fen += t.price * t.quantity
        session.volume_t += t.quantity
        if session.window_start_us <= t.at_us <= session.context.close_us:
            session.window.append(t)
    return sessions


def _shares(window: list[TradeEvent]) -> dict[str, _Share]:
    """Each holder's part of the window trades, in the order holders first appear."""
    shares: dict[str, _Share] = {}
    for t in window:
        value = t.price * t.quantity
        for holder in dict.fromkeys((t.buyer, t.seller)):  # once if a holder is both
            share = shares.get(holder)
            if share is None:
                share = shares[holder] = _Share()
            share.trades.append(t)
            share.amount_fen += value
            share.volume_t += t.quantity
            if holder == t.buyer:
                share.bought_t += t.quantity
            if holder == t.seller:
                share.sold_t += t.quantity
    return shares


def _session_alerts(session: _Session, rules: SupervisionRules) -> list[Alert]:
    if not session.window:
        return []
    prev_close = session.context.prev_close
    assert prev_close > 0, f"previous close {prev_close} fen, was expected > 0"
    close = round_half_up_fen(session.amount_fen, session.volume_t)
    alerts = []
    for holder, share in _shares(session.window).items():
        rest_t = session.volume_t - share.volume_t
        without = (
            round_half_up_fen(session.amount_fen - share.amount_fen, rest_t)
            if rest_t
            else prev_close
        )
        difference = close - without
        its_way = (difference > 0 and share.bought_t >= share.sold_t) or (
            difference < 0 and share.sold_t >= share.bought_t
        )
        if its_way and abs(difference) * _BPS >= rules.close_move_bps * without:
            alerts.append(_alert(session, holder, share, close, without, rules))
    return alerts


def _severity(difference: int, without: int, threshold_bps: int) -> Severity:
    scaled = abs(difference) * _BPS
    if scaled >= 4 * threshold_bps * without:
        return Severity.high
    if scaled >= 2 * threshold_bps * without:
        return Severity.medium
    return Severity.low


def _alert(
    session: _Session,
    holder: str,
    share: _Share,
    close: int,
    without: int,
    rules: SupervisionRules,
) -> Alert:
    instrument, day = session.context.instrument, session.context.day
    move_bps = round_half_up_fen((close - without) * _BPS, without)
    text = (
        f"{holder} {_what_it_did(holder, share)} in the last {_window_text(rules.close_window_s)} "
        f"of {instrument}'s {day.isoformat()} session ({share.volume_t:,} t at "
        f"{_price_range(share.trades)}), moving the close from {format_fen(without)} to "
        f"{format_fen(close)} ({move_bps:+d} bp; alert at >= {rules.close_move_bps} bp)."
    )
    orders = (t.buy_order if t.buyer == holder else t.sell_order for t in share.trades)
    return Alert(
        type=AlertType.marking_the_close,
        severity=_severity(close - without, without, rules.close_move_bps),
        key=f"marking_the_close:{instrument}:{day.isoformat()}:{holder}",
        instrument=instrument,
        accounts=(holder,),
        orders=tuple(dict.fromkeys(o for o in orders if o)),
        trades=tuple(t.id for t in share.trades),
        explanation=text,
    )


def _what_it_did(holder: str, share: _Share) -> str:
    bought = sum(1 for t in share.trades if t.buyer == holder)
    sold = sum(1 for t in share.trades if t.seller == holder)
    parts = [f"bought {_times(bought)}" if bought else "", f"sold {_times(sold)}" if sold else ""]
    return " and ".join(p for p in parts if p)


def _window_text(seconds: int) -> str:
    if seconds % 60:
        return f"{seconds} seconds"
    minutes = seconds // 60
    return "minute" if minutes == 1 else f"{minutes} minutes"


def _price_range(trades: list[TradeEvent]) -> str:
    low = min(t.price for t in trades)
    high = max(t.price for t in trades)
    return format_fen(low) if low == high else f"{format_fen(low)}-{format_fen(high)}"
