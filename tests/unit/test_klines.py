"""K-lines: bars aligned to the Asia/Shanghai trading day, and the day's statistics."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cets.domain.marketdata.klines import (
    Bar,
    DailyStats,
    Interval,
    Trade,
    aggregate,
    bar_length,
    bucket_start,
    daily_stats,
    day_label,
    is_intraday,
    roll_up,
)
from cets.domain.trading.calendar import SHANGHAI, Mode, TradingCalendar

# 2024-03-04 is a Monday. 2024-04-01 (a Monday) and the Labour Day days are configured holidays.
MONDAY = date(2024, 3, 4)
TUESDAY = date(2024, 3, 5)
HOLIDAYS = frozenset({date(2024, 4, 1), date(2024, 5, 1), date(2024, 5, 2), date(2024, 5, 3)})
CALENDAR = TradingCalendar(HOLIDAYS)
INTRADAY = [i for i in Interval if is_intraday(i)]


def sh(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=SHANGHAI)


def listed(at: datetime, price: int, quantity: int) -> Trade:
    return Trade(at, price, quantity, Mode.listed)


def block(at: datetime, price: int, quantity: int) -> Trade:
    return Trade(at, price, quantity, Mode.block)


# --- intraday alignment --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "moment", "start"),
    [
        (Interval.hour, (9, 30, 0), (9, 30)),
        (Interval.hour, (10, 29, 59), (9, 30)),
        (Interval.hour, (10, 30, 0), (10, 30)),
        (Interval.hour, (11, 29, 59), (10, 30)),
        (Interval.hour, (13, 0, 0), (13, 0)),
        (Interval.hour, (14, 0, 0), (14, 0)),
        (Interval.hour, (14, 59, 59), (14, 0)),
        (Interval.thirty_minutes, (11, 15, 0), (11, 0)),
        (Interval.thirty_minutes, (13, 10, 0), (13, 0)),
        (Interval.fifteen_minutes, (9, 44, 59), (9, 30)),
        (Interval.fifteen_minutes, (9, 45, 0), (9, 45)),
        (Interval.five_minutes, (14, 57, 30), (14, 55)),
        (Interval.minute, (9, 30, 59), (9, 30)),
        (Interval.minute, (13, 1, 0), (13, 1)),
    ],
)
def test_intraday_bars_count_from_the_session_starts(
    interval: Interval, moment: tuple[int, int, int], start: tuple[int, int]
) -> None:
    assert bucket_start(sh(MONDAY, *moment), interval, CALENDAR) == sh(MONDAY, *start)


def test_hourly_bars_are_the_four_session_hours() -> None:
    starts = {
        bucket_start(sh(MONDAY, 9, 30) + timedelta(minutes=m), Interval.hour, CALENDAR)
        for m in range(6 * 60)
    }
    assert sorted(starts) == [sh(MONDAY, 9, 30), sh(MONDAY, 10, 30), sh(MONDAY, 13), sh(MONDAY, 14)]


def test_a_moment_before_the_open_falls_in_the_first_bar() -> None:
    assert bucket_start(sh(MONDAY, 9, 25), Interval.hour, CALENDAR) == sh(MONDAY, 9, 30)


def test_a_moment_in_the_lunch_break_falls_in_the_last_morning_bar() -> None:
    assert bucket_start(sh(MONDAY, 12, 0), Interval.hour, CALENDAR) == sh(MONDAY, 10, 30)
    assert bucket_start(sh(MONDAY, 11, 30), Interval.minute, CALENDAR) == sh(MONDAY, 11, 29)


def test_a_moment_after_the_close_falls_in_the_last_bar_of_its_day() -> None:
    assert bucket_start(sh(MONDAY, 15, 30), Interval.hour, CALENDAR) == sh(MONDAY, 14, 0)
    assert bucket_start(sh(MONDAY, 15, 0), Interval.five_minutes, CALENDAR) == sh(MONDAY, 14, 55)


def test_a_moment_on_a_closed_day_falls_in_the_first_bar_of_the_next_trading_day() -> None:
    saturday = date(2024, 3, 9)
    assert bucket_start(sh(saturday, 10, 0), Interval.hour, CALENDAR) == sh(
        date(2024, 3, 11), 9, 30
    )


def test_bars_are_aligned_in_shanghai_time_whatever_the_zone_given() -> None:
    moment = datetime(2024, 3, 4, 2, 45, tzinfo=UTC)  # 10:45 in Shanghai
    assert bucket_start(moment, Interval.hour, CALENDAR) == sh(MONDAY, 10, 30)


SESSION_SECONDS = 4 * 3600
session_moments = st.builds(
    lambda day, second: (
        sh(day, 9, 30) + timedelta(seconds=second)
        if second < 2 * 3600
        else sh(day, 13, 0) + timedelta(seconds=second - 2 * 3600)
    ),
    st.dates(min_value=date(2024, 1, 1), max_value=date(2024, 12, 31)).filter(
        CALENDAR.is_trading_day
    ),
    st.integers(min_value=0, max_value=SESSION_SECONDS - 1),
)


@given(moment=session_moments, interval=st.sampled_from(INTRADAY))
def test_an_intraday_bar_holds_its_moment_and_never_spans_the_lunch_break(
    moment: datetime, interval: Interval
) -> None:
    start = bucket_start(moment, interval, CALENDAR)
    end = start + bar_length(interval)
    assert start <= moment < end
    session_end = CALENDAR.session_end(moment, Mode.listed)
    assert session_end is not None
    assert end <= session_end
    assert CALENDAR.in_session(start, Mode.listed)


# --- day, week and month labels ------------------------------------------------------------


def test_a_daily_bar_is_timed_at_midnight_of_its_trading_day() -> None:
    assert bucket_start(sh(MONDAY, 14, 59), Interval.day, CALENDAR) == sh(MONDAY, 0, 0)


def test_a_week_starts_on_monday() -> None:
    friday = date(2024, 3, 8)
    assert bucket_start(sh(friday, 10, 0), Interval.week, CALENDAR) == sh(MONDAY, 0, 0)


def test_a_week_whose_monday_is_a_holiday_is_labelled_by_its_tuesday() -> None:
    wednesday = date(2024, 4, 3)
    assert bucket_start(sh(wednesday, 10, 0), Interval.week, CALENDAR) == sh(date(2024, 4, 2), 0, 0)


def test_a_month_is_labelled_by_its_first_trading_day() -> None:
    # 2024-03-01 is a Friday; 2024-06-01 a Saturday; 2024-05-01..03 are holidays.
    assert bucket_start(sh(MONDAY, 10, 0), Interval.month, CALENDAR) == sh(date(2024, 3, 1), 0, 0)
    june = sh(date(2024, 6, 20), 10, 0)
    assert bucket_start(june, Interval.month, CALENDAR) == sh(date(2024, 6, 3), 0, 0)
    may = sh(date(2024, 5, 20), 10, 0)
    assert bucket_start(may, Interval.month, CALENDAR) == sh(date(2024, 5, 6), 0, 0)


def test_interval_values_are_the_api_spellings() -> None:
    assert [i.value for i in Interval] == ["1m", "5m", "15m", "30m", "1h", "1d", "1w", "1M"]
    assert Interval("1M") is Interval.month
    assert Interval("1m") is Interval.minute


# --- aggregate -----------------------------------------------------------------------------

# Monday: two morning trades, a block trade and a listed one in the afternoon; Tuesday: one
# trade; the next Monday (another week) one trade; April (another month) one trade.
TRADES = [
    listed(sh(MONDAY, 9, 31), 6000, 100),
    listed(sh(MONDAY, 10, 45), 6100, 300),
    block(sh(MONDAY, 13, 5), 5000, 100_000),
    listed(sh(MONDAY, 14, 30), 5900, 200),
    listed(sh(TUESDAY, 9, 40), 6050, 1600),
    listed(sh(date(2024, 3, 11), 11, 0), 6200, 10),
    listed(sh(date(2024, 4, 2), 10, 0), 6300, 10),
]


@pytest.mark.parametrize(
    ("interval", "count"),
    [
        (Interval.minute, 7),
        (Interval.hour, 7),
        (Interval.day, 4),
        (Interval.week, 3),
        (Interval.month, 2),
    ],
)
def test_a_multi_day_trade_list_makes_one_bar_per_period_with_trades(
    interval: Interval, count: int
) -> None:
    bars = aggregate(TRADES, interval, CALENDAR)
    assert len(bars) == count
    assert [b.time for b in bars] == sorted({b.time for b in bars})


def test_hourly_bars_of_a_day_keep_morning_and_afternoon_apart() -> None:
    bars = aggregate(TRADES[:4], Interval.hour, CALENDAR)
    assert [b.time for b in bars] == [
        sh(MONDAY, 9, 30),
        sh(MONDAY, 10, 30),
        sh(MONDAY, 13, 0),
        sh(MONDAY, 14, 0),
    ]


def test_block_trades_count_in_volume_and_amount_but_do_not_set_prices() -> None:
    day = aggregate(TRADES[:4], Interval.day, CALENDAR)
    assert day == [
        Bar(
            time=sh(MONDAY, 0, 0),
            open=6000,
            high=6100,
            low=5900,  # not the block trade's 50.00
            close=6017,  # VWAP of listed: (600000 + 1830000 + 1180000) / 600 = 6016.67
            volume=100_600,
            amount=600_000 + 1_830_000 + 500_000_000 + 1_180_000,
        )
    ]


def test_an_intraday_bar_closes_at_its_last_listed_trade() -> None:
    trades = [listed(sh(MONDAY, 9, 31), 6000, 100), listed(sh(MONDAY, 9, 59), 6100, 1)]
    (bar,) = aggregate(trades, Interval.hour, CALENDAR)
    assert (bar.open, bar.high, bar.low, bar.close) == (6000, 6100, 6000, 6100)


def test_a_bar_with_only_block_trades_is_flat_at_the_close_before_it() -> None:
    bars = aggregate(TRADES[:4], Interval.hour, CALENDAR)
    assert bars[2] == Bar(sh(MONDAY, 13, 0), 6100, 6100, 6100, 6100, 100_000, 500_000_000)


def test_a_first_bar_with_only_block_trades_is_flat_at_the_previous_close() -> None:
    (bar,) = aggregate(
        [block(sh(MONDAY, 13, 5), 5000, 100_000)], Interval.hour, CALENDAR, prev_close=6000
    )
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (6000, 6000, 6000, 6000, 100_000)


def test_a_bar_with_no_price_at_all_is_a_programmer_error() -> None:
    with pytest.raises(AssertionError, match="pass prev_close"):
        aggregate([block(sh(MONDAY, 13, 5), 5000, 100_000)], Interval.hour, CALENDAR)


def test_trades_are_ordered_by_time_before_the_open_and_close_are_taken() -> None:
    trades = [listed(sh(MONDAY, 9, 59), 6100, 1), listed(sh(MONDAY, 9, 31), 6000, 100)]
    (bar,) = aggregate(trades, Interval.hour, CALENDAR)
    assert (bar.open, bar.close) == (6000, 6100)


def test_weekly_and_monthly_bars_are_labelled_by_their_first_trading_day() -> None:
    weeks = aggregate(TRADES, Interval.week, CALENDAR)
    assert [w.time for w in weeks] == [
        sh(MONDAY, 0, 0),
        sh(date(2024, 3, 11), 0, 0),
        sh(date(2024, 4, 2), 0, 0),
    ]
    months = aggregate(TRADES, Interval.month, CALENDAR)
    assert [m.time for m in months] == [sh(date(2024, 3, 1), 0, 0), sh(date(2024, 4, 2), 0, 0)]


def test_a_week_opens_with_its_first_day_and_closes_with_its_last() -> None:
    (week, *_) = aggregate(TRADES, Interval.week, CALENDAR)
    assert week == Bar(
        time=sh(MONDAY, 0, 0),
        open=6000,
        high=6100,
        low=5900,
        close=6050,  # Tuesday's close
        volume=100_600 + 1600,
        amount=600_000 + 1_830_000 + 500_000_000 + 1_180_000 + 9_680_000,
    )


def test_roll_up_builds_weeks_and_months_from_daily_bars_only() -> None:
    daily = aggregate(TRADES, Interval.day, CALENDAR)
    assert roll_up(daily, Interval.week, CALENDAR) == aggregate(TRADES, Interval.week, CALENDAR)
    with pytest.raises(AssertionError, match="1w and 1M"):
        roll_up(daily, Interval.day, CALENDAR)


# --- daily statistics (SCENARIOS.md, outcome `market`) --------------------------------------


def test_the_daily_statistics_of_the_scenario_example() -> None:
    stats = daily_stats([listed(sh(MONDAY, 9, 31), 6000, 600)], prev_close=6000)
    assert stats == DailyStats(
        open=6000,
        high=6000,
        low=6000,
        close=6000,
        volume=600,
        amount=3_600_000,
        block_volume=0,
        block_amount=0,
    )


def test_daily_statistics_report_block_trades_apart_and_within_the_volume() -> None:
    stats = daily_stats(TRADES[:4], prev_close=6000)
    assert (stats.open, stats.high, stats.low, stats.close) == (6000, 6100, 5900, 6017)
    assert (stats.volume, stats.block_volume) == (100_600, 100_000)
    assert (stats.amount, stats.block_amount) == (503_610_000, 500_000_000)


def test_the_daily_close_is_the_vwap_rounded_half_up() -> None:
    trades = [listed(sh(MONDAY, 9, 31), 6000, 1), listed(sh(MONDAY, 9, 32), 6001, 1)]
    assert daily_stats(trades, prev_close=5000).close == 6001  # 60.005 -> 60.01


def test_a_day_without_trades_is_flat_at_the_previous_close() -> None:
    assert daily_stats([], prev_close=6000) == DailyStats(6000, 6000, 6000, 6000, 0, 0, 0, 0)


def test_a_day_with_only_block_trades_keeps_the_previous_close() -> None:
    stats = daily_stats([block(sh(MONDAY, 13, 5), 5000, 100_000)], prev_close=6000)
    assert (stats.open, stats.high, stats.low, stats.close) == (6000, 6000, 6000, 6000)
    assert (stats.volume, stats.block_volume) == (100_000, 100_000)


def test_auction_trades_count_in_the_volume_but_not_in_prices_or_block_figures() -> None:
    stats = daily_stats([Trade(sh(MONDAY, 10, 0), 7000, 5000, Mode.auction)], prev_close=6000)
    assert (stats.close, stats.volume, stats.amount, stats.block_volume) == (
        6000,
        5000,
        35_000_000,
        0,
    )


def test_daily_statistics_agree_with_the_daily_bar() -> None:
    day_trades = TRADES[:4]
    stats = daily_stats(day_trades, prev_close=6000)
    assert stats.bar(MONDAY) == aggregate(day_trades, Interval.day, CALENDAR, prev_close=6000)[0]
    assert day_label(MONDAY) == sh(MONDAY, 0, 0)


def test_a_trade_refuses_a_naive_time_or_an_unknown_mode() -> None:
    with pytest.raises(AssertionError, match="naive"):
        Trade(datetime(2024, 3, 4, 10, 0), 6000, 1, Mode.listed)
    with pytest.raises(AssertionError, match="mode"):
        Trade(sh(MONDAY, 10, 0), 6000, 1, "otc")


# --- properties ----------------------------------------------------------------------------

trades_lists = st.lists(
    st.builds(
        Trade,
        at=session_moments,
        price=st.integers(min_value=1, max_value=100_000),
        quantity=st.integers(min_value=1, max_value=200_000),
        mode=st.sampled_from([Mode.listed, Mode.listed, Mode.block, Mode.auction]),
    ),
    max_size=40,
)


@given(trades=trades_lists, interval=st.sampled_from(list(Interval)))
def test_bars_keep_every_tonne_and_fen_and_their_prices_are_ordered(
    trades: list[Trade], interval: Interval
) -> None:
    bars = aggregate(trades, interval, CALENDAR, prev_close=6000)
    assert sum(b.volume for b in bars) == sum(t.quantity for t in trades)
    assert sum(b.amount for b in bars) == sum(t.price * t.quantity for t in trades)
    times = [b.time for b in bars]
    assert times == sorted(set(times))
    for bar in bars:
        assert bar.low <= min(bar.open, bar.close)
        assert bar.high >= max(bar.open, bar.close)


@given(trades=trades_lists, interval=st.sampled_from(list(Interval)))
def test_every_trade_lies_in_a_bar_that_starts_at_its_bucket(
    trades: list[Trade], interval: Interval
) -> None:
    starts = {b.time for b in aggregate(trades, interval, CALENDAR, prev_close=6000)}
    assert starts == {bucket_start(t.at, interval, CALENDAR) for t in trades}


@given(trades=trades_lists, interval=st.sampled_from([Interval.week, Interval.month]))
def test_weeks_and_months_are_the_roll_up_of_the_days(
    trades: list[Trade], interval: Interval
) -> None:
    daily = aggregate(trades, Interval.day, CALENDAR, prev_close=6000)
    rolled = roll_up(daily, interval, CALENDAR)
    assert rolled == aggregate(trades, interval, CALENDAR, prev_close=6000)
    assert [b.time.date() for b in rolled] == [
        CALENDAR.first_trading_day_from(b.time.date()) for b in rolled
    ]


@given(trades=trades_lists)
def test_only_listed_trades_set_the_prices_of_a_bar(trades: list[Trade]) -> None:
    for bar in aggregate(trades, Interval.minute, CALENDAR, prev_close=6000):
        inside = [t for t in trades if bucket_start(t.at, Interval.minute, CALENDAR) == bar.time]
        prices = [t.price for t in inside if t.mode == Mode.listed]
        if prices:
            assert (bar.high, bar.low) == (max(prices), min(prices))
        else:
            assert bar.high == bar.low == bar.open == bar.close
