"""Daily bars in the database: write a batch (insert new days, update changed ones) and read them.

A bar is keyed by (instrument, day); writing the same bar again changes nothing, so an import can
be repeated. `write_bars` runs inside the caller's transaction (one import = one transaction: all
or nothing) and compares with what is stored, so it can say how many bars were new, changed or
already there. Invariants (also CHECKs in the schema): close > 0; volumes and amounts >= 0;
open/high/low all present or all absent, and when present low <= open, close <= high.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from datetime import date

from sqlalchemy import Connection, and_, bindparam, func, select, update

from cets.adapters.sql import tables as t


@dataclass(frozen=True, slots=True)
class DailyBar:
    """One instrument's trading day. Prices fen per tonne, volumes tonnes, amounts fen."""

    instrument: str
    day: date
    open_fen: int | None
    high_fen: int | None
    low_fen: int | None
    close_fen: int
    volume_t: int
    amount_fen: int
    block_volume_t: int = 0
    block_amount_fen: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        ohlc = (self.open_fen, self.high_fen, self.low_fen)
        assert self.close_fen > 0, f"close {self.close_fen} fen, was expected > 0"
        assert min(self.volume_t, self.amount_fen, self.block_volume_t, self.block_amount_fen) >= 0
        if any(v is not None for v in ohlc):
            assert self.open_fen is not None and self.high_fen is not None
            assert self.low_fen is not None, "open/high/low: all or none"
            assert 0 < self.low_fen <= min(self.open_fen, self.close_fen), self
            assert max(self.open_fen, self.close_fen) <= self.high_fen, self

    def candle(self) -> tuple[int, int, int, int]:
        """(open, high, low, close); a day published without a range is flat at its close."""
        if self.open_fen is None or self.high_fen is None or self.low_fen is None:
            return self.close_fen, self.close_fen, self.close_fen, self.close_fen
        return self.open_fen, self.high_fen, self.low_fen, self.close_fen


@dataclass(frozen=True, slots=True)
class WriteCounts:
    new: int
    updated: int
    unchanged: int


# Columns in the order of DailyBar's fields: `DailyBar(*row)`.
BAR_FIELDS = tuple(
    t.daily_bars.c[name]
    for name in (
        "instrument",
        "day",
        "open_fen",
        "high_fen",
        "low_fen",
        "close_fen",
        "volume_t",
        "amount_fen",
        "block_volume_t",
        "block_amount_fen",
        "source",
    )
)
_NAMES = tuple(c.name for c in BAR_FIELDS)


def write_bars(conn: Connection, bars: Sequence[DailyBar]) -> WriteCounts:
    """Insert the bars whose (instrument, day) is new, update those that differ, in `conn`'s
    transaction. The caller commits (and on SQLite opens it as a writer, so nobody writes
    between the read and the write)."""
    keys = [(b.instrument, b.day) for b in bars]
    assert len(set(keys)) == len(keys), "one bar per instrument and day"
    stored = _stored(conn, bars)
    new = [b for b in bars if (b.instrument, b.day) not in stored]
    changed = [b for b in bars if stored.get((b.instrument, b.day), b) != b]
    if new:
        rows = [dict(zip(_NAMES, astuple(b), strict=True)) for b in new]
        conn.execute(t.daily_bars.insert(), rows)
    if changed:
        bar = t.daily_bars.c
        stmt = (
            update(t.daily_bars)
            .where(and_(bar.instrument == bindparam("k_instrument"), bar.day == bindparam("k_day")))
            .values({name: bindparam(name) for name in _NAMES[2:]})
        )
        conn.execute(
            stmt,
            [
                {"k_instrument": b.instrument, "k_day": b.day}
                | dict(zip(_NAMES[2:], astuple(b)[2:], strict=True))
                for b in changed
            ],
        )
    return WriteCounts(len(new), len(changed), len(bars) - len(new) - len(changed))


def _stored(conn: Connection, bars: Iterable[DailyBar]) -> dict[tuple[str, date], DailyBar]:
    """The stored bars over the days the batch spans, per instrument (one query each)."""
    spans: dict[str, tuple[date, date]] = {}
    for b in bars:
        first, last = spans.get(b.instrument, (b.day, b.day))
        spans[b.instrument] = (min(first, b.day), max(last, b.day))
    found: dict[tuple[str, date], DailyBar] = {}
    for instrument, (first, last) in spans.items():
        for bar in read_bars(conn, instrument, first, last):
            found[bar.instrument, bar.day] = bar
    return found


def read_bars(
    conn: Connection, instrument: str, start: date | None = None, end: date | None = None
) -> list[DailyBar]:
    """The instrument's bars from `start` to `end` (both included, either open), oldest first."""
    bar = t.daily_bars.c
    stmt = select(*BAR_FIELDS).where(bar.instrument == instrument).order_by(bar.day)
    if start is not None:
        stmt = stmt.where(bar.day >= start)
    if end is not None:
        stmt = stmt.where(bar.day <= end)
    return [DailyBar(*row) for row in conn.execute(stmt)]


def instruments(conn: Connection) -> list[tuple[str, int, date, date]]:
    """Every instrument with bars: (instrument, number of bars, first day, last day)."""
    bar = t.daily_bars.c
    stmt = (
        select(bar.instrument, func.count(), func.min(bar.day), func.max(bar.day))
        .group_by(bar.instrument)
        .order_by(bar.instrument)
    )
    return [(row[0], row[1], row[2], row[3]) for row in conn.execute(stmt)]
