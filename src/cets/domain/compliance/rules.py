"""Compliance periods and the rules each one runs under (DOMAIN.md, "Allocation and compliance").

A period is one or more compliance years with a surrender deadline. Its rules start from the
deployment's policy and can be switched per period when the authority opens it: the
pre-allocation share, the 20% gap cap (on/off), the CCER offset cap, the relief rule (on/off, its
threshold and share), banking, the penalty and whether a shortfall is deducted from the next
allocation.

Two ways of counting an obligation:
- **per period** (China's national market, the default): the obligation is the verified emissions
  of all the period's years, and the period has one status, labelled with the period's id ("2023",
  or "2021-2022");
- **cumulative** (the UK ETS phase 2021-2030): the period has a status for each of its years,
  labelled with the year: the obligation at year Y is the verified emissions of the period's years
  up to Y, and every surrender made to the period counts.

Choices where DOMAIN.md is silent (written down here so they are found):
- a year no period was opened for is its own period, opened on first use with the policy's rules
  and a deadline of `compliance_deadline` (month-day) in the year after it;
- banking: CEA of any vintage up to the period's last year may be surrendered; with banking off,
  only the vintages of the period's own years;
- the penalty is `penalty_multiple` times the shortfall valued at the average price of CEA traded
  in the 30 days before the deadline (the State Council's Interim Regulation, art. 24: five to ten
  times the value of the shortfall at the month's average price), or at
  `penalty_reference_price_fen` when nothing traded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any

from cets.domain.units import CCER, vintage


class RulesError(ValueError):
    """A period rule that cannot be used; names the rule."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"rules.{key}: {message}")
        self.key = key


@dataclass(frozen=True, slots=True)
class PeriodRules:
    """What a period's allocation, surrender and close follow; every value configurable."""

    pre_allocation_pct: int = 70
    gap_cap_pct: int | None = 20  # None: the gap cap is off for the period
    offset_cap_pct: int = 5
    relief: bool = True
    relief_gap_pct: int = 10
    relief_borrow_pct: int = 50
    banking: bool = True
    penalty_multiple: int = 5
    penalty_reference_price_fen: int = 0
    shortfall_deduction: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_changes(self, changes: dict[str, Any]) -> PeriodRules:
        """A copy with `changes` applied; unknown keys and wrong values are `RulesError`."""
        known = {f.name: f for f in fields(self)}
        values = self.as_dict()
        for key, value in changes.items():
            if key not in known:
                raise RulesError(str(key), "unknown rule")
            values[key] = _rule_value(key, value)
        for key in ("pre_allocation_pct", "offset_cap_pct", "relief_gap_pct", "relief_borrow_pct"):
            if values[key] > 100:
                raise RulesError(key, f"{values[key]}, was expected 0..100")
        if values["gap_cap_pct"] is not None and values["gap_cap_pct"] > 100:
            raise RulesError("gap_cap_pct", f"{values['gap_cap_pct']}, was expected 0..100")
        return PeriodRules(**values)


_BOOLS = frozenset({"relief", "banking", "shortfall_deduction"})


def _rule_value(key: str, value: Any) -> Any:
    if key in _BOOLS:
        if not isinstance(value, bool):
            raise RulesError(key, f"{value!r}, was expected true or false")
        return value
    if key == "gap_cap_pct" and value in (None, False, "off"):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RulesError(key, f"{value!r}, was expected a whole number >= 0")
    return value


@dataclass(frozen=True, slots=True)
class Period:
    """Compliance years `first_year`..`last_year`, surrendered for by `deadline` (inclusive)."""

    id: str
    first_year: int
    last_year: int
    deadline: date
    cumulative: bool = False
    rules: PeriodRules = PeriodRules()
    closed: tuple[str, ...] = ()  # the status labels closed so far

    @property
    def years(self) -> range:
        return range(self.first_year, self.last_year + 1)

    def labels(self) -> tuple[str, ...]:
        """The statuses a period has: one per year when cumulative, else one for the period."""
        if self.cumulative:
            return tuple(str(y) for y in self.years)
        return (self.id,)

    def label_of(self, year: int) -> str:
        return str(year) if self.cumulative else self.id

    def years_of(self, label: str) -> range:
        """The years whose emissions make the obligation of status `label`."""
        if self.cumulative:
            return range(self.first_year, int(label) + 1)
        return self.years

    def deadline_of(self, label: str) -> date:
        """A cumulative period's year Y is due at the deadline's month and day after Y."""
        if not self.cumulative:
            return self.deadline
        offset = self.deadline.year - self.last_year
        return _same_day(self.deadline, int(label) + offset)

    def eligible(self, asset: str) -> bool:
        """Whether units of `asset` may be surrendered to this period (CCER: up to the cap)."""
        if asset == CCER:
            return True
        year = vintage(asset)
        if year is None:
            return False
        low = self.first_year if not self.rules.banking else 0
        return low <= year <= self.last_year


def period_id(first_year: int, last_year: int) -> str:
    return str(first_year) if first_year == last_year else f"{first_year}-{last_year}"


def default_period(year: int, rules: PeriodRules, deadline_md: str) -> Period:
    """The one-year period a year gets when no period was opened for it."""
    month, day = (int(part) for part in deadline_md.split("-"))
    return Period(str(year), year, year, date(year + 1, month, day), rules=rules)


def _same_day(day: date, year: int) -> date:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February
        return day.replace(year=year, day=28)
