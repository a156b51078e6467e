"""How the detectors' explanations word their figures: counts, times of day, lists of ids.
Shared so that every alert reads the same way."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

from cets.domain.trading.calendar import SHANGHAI

IDS_TOLD: Final = 5  # ids named in an explanation (all of them are in the alert's evidence)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def count(n: int, noun: str) -> str:
    """`1 trade`, `3 trades`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def times(n: int) -> str:
    """`once`, `3 times`."""
    return "once" if n == 1 else f"{n} times"


def unique(ids: Iterable[str]) -> tuple[str, ...]:
    """The non-empty ids, each once, in the order first seen."""
    return tuple(dict.fromkeys(i for i in ids if i))


def ids_told(ids: list[str]) -> str:
    """The first `IDS_TOLD` ids, and how many more."""
    told = ", ".join(ids[:IDS_TOLD])
    return told if len(ids) <= IDS_TOLD else f"{told} and {len(ids) - IDS_TOLD} more"


def clock(at_us: int) -> str:
    """The Asia/Shanghai time of day, `09:31`."""
    return (_EPOCH + timedelta(microseconds=at_us)).astimezone(SHANGHAI).strftime("%H:%M")


def span(first_us: int, last_us: int) -> str:
    """`at 09:31`, or `between 09:31 and 10:02`."""
    first, last = clock(first_us), clock(last_us)
    return f"at {first}" if first == last else f"between {first} and {last}"
