"""Compliance status per entity and period (DOMAIN.md, "Allocation and compliance").

Evaluated in this order, first match wins:
- NOT_APPLICABLE: none of the years the status covers is a year the entity operated in (its
  first and last year of operation, when known, bound them);
- EXCLUDED: every operating year the status covers was excluded by the authority;
- C: verified emissions of an operating, not excluded year are not entered (for a cumulative
  period, of the status's own year: earlier years have statuses of their own);
- B: surrendered < obligation;
- A: surrendered >= obligation.

The obligation is the sum of the verified emissions entered for the years the status covers
(`Period.years_of`). What counts as surrendered: CEA surrendered, units borrowed under the relief
rule, and CCER used as offsets up to `offset_cap_pct`% of the obligation (the cap is checked at
surrender too; this holds it when emissions are corrected down afterwards). Units pending offset
do not count until they are used. After the deadline a B is a shortfall of obligation -
surrendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from cets.domain.compliance.allocation import share
from cets.domain.compliance.rules import Period

EXCLUDED_YEAR = "EXCLUDED"  # an emissions entry that excludes the year (no obligation)


class Status(StrEnum):
    C = "C"
    B = "B"
    A = "A"
    EXCLUDED = "EXCLUDED"
    NOT_APPLICABLE = "NOT_APPLICABLE"


@dataclass(frozen=True, slots=True)
class Facts:
    """What the registry knows of one entity for one period."""

    holder: str
    first_year: int | None = None
    last_year: int | None = None
    emissions: Mapping[int, int | str] | None = None  # year -> tonnes or EXCLUDED_YEAR
    cea: int = 0  # CEA surrendered (used)
    borrowed: int = 0  # borrowed under the relief rule and surrendered
    ccer: int = 0  # CCER used as offsets
    ccer_pending: int = 0

    def operates(self, year: int) -> bool:
        first = self.first_year if self.first_year is not None else year
        last = self.last_year if self.last_year is not None else year
        return first <= year <= last


@dataclass(frozen=True, slots=True)
class StatusLine:
    holder: str
    label: str
    status: Status
    obligation: int
    surrendered: int  # what counts, offsets included
    offset: int  # CCER counted
    offset_pending: int
    borrowed: int

    @property
    def shortfall(self) -> int:
        return max(0, self.obligation - self.surrendered) if self.status == Status.B else 0


def offset_cap(obligation: int, pct: int) -> int:
    return share(obligation, pct)


def evaluate(period: Period, label: str, facts: Facts) -> StatusLine:
    """The status `label` of `period` for the entity `facts` describes."""
    years = period.years_of(label)
    emissions = facts.emissions or {}
    operating = [y for y in years if facts.operates(y)]
    obligation = sum(v for y, v in emissions.items() if y in years and isinstance(v, int))
    offset = min(facts.ccer, offset_cap(obligation, period.rules.offset_cap_pct))
    surrendered = facts.cea + facts.borrowed + offset
    if not operating:
        status = Status.NOT_APPLICABLE
    elif all(emissions.get(y) == EXCLUDED_YEAR for y in operating):
        status = Status.EXCLUDED
    elif _missing(period, label, operating, emissions):
        status = Status.C
    elif surrendered < obligation:
        status = Status.B
    else:
        status = Status.A
    return StatusLine(
        facts.holder,
        label,
        status,
        obligation,
        surrendered,
        offset,
        facts.ccer_pending,
        facts.borrowed,
    )


def _missing(
    period: Period, label: str, operating: list[int], emissions: Mapping[int, int | str]
) -> bool:
    due = [int(label)] if period.cumulative else operating
    return any(y in operating and y not in emissions for y in due)


@dataclass(frozen=True, slots=True)
class Rates:
    """Compliance rate of a status table, by count and by volume (entities A, B or C only)."""

    entities: int
    compliant: int  # status A
    obligation: int
    covered: int  # per entity min(surrendered, obligation), summed

    @property
    def by_count_pct(self) -> str:
        return _pct(self.compliant, self.entities)

    @property
    def by_volume_pct(self) -> str:
        return _pct(self.covered, self.obligation)


def rates(lines: list[StatusLine]) -> Rates:
    counted = [x for x in lines if x.status in (Status.A, Status.B, Status.C)]
    return Rates(
        len(counted),
        sum(1 for x in counted if x.status == Status.A),
        sum(x.obligation for x in counted),
        sum(min(x.surrendered, x.obligation) for x in counted),
    )


def _pct(part: int, whole: int) -> str:
    """A percentage with two decimals, half-up, as text (no float): 1 of 3 -> "33.33"."""
    if whole == 0:
        return "0.00"
    hundredths = (part * 10_000 * 2 + whole) // (2 * whole)
    return f"{hundredths // 100}.{hundredths % 100:02d}"
