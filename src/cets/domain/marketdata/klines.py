"""K-lines (bars) and daily statistics, built from trades.

This module owns how trades become bars: which bar a moment falls in, and what a bar's open, high,
low, close, volume and amount are. It reads no clock and keeps every amount an integer (prices fen
per tonne, volumes tonnes, amounts fen).

Alignment (ARCHITECTURE.md, "Trading engine": K-lines aligned to the Asia/Shanghai trading day):
    - Intraday bars (1m .. 1h) start at the listed session starts, 09:30 and 13:00, and are counted
      from there: 1h bars are 09:30-10:30, 10:30-11:30, 13:00-14:00, 14:00-15:00. Every intraday
      length divides a session (120 minutes), so no bar spans the lunch break.
    - 1d is the trading day; 1w the week starting Monday, labelled by its first trading day;
      1M the calendar month, labelled by its first trading day. Bars of a day or longer are timed at
      00:00 Asia/Shanghai of the labelling day.

What a bar holds (as exchanges publish):
    - volume and amount count every trade, listed, block and auction;
    - open, high, low and close come from listed trades only (block and auction prices are
      negotiated or announced, not the market's price discovery);
    - an intraday bar's close is its last listed trade; a day's close is the VWAP of its listed
      trades (`rules.vwap_close`, MEE trading rules), so the 1d bar agrees with the published close;
      a week or a month closes at the close of its last day.

Choices where the rules are silent (written down so they are found):
    - Bars are sparse: a period without trades has no bar.
    - A bar with trades but no listed trade (say a block trade alone) is flat at the reference
      price: the close of the bar before it, else `prev_close`. This is how the pilot markets
      publish days without a listed trade (Hubei's daily file repeats the previous price at
      volume 0), and for a day it is exactly the rule "no listed trade: close = previous close".
      With no reference price at all the caller broke a precondition (AssertionError).
    - A moment outside the sessions (an auction closing at 15:30, a trade at 09:25) falls in the
      nearest bar before it on its trading day (the first bar if before 09:30); a moment on a closed
      day falls in the first bar of the next trading day (`TradingCalendar.trading_day_of`).
    - Trades are ordered by their time; trades at the same moment keep the order given (the engine's
      sequence), which decides the open and the close of a bar.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from cets.domain.trading.calendar import Mode, TradingCalendar, local_datetime, to_local
from cets.domain.trading.rules import vwap_close


class Interval(StrEnum):
    """K-line lengths; values are as the API spells them (`?interval=1d`)."""

    minute = "1m"
    five_minutes = "5m"
    fifteen_minutes = "15m"
    thirty_minutes = "30m"
    hour = "1h"
    day = "1d"
    week = "1w"
    month = "1M"


_INTRADAY_MINUTES: Final = {
    Interval.minute: 1,
    Interval.five_minutes: 5,
    Interval.fifteen_minutes: 15,
    Interval.thirty_minutes: 30,
    Interval.hour: 60,
}
_ROLLED_UP: Final = frozenset({Interval.week, Interval.month})
_MODES: Final = frozenset(Mode)


def is_intraday(interval: Interval) -> bool:
    return Interval(interval) in _INTRADAY_MINUTES


def bar_length(interval: Interval) -> timedelta:
    """The length of an intraday bar."""
    return timedelta(minutes=_INTRADAY_MINUTES[Interval(interval)])


@dataclass(frozen=True, slots=True)
class Trade:
    """A trade as market data sees it: when, at what price (fen/t), how much (t), in which mode."""

    at: datetime
    price: int
    quantity: int
    mode: str

    def __post_init__(self) -> None:
        assert self.at.tzinfo is not None, f"trade time {self.at.isoformat()} is naive"
        assert self.price > 0, f"trade price {self.price} fen, was expected > 0"
        assert self.quantity > 0, f"trade quantity {self.quantity} t, was expected > 0"
        assert self.mode in _MODES, f"trade mode {self.mode!r}, was expected one of {set(Mode)}"

    @property
    def is_listed(self) -> bool:
        return self.mode == Mode.listed


@dataclass(frozen=True, slots=True)
class Bar:
    """One K-line: open/high/low/close in fen per tonne, volume in tonnes, amount in fen."""

    time: datetime
    open: int
    high: int
    low: int
    close: int
    volume: int
    amount: int


@dataclass(frozen=True, slots=True)
class DailyStats:
    """A day's statistics (SCENARIOS.md, outcome `market`).

    `volume`/`amount` are all the day's trades; `block_volume`/`block_amount` are the block part
    of them. Prices come from listed trades; `close` is their VWAP; a day without a listed trade is
    flat at the previous close.
    """

    open: int
    high: int
    low: int
    close: int
    volume: int
    amount: int
    block_volume: int
    block_amount: int

    def bar(self, day: date) -> Bar:
        """This day as a 1d bar, timed at 00:00 Asia/Shanghai of `day`."""
        return Bar(
            day_label(day), self.open, self.high, self.low, self.close, self.volume, self.amount
        )


def day_label(day: date) -> datetime:
    """00:00 Asia/Shanghai of `day`: the time of bars of a day or longer."""
    return local_datetime(day, datetime.min.time())


# --- which bar a moment is in ---------------------------------------------------------------


def bucket_start(local_dt: datetime, interval: Interval, calendar: TradingCalendar) -> datetime:
    """The start of the bar of `interval` that `local_dt` falls in (see the module docstring)."""
    interval = Interval(interval)
    day = calendar.trading_day_of(local_dt)
    if interval is Interval.day:
        return day_label(day)
    if interval is Interval.week:
        monday = day - timedelta(days=day.weekday())
        return day_label(calendar.first_trading_day_from(monday))
    if interval is Interval.month:
        return day_label(calendar.first_trading_day_from(day.replace(day=1)))
    return _intraday_start(to_local(local_dt), day, bar_length(interval), calendar)


def _intraday_start(
    moment: datetime, day: date, length: timedelta, calendar: TradingCalendar
) -> datetime:
    sessions = [
        (local_datetime(day, start), local_datetime(day, end))
        for start, end in calendar.sessions(Mode.listed)
    ]
    if moment.date() != day or moment < sessions[0][0]:
        return sessions[0][0]  # a closed day's moment, or before the open: the first bar
    start, end = next((s, e) for s, e in reversed(sessions) if s <= moment)
    # Inside the session: count whole bars from its start. After it: its last bar.
    offset = min(moment, end - timedelta.resolution) - start
    return start + (offset // length) * length


# --- building bars ---------------------------------------------------------------------------


def aggregate(
    trades: Iterable[Trade],
    interval: Interval,
    calendar: TradingCalendar,
    *,
    prev_close: int | None = None,
) -> list[Bar]:
    """Bars of `interval` from `trades`, oldest first; only periods with trades have a bar.

    `prev_close` is the close before the first trade; it prices a bar that has no listed trade
    when no bar comes before it (see the module docstring). 1w and 1M are `roll_up` of the 1d bars.
    """
    interval = Interval(interval)
    if interval in _ROLLED_UP:
        daily = aggregate(trades, Interval.day, calendar, prev_close=prev_close)
        return roll_up(daily, interval, calendar)
    groups: dict[datetime, list[Trade]] = {}
    for trade in sorted(trades, key=lambda t: t.at):
        groups.setdefault(bucket_start(trade.at, interval, calendar), []).append(trade)
    bars: list[Bar] = []
    reference = prev_close
    for start, group in sorted(groups.items()):
        bar = _bar(start, group, reference, daily=interval is Interval.day)
        bars.append(bar)
        reference = bar.close
    return bars


def _bar(start: datetime, trades: list[Trade], reference: int | None, *, daily: bool) -> Bar:
    open_, high, low, close = _prices(trades, reference, daily=daily, start=start)
    volume = sum(t.quantity for t in trades)
    amount = sum(t.price * t.quantity for t in trades)
    return Bar(start, open_, high, low, close, volume, amount)


def _prices(
    trades: list[Trade], reference: int | None, *, daily: bool, start: datetime | date
) -> tuple[int, int, int, int]:
    """(open, high, low, close) of time-ordered `trades`: listed ones, else flat at `reference`."""
    listed = [(t.price, t.quantity) for t in trades if t.is_listed]
    if not listed:
        assert reference is not None, (
            f"bar at {start.isoformat()} has no listed trade and no price before it; "
            "pass prev_close"
        )
        return reference, reference, reference, reference
    prices = [price for price, _ in listed]
    close = vwap_close(listed, reference or 0) if daily else prices[-1]
    return prices[0], max(prices), min(prices), close


def daily_stats(trades: Iterable[Trade], prev_close: int) -> DailyStats:
    """The statistics of one trading day's `trades` (the caller passes that day's trades only)."""
    ordered = sorted(trades, key=lambda t: t.at)
    open_, high, low, close = _prices(ordered, prev_close, daily=True, start=date.min)
    blocks = [t for t in ordered if t.mode == Mode.block]
    return DailyStats(
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=sum(t.quantity for t in ordered),
        amount=sum(t.price * t.quantity for t in ordered),
        block_volume=sum(t.quantity for t in blocks),
        block_amount=sum(t.price * t.quantity for t in blocks),
    )


def roll_up(daily: Iterable[Bar], interval: Interval, calendar: TradingCalendar) -> list[Bar]:
    """Weekly or monthly bars from daily bars (each timed at its day's 00:00), oldest first.

    Open is the first day's open, close the last day's close, high and low the extremes, volume
    and amount the sums.
    """
    interval = Interval(interval)
    assert interval in _ROLLED_UP, f"roll_up builds 1w and 1M bars, not {interval}"
    groups: dict[datetime, list[Bar]] = {}
    for bar in sorted(daily, key=lambda b: b.time):
        groups.setdefault(bucket_start(bar.time, interval, calendar), []).append(bar)
    return [
        Bar(
            time=start,
            open=days[0].open,
            high=max(d.high for d in days),
            low=min(d.low for d in days),
            close=days[-1].close,
            volume=sum(d.volume for d in days),
            amount=sum(d.amount for d in days),
        )
        for start, days in sorted(groups.items())
    ]
