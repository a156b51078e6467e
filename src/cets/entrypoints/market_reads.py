"""Market data as the API and the console show it (one definition for both adapters).

K-lines of 1d, 1w and 1M come from the stored daily bars (the engine's own days and imported
history alike; a close-only day is drawn flat at its close), and for the days not closed yet
(today, while it trades) from their trades, rolled up by trading calendar;
intraday K-lines (1m .. 1h) are aggregated from the trades themselves. Daily and longer bars are
labelled by their day, intraday bars by their local start."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from cets.adapters.sql.store import SqlStore
from cets.domain.marketdata.klines import Bar, Interval, aggregate, roll_up
from cets.domain.marketdata.klines import Trade as MarketTrade
from cets.domain.trading.calendar import TradingCalendar, local_datetime
from cets.service.clock import from_us

DAILY = (Interval.day, Interval.week, Interval.month)


def bars(
    store: SqlStore,
    calendar: TradingCalendar,
    instrument: str,
    interval: Interval,
    start: date,
    end: date,
) -> list[Bar]:
    """The K-lines of `instrument` at `interval` for the trading days `start`..`end`."""
    if interval in DAILY:
        stored = store.daily_bars(instrument)
        daily = [
            Bar(
                local_datetime(b.day, time()),
                b.open_fen or b.close_fen,
                b.high_fen or b.close_fen,
                b.low_fen or b.close_fen,
                b.close_fen,
                b.volume_t,
                b.amount_fen,
            )
            for b in stored
            if start <= b.day <= end
        ]
        # The days after the last closed one, from their trades: today's bar while it trades.
        since = stored[-1].day + timedelta(days=1) if stored else date.min
        if since <= end:
            daily += _from_trades(store, calendar, instrument, Interval.day, since, end)
        return daily if interval == Interval.day else roll_up(daily, interval, calendar)
    return _from_trades(store, calendar, instrument, interval, start, end)


def _from_trades(
    store: SqlStore,
    calendar: TradingCalendar,
    instrument: str,
    interval: Interval,
    start: date,
    end: date,
) -> list[Bar]:
    """Bars of `interval` aggregated from the instrument's trades of the days `start`..`end`."""
    trades = [
        MarketTrade(from_us(t.at_us), t.price, t.quantity, t.mode)
        for t in store.venue_trades(instrument=instrument, since=start, until=end)
    ]
    prev_close = store.venue_instruments().get(instrument, (None, False))[0]
    return aggregate(trades, interval, calendar, prev_close=prev_close) if trades else []


def bar_label(at: datetime, interval: Interval) -> str:
    """Daily and longer bars are labelled by their day; intraday bars by their local start."""
    if interval in DAILY:
        return at.date().isoformat()
    return at.isoformat()
