"""What every compliance use case shares: the policy, finding (or opening) the period of a year,
and refusing what a closed status no longer allows.

A year no period was opened for gets the default one-year period the first time a command
needs it (its rules: the policy's; its deadline: `compliance_deadline` in the year after), inside
that command's transaction, so a refused command opens nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from cets.domain.compliance.allocation import PlanLine
from cets.domain.compliance.records import (
    Emission,
    EmissionRecord,
    RecordedStatus,
    SurrenderRow,
)
from cets.domain.compliance.rules import Period, default_period
from cets.domain.compliance.status import Facts
from cets.domain.errors import DomainError, RejectCode
from cets.domain.policy import Policy
from cets.domain.registry.holders import AUTHORITY
from cets.domain.units import VINTAGE_MAX, VINTAGE_MIN
from cets.service.clock import Clock
from cets.service.ports import Store, UnitOfWork
from cets.service.registry_base import RegistryBase

YEAR_MIN, YEAR_MAX = VINTAGE_MIN, VINTAGE_MAX  # compliance years are the vintages' years


class ComplianceUnitOfWork(UnitOfWork, Protocol):
    """The compliance rows a unit of work keeps (the SQL one: `ComplianceRows`)."""

    def compliance_period(self, period_id: str) -> Period | None: ...
    def compliance_period_of_year(self, year: int) -> Period | None: ...
    def compliance_periods(self) -> list[Period]: ...
    def recorded_status(self, period: str, label: str) -> list[RecordedStatus]: ...
    def compliance_periods_overlapping(self, first: int, last: int) -> list[str]: ...
    def insert_compliance_period(self, period: Period, *, at: int, by: str) -> None: ...
    def close_compliance_label(self, period_id: str, label: str, *, at: int, by: str) -> None: ...
    def set_compliance_entity(self, holder: str, first: int | None, last: int | None) -> None: ...
    def emission(self, holder: str, year: int) -> Emission | None: ...
    def emission_history(self, holder: str, year: int) -> list[EmissionRecord]: ...
    def write_emissions(
        self,
        entries: Sequence[tuple[str, int, int | None, str | None]],
        *,
        command: str,
        at: int,
        by: str,
    ) -> None: ...
    def plan_lines(self, year: int) -> list[PlanLine]: ...
    def put_plan_lines(self, lines: Sequence[PlanLine]) -> None: ...
    def set_verified_output(self, year: int, holder: str, line: str, output: int) -> bool: ...
    def plan_allocations(self, year: int) -> dict[str, dict[str, int]]: ...
    def insert_plan_allocations(self, rows: Sequence[dict[str, Any]]) -> None: ...
    def shortfalls_owed(self) -> dict[str, int]: ...
    def borrowed_owed(self, year: int) -> dict[str, int]: ...
    def allocated_units(self, holder: str, years: range) -> int: ...
    def allocations(self, years: range) -> dict[str, int]: ...
    def insert_surrender(self, row: SurrenderRow) -> None: ...
    def surrender_row(self, surrender_id: str) -> SurrenderRow | None: ...
    def surrender_rows(self, period: str, *, state: str | None = None) -> list[SurrenderRow]: ...
    def decide_surrender(self, surrender_id: str, state: str, at: int) -> None: ...
    def offsets_of(self, period: str, holder: str) -> int: ...
    def compliance_facts(self, period: Period) -> list[Facts]: ...
    def insert_compliance_status(
        self, period: str, rows: Sequence[RecordedStatus], *, at: int
    ) -> None: ...
    def cea_traded(self, start_us: int, end_us: int) -> tuple[int, int]: ...


def compliance_uow(uow: UnitOfWork) -> ComplianceUnitOfWork:
    return uow  # type: ignore[return-value]  # the SQL unit of work has the compliance rows


class ComplianceBase(RegistryBase):
    def __init__(self, store: Store, clock: Clock, policy: Policy) -> None:
        super().__init__(store, clock)
        self.policy = policy

    @staticmethod
    def _year(year: int, *, field: str = "year") -> int:
        if isinstance(year, bool) or not isinstance(year, int) or not YEAR_MIN <= year <= YEAR_MAX:
            raise DomainError(
                RejectCode.invalid_field,
                f"{field} {year!r}, was expected a year {YEAR_MIN}..{YEAR_MAX}",
                field=field,
            )
        return year

    def _period(self, uow: UnitOfWork, year: int, now: int, *, field: str = "year") -> Period:
        """The period `year` belongs to, opened by default when none was."""
        rows = compliance_uow(uow)
        period = rows.compliance_period_of_year(self._year(year, field=field))
        if period is None:
            period = default_period(
                year, self.policy.period_rules(), self.policy.compliance_deadline
            )
            rows.insert_compliance_period(period, at=now, by=AUTHORITY)
        return period

    @staticmethod
    def _open_label(period: Period, year: int, *, field: str = "year") -> str:
        """The status label `year` counts in, refused once that status is closed."""
        label = period.label_of(year)
        if label in period.closed:
            raise DomainError(
                RejectCode.period_closed,
                f"compliance {label} of period {period.id} is closed: its status was recorded "
                "after the deadline",
                field=field,
            )
        return label
