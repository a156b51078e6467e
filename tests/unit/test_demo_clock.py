"""The demo's clock: real speed through the trading sessions only, the close's two minutes,
then the next trading day's opening; a start outside the sessions moves to the next one."""

from __future__ import annotations

from datetime import date, datetime, time

from cets.domain.trading.calendar import TradingCalendar, local_datetime
from cets.sim.live import DemoClock


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.s = 1000.0

    def __call__(self) -> float:
        return self.s


CALENDAR = TradingCalendar.from_iso(["2026-01-01"])


def at(day: str, hh: int, mm: int, ss: int = 0) -> datetime:
    return local_datetime(date.fromisoformat(day), time(hh, mm, ss))


def test_it_runs_at_real_speed_inside_a_session() -> None:
    ticks = Ticks()
    clock = DemoClock(at("2026-01-05", 10, 0), CALENDAR, monotonic=ticks)
    assert clock.now() == at("2026-01-05", 10, 0)
    ticks.s += 95
    assert clock.now() == at("2026-01-05", 10, 1, 35)


def test_it_skips_the_lunch_break_and_the_night_but_keeps_two_minutes_for_the_close() -> None:
    ticks = Ticks()
    clock = DemoClock(at("2026-01-09", 11, 29), CALENDAR, monotonic=ticks)  # a Friday
    ticks.s += 60
    assert clock.now() == at("2026-01-09", 13, 0)
    ticks.s += 2 * 3600 + 60  # to 15:01: the day closer's window
    assert clock.now() == at("2026-01-09", 15, 1)
    ticks.s += 60  # past 15:02: the weekend is skipped too
    assert clock.now() == at("2026-01-12", 9, 30)


def test_a_start_outside_the_sessions_moves_to_the_next_opening() -> None:
    assert DemoClock(at("2025-12-31", 15, 30), CALENDAR, monotonic=Ticks()).now() == at(
        "2026-01-02", 9, 30
    )  # 2026-01-01 is a holiday
    assert DemoClock(at("2026-01-05", 12, 0), CALENDAR, monotonic=Ticks()).now() == at(
        "2026-01-05", 13, 0
    )
    assert DemoClock(at("2026-01-05", 8, 0), CALENDAR, speed=60, monotonic=Ticks()).now() == at(
        "2026-01-05", 9, 30
    )


def test_speed_multiplies_the_elapsed_time() -> None:
    ticks = Ticks()
    clock = DemoClock(at("2026-01-05", 9, 30), CALENDAR, speed=60, monotonic=ticks)
    ticks.s += 60
    assert clock.now() == at("2026-01-05", 10, 30)
