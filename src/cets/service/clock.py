"""Time is passed in, never read inside the domain: a clock is a port."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SettableClock:
    """A clock that stays where it is set (scenarios, tests)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at


def to_us(at: datetime) -> int:
    """Microseconds since the Unix epoch; `at` must be timezone-aware."""
    assert at.tzinfo is not None, "naive datetimes are ambiguous; attach a zone"
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, tz).replace(microsecond=us % 1_000_000)
