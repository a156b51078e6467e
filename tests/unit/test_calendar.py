"""The trading calendar: trading days, sessions per mode and their edges, Asia/Shanghai time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cets.domain.errors import DomainError, RejectCode
from cets.domain.policy import Policy, PolicyError
from cets.domain.trading.calendar import SHANGHAI, Mode, TradingCalendar

# 2024-03-04 is a Monday; 2024-04-04 (Qingming) is configured as a holiday, a Thursday.
MONDAY = date(2024, 3, 4)
FRIDAY = date(2024, 3, 8)
SATURDAY = date(2024, 3, 9)
SUNDAY = date(2024, 3, 10)
QINGMING = date(2024, 4, 4)
CALENDAR = TradingCalendar(frozenset({QINGMING}))


def sh(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=SHANGHAI)


# --- trading days --------------------------------------------------------------------------


def test_weekdays_are_trading_days() -> None:
    assert all(CALENDAR.is_trading_day(MONDAY + timedelta(days=i)) for i in range(5))


def test_weekends_are_closed() -> None:
    assert not CALENDAR.is_trading_day(SATURDAY)
    assert not CALENDAR.is_trading_day(SUNDAY)


def test_a_configured_holiday_is_closed_and_the_same_weekday_without_it_is_open() -> None:
    assert not CALENDAR.is_trading_day(QINGMING)
    assert TradingCalendar().is_trading_day(QINGMING)


def test_the_next_trading_day_after_friday_is_monday() -> None:
    assert CALENDAR.next_trading_day(FRIDAY) == date(2024, 3, 11)
    assert CALENDAR.next_trading_day(SATURDAY) == date(2024, 3, 11)


def test_the_previous_trading_day_before_monday_is_friday() -> None:
    assert CALENDAR.previous_trading_day(date(2024, 3, 11)) == FRIDAY
    assert CALENDAR.previous_trading_day(SUNDAY) == FRIDAY


def test_next_and_previous_trading_days_skip_a_holiday() -> None:
    assert CALENDAR.next_trading_day(date(2024, 4, 3)) == date(2024, 4, 5)
    assert CALENDAR.previous_trading_day(date(2024, 4, 5)) == date(2024, 4, 3)


def test_a_holiday_next_to_a_weekend_makes_a_long_weekend() -> None:
    calendar = TradingCalendar(frozenset({date(2024, 4, 5)}))  # a Friday
    assert calendar.next_trading_day(date(2024, 4, 4)) == date(2024, 4, 8)
    assert calendar.previous_trading_day(date(2024, 4, 8)) == date(2024, 4, 4)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_the_next_trading_day_is_the_first_open_day_after(day: date) -> None:
    following = CALENDAR.next_trading_day(day)
    assert following > day
    assert CALENDAR.is_trading_day(following)
    between = [day + timedelta(days=i) for i in range(1, (following - day).days)]
    assert not any(CALENDAR.is_trading_day(d) for d in between)
    assert CALENDAR.previous_trading_day(following) <= day


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_the_previous_trading_day_is_the_last_open_day_before(day: date) -> None:
    before = CALENDAR.previous_trading_day(day)
    assert before < day
    assert CALENDAR.is_trading_day(before)
    between = [before + timedelta(days=i) for i in range(1, (day - before).days)]
    assert not any(CALENDAR.is_trading_day(d) for d in between)


def test_a_moment_on_a_trading_day_belongs_to_that_day_even_after_the_close() -> None:
    assert CALENDAR.trading_day_of(sh(MONDAY, 9, 0)) == MONDAY
    assert CALENDAR.trading_day_of(sh(MONDAY, 20, 0)) == MONDAY


def test_a_moment_on_a_closed_day_belongs_to_the_next_trading_day() -> None:
    assert CALENDAR.trading_day_of(sh(SATURDAY, 10, 0)) == date(2024, 3, 11)
    assert CALENDAR.trading_day_of(sh(QINGMING, 10, 0)) == date(2024, 4, 5)


def test_the_trading_day_is_the_shanghai_date_not_the_utc_date() -> None:
    # Sunday 20:00 UTC is Monday 04:00 in Shanghai.
    assert CALENDAR.trading_day_of(datetime(2024, 3, 3, 20, 0, tzinfo=UTC)) == MONDAY


def test_a_naive_datetime_is_a_programmer_error() -> None:
    with pytest.raises(AssertionError, match="naive"):
        CALENDAR.in_session(datetime(2024, 3, 4, 10, 0), Mode.listed)


def test_the_calendar_takes_its_holidays_from_the_policy() -> None:
    policy = Policy().with_overrides({"holidays": ["2024-10-01", date(2024, 10, 2)]})
    assert policy.holidays == ("2024-10-01", "2024-10-02")
    calendar = TradingCalendar.from_policy(policy)
    assert calendar.holidays == frozenset({date(2024, 10, 1), date(2024, 10, 2)})
    assert TradingCalendar.from_policy(Policy()).holidays == frozenset()


@pytest.mark.parametrize("bad", [["2024-13-01"], ["20241001"], "2024-10-01", [20241001]])
def test_a_holiday_that_is_not_an_iso_date_is_refused_naming_the_key(bad: object) -> None:
    with pytest.raises(PolicyError, match="holidays"):
        Policy().with_overrides({"holidays": bad})


# --- sessions ------------------------------------------------------------------------------


def test_the_sessions_of_each_mode() -> None:
    assert CALENDAR.sessions(Mode.listed) == ((time(9, 30), time(11, 30)), (time(13), time(15)))
    assert CALENDAR.sessions(Mode.block) == ((time(13), time(15)),)
    assert CALENDAR.sessions(Mode.auction) == ()


@pytest.mark.parametrize(
    ("hh", "mm", "ss", "listed", "block"),
    [
        (9, 29, 59, False, False),
        (9, 30, 0, True, False),
        (11, 29, 59, True, False),
        (11, 30, 0, False, False),
        (12, 59, 59, False, False),
        (13, 0, 0, True, True),
        (14, 59, 59, True, True),
        (15, 0, 0, False, False),
    ],
)
def test_a_session_includes_its_start_and_excludes_its_end(
    hh: int, mm: int, ss: int, listed: bool, block: bool
) -> None:
    moment = sh(MONDAY, hh, mm, ss)
    assert CALENDAR.in_session(moment, Mode.listed) is listed
    assert CALENDAR.in_session(moment, Mode.block) is block


@pytest.mark.parametrize("day", [SATURDAY, SUNDAY, QINGMING])
def test_there_is_no_session_on_a_closed_day(day: date) -> None:
    assert not CALENDAR.in_session(sh(day, 10, 0), Mode.listed)
    assert not CALENDAR.in_session(sh(day, 14, 0), Mode.block)


def test_a_utc_moment_is_judged_in_shanghai_time() -> None:
    assert CALENDAR.in_session(datetime(2024, 3, 4, 1, 30, tzinfo=UTC), Mode.listed)
    assert not CALENDAR.in_session(datetime(2024, 3, 4, 1, 29, tzinfo=UTC), Mode.listed)


def test_outside_the_session_the_refusal_names_the_sessions() -> None:
    with pytest.raises(DomainError) as refused:
        CALENDAR.check_session(sh(MONDAY, 9, 29, 59), Mode.listed)
    assert refused.value.code is RejectCode.outside_trading_session
    assert "09:29:59" in refused.value.message
    assert "09:30-11:30, 13:00-15:00" in refused.value.message


def test_a_block_order_in_the_morning_is_told_the_afternoon_session() -> None:
    with pytest.raises(DomainError) as refused:
        CALENDAR.check_session(sh(MONDAY, 10, 0), Mode.block)
    assert refused.value.code is RejectCode.outside_trading_session
    assert "block sessions are 13:00-15:00" in refused.value.message


@pytest.mark.parametrize(("day", "why"), [(SATURDAY, "a Saturday"), (QINGMING, "a holiday")])
def test_on_a_closed_day_the_refusal_says_why(day: date, why: str) -> None:
    with pytest.raises(DomainError) as refused:
        CALENDAR.check_session(sh(day, 10, 0), Mode.listed)
    assert refused.value.code is RejectCode.outside_trading_session
    assert f"{day.isoformat()} is {why}, not a trading day" in refused.value.message


def test_inside_the_session_the_check_passes() -> None:
    CALENDAR.check_session(sh(MONDAY, 9, 30), Mode.listed)
    CALENDAR.check_session(sh(MONDAY, 13, 0), Mode.block)


def test_an_auction_trades_in_its_announced_window_start_inclusive_end_exclusive() -> None:
    window = (sh(MONDAY, 10, 0), sh(MONDAY, 11, 0))
    assert not CALENDAR.in_session(sh(MONDAY, 9, 59, 59), Mode.auction, window=window)
    assert CALENDAR.in_session(sh(MONDAY, 10, 0), Mode.auction, window=window)
    assert CALENDAR.in_session(sh(MONDAY, 10, 59, 59), Mode.auction, window=window)
    assert not CALENDAR.in_session(sh(MONDAY, 11, 0), Mode.auction, window=window)
    assert CALENDAR.session_end(sh(MONDAY, 10, 30), Mode.auction, window=window) == window[1]
    with pytest.raises(DomainError, match=r"auction window 2024-03-04 10:00\.\.2024-03-04 11:00"):
        CALENDAR.check_session(sh(MONDAY, 11, 0), Mode.auction, window=window)


def test_an_auction_without_its_window_is_a_programmer_error() -> None:
    with pytest.raises(AssertionError, match="window"):
        CALENDAR.in_session(sh(MONDAY, 10, 0), Mode.auction)


def test_a_listed_session_refuses_a_window() -> None:
    with pytest.raises(AssertionError, match="window"):
        CALENDAR.in_session(
            sh(MONDAY, 10, 0), Mode.listed, window=(sh(MONDAY, 9, 0), sh(MONDAY, 16, 0))
        )


def test_the_session_end_is_the_end_of_the_session_holding_the_moment() -> None:
    assert CALENDAR.session_end(sh(MONDAY, 9, 30), Mode.listed) == sh(MONDAY, 11, 30)
    assert CALENDAR.session_end(sh(MONDAY, 13, 0), Mode.listed) == sh(MONDAY, 15, 0)
    assert CALENDAR.session_end(sh(MONDAY, 14, 0), Mode.block) == sh(MONDAY, 15, 0)


def test_there_is_no_session_end_outside_a_session() -> None:
    assert CALENDAR.session_end(sh(MONDAY, 12, 0), Mode.listed) is None
    assert CALENDAR.session_end(sh(MONDAY, 11, 30), Mode.listed) is None
    assert CALENDAR.session_end(sh(MONDAY, 10, 0), Mode.block) is None
    assert CALENDAR.session_end(sh(SATURDAY, 10, 0), Mode.listed) is None


def test_the_day_ends_at_three_in_the_afternoon_shanghai_time() -> None:
    end = CALENDAR.day_end(MONDAY)
    assert end == sh(MONDAY, 15, 0)
    assert end.utcoffset() == timedelta(hours=8)
    assert end == datetime(2024, 3, 4, 7, 0, tzinfo=UTC)
