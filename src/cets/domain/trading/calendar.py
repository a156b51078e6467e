"""The trading calendar: which days are trading days, and when each mode may trade.

This module owns the venue's clock rules (DOMAIN.md, "Trading"): the exchange's time zone, the
trading days (weekends and a configured holiday list closed) and the sessions of each trading mode.
It reads no clock: every moment is passed in.

Rules and invariants:
    - Times are Asia/Shanghai local time. Every datetime passed in must be timezone-aware (a naive
      one is a programmer error: AssertionError); it is converted to Asia/Shanghai before it is
      judged, and every datetime returned is in Asia/Shanghai. Shanghai has kept UTC+8 without
      daylight saving since 1991, so local wall-clock arithmetic is exact.
    - A trading day is a Monday..Friday that is not a configured holiday.
    - Sessions (MEE trading rules, SEEE announcement of June 2021): listed agreement 09:30-11:30 and
      13:00-15:00; block agreement 13:00-15:00; both on trading days only. A session includes its
      start and excludes its end: 09:30:00 is in, 11:30:00 is out.
    - A one-way auction trades in the window its announcement names, so its sessions are not here:
      `sessions(Mode.auction)` is empty, and the session checks take the announced window instead
      (`window=(start, end)`, start inclusive, end exclusive). The announcement is where a window is
      checked against trading days; this module only asks whether a moment falls inside it.

Choices where the rules are silent (written down so they are found):
    - `trading_day_of` a moment on a closed day (weekend, holiday) is the next trading day: business
      that arrives while the market is closed counts towards the day the market next opens, as
      settlement banks and the registry do. A moment after 15:00 on a trading day stays that day.
    - `day_end` is 15:00 local, the end of the last session of any mode: day orders expire then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from cets.domain.errors import DomainError, RejectCode

if TYPE_CHECKING:
    from cets.domain.policy import Policy

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")

Session = tuple[time, time]
Window = tuple[datetime, datetime]


class Mode(StrEnum):
    """How a trade is made (DOMAIN.md): listed agreement, block agreement, one-way auction."""

    listed = "listed"
    block = "block"
    auction = "auction"


_MORNING: Final = (time(9, 30), time(11, 30))
_AFTERNOON: Final = (time(13, 0), time(15, 0))
_SESSIONS: Final[dict[Mode, tuple[Session, ...]]] = {
    Mode.listed: (_MORNING, _AFTERNOON),
    Mode.block: (_AFTERNOON,),
    Mode.auction: (),  # the announced window, see the module docstring
}
DAY_END: Final = time(15, 0)
_SATURDAY: Final = 5


def to_local(moment: datetime) -> datetime:
    """`moment` in Asia/Shanghai; `moment` must be timezone-aware."""
    assert moment.tzinfo is not None and moment.utcoffset() is not None, (
        f"datetime {moment.isoformat()} is naive; pass a timezone-aware datetime"
    )
    return moment.astimezone(SHANGHAI)


def local_datetime(day: date, at: time) -> datetime:
    """The Asia/Shanghai moment of wall-clock time `at` on `day`."""
    return datetime.combine(day, at, tzinfo=SHANGHAI)


def format_sessions(mode: Mode) -> str:
    """The sessions of `mode` as text: "09:30-11:30, 13:00-15:00"."""
    return ", ".join(f"{start:%H:%M}-{end:%H:%M}" for start, end in _SESSIONS[mode])


@dataclass(frozen=True, slots=True)
class TradingCalendar:
    """Trading days and sessions, with `holidays` (dates, not datetimes) closed."""

    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        assert isinstance(self.holidays, frozenset), "holidays must be a frozenset of dates"
        for holiday in self.holidays:
            assert type(holiday) is date, f"holiday {holiday!r} is not a date"

    @classmethod
    def from_iso(cls, holidays: Iterable[str]) -> TradingCalendar:
        """A calendar from ISO dates ("2024-10-01"), as configuration writes them."""
        return cls(frozenset(date.fromisoformat(text) for text in holidays))

    @classmethod
    def from_policy(cls, policy: Policy) -> TradingCalendar:
        return cls.from_iso(policy.holidays)

    # --- days ---------------------------------------------------------------------------------

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < _SATURDAY and day not in self.holidays

    def closed_because(self, day: date) -> str | None:
        """Why `day` is not a trading day ("a Saturday", "a holiday"), or None if it is one."""
        if day.weekday() >= _SATURDAY:
            return f"a {day:%A}"
        if day in self.holidays:
            return "a holiday"
        return None

    def next_trading_day(self, day: date) -> date:
        """The first trading day strictly after `day`."""
        return self._step(day, 1)

    def previous_trading_day(self, day: date) -> date:
        """The last trading day strictly before `day`."""
        return self._step(day, -1)

    def _step(self, day: date, direction: int) -> date:
        # Terminates: the holidays are finite, so some weekday beyond them is open.
        step = timedelta(days=direction)
        day += step
        while not self.is_trading_day(day):
            day += step
        return day

    def trading_day_of(self, local_dt: datetime) -> date:
        """The trading day of `local_dt`: its local date, or the next trading day if closed."""
        day = to_local(local_dt).date()
        return day if self.is_trading_day(day) else self.next_trading_day(day)

    def first_trading_day_from(self, day: date) -> date:
        """`day` if it is a trading day, else the next one."""
        return day if self.is_trading_day(day) else self.next_trading_day(day)

    # --- sessions -----------------------------------------------------------------------------

    def sessions(self, mode: Mode) -> tuple[Session, ...]:
        """The sessions of `mode` on a trading day, local times; empty for auctions (announced)."""
        return _SESSIONS[Mode(mode)]

    def in_session(self, local_dt: datetime, mode: Mode, *, window: Window | None = None) -> bool:
        """Whether `mode` may trade at `local_dt` (start inclusive, end exclusive)."""
        return self.session_end(local_dt, mode, window=window) is not None

    def session_end(
        self, local_dt: datetime, mode: Mode, *, window: Window | None = None
    ) -> datetime | None:
        """The end of the session of `mode` that contains `local_dt`; None outside every session."""
        moment = to_local(local_dt)
        if Mode(mode) is Mode.auction:
            assert window is not None, "an auction's session is its announced window; pass it"
            start, end = to_local(window[0]), to_local(window[1])
            assert start < end, f"auction window {start.isoformat()}..{end.isoformat()} is empty"
            return end if start <= moment < end else None
        assert window is None, f"a {mode} session is fixed; a window applies only to auctions"
        if not self.is_trading_day(moment.date()):
            return None
        now = moment.time()
        for opens, closes in _SESSIONS[Mode(mode)]:
            if opens <= now < closes:
                return local_datetime(moment.date(), closes)
        return None

    def check_session(
        self, local_dt: datetime, mode: Mode, *, window: Window | None = None
    ) -> None:
        """Raise `outside_trading_session`, naming the sessions, unless `mode` may trade now."""
        if self.in_session(local_dt, mode, window=window):
            return
        moment = to_local(local_dt)
        if Mode(mode) is Mode.auction:
            assert window is not None  # in_session asserted it
            start, end = to_local(window[0]), to_local(window[1])
            message = (
                f"{moment:%Y-%m-%d %H:%M:%S} is outside the auction window "
                f"{start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M} (Asia/Shanghai)"
            )
        else:
            closed = self.closed_because(moment.date())
            where = (
                f"{moment:%Y-%m-%d} is {closed}, not a trading day"
                if closed is not None
                else f"{moment:%Y-%m-%d %H:%M:%S} is outside the {mode} sessions"
            )
            message = (
                f"{where}; {mode} sessions are {format_sessions(Mode(mode))} "
                "on trading days (Asia/Shanghai)"
            )
        raise DomainError(RejectCode.outside_trading_session, message)

    def day_end(self, day: date) -> datetime:
        """15:00 Asia/Shanghai on `day`: the last session of every mode ends, day orders expire."""
        return local_datetime(day, DAY_END)
