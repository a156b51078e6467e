"""Large-holder reports (DOMAIN.md, "Supervision": limits; the issue's "large-holder reports
generated when a holder crosses the reporting threshold, with the holder's position history").

A holder's position in an asset is the units its holding account has posted (the registry's
record: units it holds, frozen and pledged ones included; units bought today count once they
are delivered at the day's end). Its reporting threshold is `large_holder_pct`% of its position
limit (`Policy.position_limit`: a key emitter's allocation of that vintage plus
`key_emitter_extra_t`, anyone else `other_t`), rounded up to the tonne.

A crossing is a movement of the account that takes the position from under the threshold to at
or above it. Every crossing makes one report (and one `large_holder` alert): a holder who falls
back under the threshold and crosses it again is reported again. The report keeps the crossing
(the transfer, when, the position before and after) and the holder's position history: its
position at the end of each day it moved, up to the crossing.

Movements are given newest first (how the ledger walks an account's chain of transfers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from cets.domain.supervision.alerts import Alert, AlertType, Severity
from cets.domain.supervision.wording import clock


@dataclass(frozen=True, slots=True)
class Movement:
    """One change of a holder's posted units of an asset."""

    ordinal: int  # the transfer's place in the ledger
    transfer: str
    code: str  # the transfer's reason: trade delivery, allocate, transfer, ...
    at_us: int
    day: date
    change: int


@dataclass(frozen=True, slots=True)
class Crossing:
    movement: Movement
    before: int
    after: int


@dataclass(frozen=True, slots=True)
class DayPosition:
    day: date
    position: int  # at the day's end
    change: int  # the day's net change


def reporting_threshold(limit_t: int, pct: int) -> int:
    """`pct`% of the limit, rounded up to the tonne; at least 1 t."""
    return max(1, -(-limit_t * pct // 100))


def crossings(
    position_now: int, newest_first: Iterable[Movement], threshold: int
) -> list[Crossing]:
    """Every upward crossing of `threshold` among the movements given (newest first), oldest
    first. The position after the newest movement is `position_now`."""
    found = []
    after = position_now
    for m in newest_first:
        before = after - m.change
        if before < threshold <= after:
            found.append(Crossing(m, before, after))
        after = before
    found.reverse()
    return found


def daily_history(position_after: int, newest_first: Iterable[Movement]) -> list[DayPosition]:
    """The position at the end of each day with a movement, oldest first; `position_after` is
    the position after the newest movement given."""
    days: dict[date, list[int]] = {}  # day -> [position at its end, net change]
    position = position_after
    for m in newest_first:
        entry = days.setdefault(m.day, [position, 0])
        entry[1] += m.change
        position -= m.change
    return [DayPosition(d, end, change) for d, (end, change) in reversed(days.items())]


def large_holder_alert(
    holder: str,
    asset: str,
    crossing: Crossing,
    threshold: int,
    limit_t: int,
    trades: Sequence[str],
) -> Alert:
    """The `large_holder` alert of a crossing; `trades` are the holder's trades of the asset
    delivered by the crossing movement (empty when an allocation or a transfer crossed)."""
    m = crossing.movement
    share = crossing.after * 100 // limit_t if limit_t else 0
    severity = Severity.high if crossing.after > limit_t else Severity.medium
    if crossing.after * 100 < 90 * limit_t:
        severity = Severity.low
    how = f"{m.code} {m.transfer}"
    return Alert(
        type=AlertType.large_holder,
        severity=severity,
        key=f"large_holder:{asset}:{m.day.isoformat()}:{holder}:{m.ordinal}",
        instrument=asset,
        accounts=(holder,),
        orders=(),
        trades=tuple(trades),
        explanation=(
            f"{holder} now holds {crossing.after:,} t of {asset} ({share}% of its position "
            f"limit of {limit_t:,} t), at or above the large-holder reporting threshold of "
            f"{threshold:,} t; it held {crossing.before:,} t before {how} on "
            f"{m.day.isoformat()} at {clock(m.at_us)}"
        ),
    )
