"""Compliance use cases: periods, years of operation, verified emissions, the close that records
each entity's status after the deadline, and the status tables (DOMAIN.md, "Allocation and
compliance"; surrender, offsets and borrowing are in `surrender`, allocation plans in
`allocation_plans`). One handler per command, each all-or-nothing and idempotent on its client id
(`registry_base`).

Rules, and the choices where DOMAIN.md is silent:
- the obligation is what `cets.domain.compliance.status` says;
- emissions are entered by the authority per entity and year, in tonnes or as `excluded`; a
  second entry for the same year is a correction and needs a reason; both are kept, and a file
  refused names every bad entry;
- a status is closed once, after its deadline (the local date is past it); nothing that would
  change it (emissions, surrenders) is accepted afterwards (`period_closed`); an offset still
  pending at the close lapses (voided) and does not count;
- the penalty is `penalty_multiple` x the shortfall at the average price of CEA traded in the
  30 days up to the deadline (else the rules' reference price).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from cets.domain.compliance.records import (
    EmissionEntry,
    EmissionRecord,
    RecordedStatus,
    SurrenderRow,
)
from cets.domain.compliance.rules import Period, RulesError, default_period, period_id
from cets.domain.compliance.status import Rates, StatusLine, evaluate, rates
from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import TransferCode, TransferFlags
from cets.domain.registry.holders import AUTHORITY
from cets.domain.units import round_half_up_fen
from cets.service.allocation_plans import AllocationPlans
from cets.service.clock import SHANGHAI, from_us, to_us
from cets.service.compliance_base import ComplianceBase, ComplianceUnitOfWork, compliance_uow
from cets.service.ports import Command, CommandResult, UnitOfWork
from cets.service.surrender import SurrenderDesk, offset_hold_id

DEADLINE_YEARS_MAX = 5  # a surrender deadline is at most this many years after its period


def _all_of(problems: list[DomainError], shown: int = 20) -> DomainError:
    """One refusal for every problem of a file: the first problem's code and field, and each
    problem's field and message (the first `shown` of them)."""
    first = problems[0]
    if len(problems) == 1:
        return first
    lines = [f"{p.field}: {p.message}" for p in problems[:shown]]
    more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
    message = f"{len(problems)} entries refused: " + "; ".join(lines) + more
    return DomainError(first.code, message, field=first.field)


class ComplianceDesk(ComplianceBase):
    """Periods, emissions, surrender, offsets, borrowing and the close."""

    # -- periods and entities ----------------------------------------------------------------

    def open_period(
        self,
        cmd_id: str,
        first_year: int,
        last_year: int | None = None,
        *,
        deadline: date | None = None,
        cumulative: bool = False,
        rules: dict[str, Any] | None = None,
        actor: str = AUTHORITY,
    ) -> CommandResult:
        """Open compliance years `first_year`..`last_year` as one period with its own rules."""
        last = first_year if last_year is None else last_year
        body = {
            "id": cmd_id,
            "first_year": first_year,
            "last_year": last,
            "deadline": None if deadline is None else deadline.isoformat(),
            "cumulative": cumulative,
            "rules": rules or {},
        }

        def build(uow: UnitOfWork, now: int) -> Command:
            first = self._year(first_year, field="first_year")
            self._year(last, field="last_year")
            if last < first:
                raise DomainError(
                    RejectCode.invalid_field,
                    f"last_year {last} is before first_year {first}",
                    field="last_year",
                )
            rows = compliance_uow(uow)
            taken = rows.compliance_periods_overlapping(first, last)
            if taken:
                raise DomainError(
                    RejectCode.period_overlaps,
                    f"years {first}..{last} overlap period {taken[0]}",
                    field="first_year",
                )
            period = Period(
                period_id(first, last),
                first,
                last,
                self._deadline(last, deadline),
                cumulative,
                self._rules(rules or {}),
            )
            rows.insert_compliance_period(period, at=now, by=actor)
            return Command("open_period", actor, body)

        return self._run(cmd_id, "open_period", body, build)

    def _deadline(self, last_year: int, deadline: date | None) -> date:
        if deadline is None:
            month, day = (int(p) for p in self.policy.compliance_deadline.split("-"))
            return date(last_year + 1, month, day)
        if not last_year < deadline.year <= last_year + DEADLINE_YEARS_MAX:
            raise DomainError(
                RejectCode.invalid_field,
                f"deadline {deadline}, was expected within the {DEADLINE_YEARS_MAX} years after "
                f"the period's last year {last_year}",
                field="deadline",
            )
        return deadline

    def _rules(self, changes: dict[str, Any]) -> Any:
        try:
            return self.policy.period_rules().with_changes(changes)
        except RulesError as exc:
            raise DomainError(RejectCode.invalid_field, str(exc), field=f"rules.{exc.key}") from exc

    def set_operation_years(
        self,
        cmd_id: str,
        holder: str,
        first_year: int | None,
        last_year: int | None,
        *,
        actor: str = AUTHORITY,
    ) -> CommandResult:
        """The years an entity operates in (either bound may be open): outside them it has no
        obligation (status NOT_APPLICABLE)."""
        body = {"id": cmd_id, "account": holder, "first_year": first_year, "last_year": last_year}

        def build(uow: UnitOfWork, now: int) -> Command:
            self._holder(uow, holder, field="account")
            for name, value in (("first_year", first_year), ("last_year", last_year)):
                if value is not None:
                    self._year(value, field=name)
            if first_year is not None and last_year is not None and last_year < first_year:
                raise DomainError(
                    RejectCode.invalid_field,
                    f"last_year {last_year} is before first_year {first_year}",
                    field="last_year",
                )
            compliance_uow(uow).set_compliance_entity(holder, first_year, last_year)
            return Command("operation_years", actor, body)

        return self._run(cmd_id, "operation_years", body, build)

    # -- verified emissions ------------------------------------------------------------------

    def enter_emissions(
        self, cmd_id: str, entries: Sequence[EmissionEntry], *, actor: str = AUTHORITY
    ) -> CommandResult:
        """Enter (or correct, with a reason) verified emissions: one entry, or a whole file."""
        body = {
            "id": cmd_id,
            "entries": [
                {"account": e.account, "year": e.year, "tonnes": e.tonnes, "reason": e.reason}
                for e in entries
            ],
        }

        def build(uow: UnitOfWork, now: int) -> Command:
            if not entries:
                raise DomainError(RejectCode.invalid_field, "no entries", field="entries")
            rows = compliance_uow(uow)
            seen: set[tuple[str, int]] = set()
            problems: list[DomainError] = []
            for i, entry in enumerate(entries):
                try:
                    where = f"entries[{i}]" if len(entries) > 1 else ""
                    self._check_entry(uow, rows, entry, now, seen, where)
                except DomainError as refused:
                    problems.append(refused)
            if problems:
                raise _all_of(problems)
            rows.write_emissions(
                [(e.account, e.year, e.tonnes, e.reason) for e in entries],
                command=cmd_id,
                at=now,
                by=actor,
            )
            return Command("emissions", actor, body)

        return self._run(cmd_id, "emissions", body, build)

    def _check_entry(
        self,
        uow: UnitOfWork,
        rows: ComplianceUnitOfWork,
        entry: EmissionEntry,
        now: int,
        seen: set[tuple[str, int]],
        where: str,
    ) -> None:
        def name(field: str) -> str:
            return f"{where}.{field}" if where else field

        self._holder(uow, entry.account, field=name("account"))
        period = self._period(uow, entry.year, now, field=name("year"))
        self._open_label(period, entry.year, field=name("year"))
        tonnes = entry.tonnes
        if tonnes is not None and (isinstance(tonnes, bool) or not isinstance(tonnes, int)):
            raise DomainError(
                RejectCode.invalid_field,
                f"tonnes {tonnes!r}, was expected whole tonnes",
                field=name("tonnes"),
            )
        if tonnes is not None and tonnes < 0:
            raise DomainError(
                RejectCode.invalid_field,
                f"tonnes {tonnes}, was expected >= 0",
                field=name("tonnes"),
            )
        key = (entry.account, entry.year)
        if key in seen:
            raise DomainError(
                RejectCode.invalid_field,
                f"{entry.account} {entry.year} is entered twice in one command",
                field=name("year"),
            )
        seen.add(key)
        before = rows.emission(entry.account, entry.year)
        if before is not None and not (entry.reason or "").strip():
            raise DomainError(
                RejectCode.invalid_field,
                f"{entry.account} {entry.year} has {before.value} entered already: a correction "
                "needs a reason",
                field=name("reason"),
            )

    # -- the close ---------------------------------------------------------------------------

    def close(self, cmd_id: str, year: int, *, actor: str = AUTHORITY) -> CommandResult:
        """After the deadline: record every entity's status for the period of `year` (for a
        cumulative period, of `year`), with each shortfall and its penalty; pending offsets of
        the period lapse."""
        body = {"id": cmd_id, "year": year}

        def build(uow: UnitOfWork, now: int) -> Command:
            period = self._period(uow, year, now)
            label = self._open_label(period, year)
            deadline = period.deadline_of(label)
            today = from_us(now).date()
            if today <= deadline:
                raise DomainError(
                    RejectCode.deadline_not_passed,
                    f"compliance {label} is due by {deadline}; it can be closed from "
                    f"{deadline + timedelta(days=1)} (today is {today})",
                    field="year",
                )
            rows = compliance_uow(uow)
            lapses = self._lapse_offsets(uow, rows, period, label, cmd_id, now)
            price = self._penalty_price(rows, period, deadline)
            recorded = [
                self._recorded(period, evaluate(period, label, facts), price)
                for facts in rows.compliance_facts(period)
            ]
            rows.insert_compliance_status(period.id, recorded, at=now)
            rows.close_compliance_label(period.id, label, at=now, by=actor)
            return Command("compliance_close", actor, body, tuple(lapses))

        return self._run(cmd_id, "compliance_close", body, build)

    def _lapse_offsets(
        self,
        uow: UnitOfWork,
        rows: ComplianceUnitOfWork,
        period: Period,
        label: str,
        cmd_id: str,
        now: int,
    ) -> list[Any]:
        if period.cumulative and label != period.labels()[-1]:
            return []  # a cumulative period's offsets may still be used for its later years
        voids = []
        for row in rows.surrender_rows(period.id, state="pending"):
            hold = self._named_hold(uow, offset_hold_id(row.id), "offset", row.id)
            rows.decide_surrender(row.id, "lapsed", now)
            voids.append(
                self._on_hold(
                    TransferId(f"{cmd_id}/lapse/{row.id}"),
                    hold,
                    0,
                    TransferCode.offset,
                    TransferFlags.VOID_PENDING,
                    f"period:{period.id}",
                )
            )
        return voids

    @staticmethod
    def _penalty_price(rows: ComplianceUnitOfWork, period: Period, deadline: date) -> int:
        """The average price of CEA traded in the 30 days up to and including the deadline day,
        else the rules' reference price."""
        end = datetime.combine(deadline + timedelta(days=1), time(), tzinfo=SHANGHAI)
        value, volume = rows.cea_traded(to_us(end - timedelta(days=30)), to_us(end))
        if volume:
            return round_half_up_fen(value, volume)
        return period.rules.penalty_reference_price_fen

    @staticmethod
    def _recorded(period: Period, line: StatusLine, price: int) -> RecordedStatus:
        shortfall = line.shortfall
        return RecordedStatus(
            line, shortfall, shortfall * price * period.rules.penalty_multiple, price
        )

    # -- reads -------------------------------------------------------------------------------

    def status_table(self, year: int) -> StatusTable:
        """Every entity's status for `year`'s period (a cumulative period: for `year`): as
        recorded at the close, or evaluated now (a year no command has touched yet: under the
        default period it would get)."""
        with self.store.unit_of_work() as uow:
            rows = compliance_uow(uow)
            period = rows.compliance_period_of_year(self._year(year)) or default_period(
                year, self.policy.period_rules(), self.policy.compliance_deadline
            )
            return _table(rows, period, period.label_of(year))

    def allocations(self, table: StatusTable) -> dict[str, int]:
        """What each entity of `table` was allocated of the vintages its obligation counts (the
        years of the table's status), net of true-ups: set-based, whatever the entities."""
        years = table.period.years_of(table.label)
        with self.store.unit_of_work() as uow:
            found = compliance_uow(uow).allocations(years)
        return {r.line.holder: found.get(r.line.holder, 0) for r in table.rows}

    def emission_history(self, holder: str, year: int) -> list[EmissionRecord]:
        """Every entry of `holder`'s verified emissions for `year`, first entry first: each
        correction with the value it replaced, its reason, who and when."""
        with self.store.unit_of_work() as uow:
            return compliance_uow(uow).emission_history(holder, self._year(year))

    def surrender_of(self, surrender_id: str) -> SurrenderRow | None:
        """A surrender as the registry keeps it now (an offset: pending, used, rejected...)."""
        with self.store.unit_of_work() as uow:
            return compliance_uow(uow).surrender_row(surrender_id)

    def status_tables(self) -> list[StatusTable]:
        """Every status of every period, in order."""
        with self.store.unit_of_work() as uow:
            rows = compliance_uow(uow)
            return [
                _table(rows, period, label)
                for period in rows.compliance_periods()
                for label in period.labels()
            ]


@dataclass(frozen=True, slots=True)
class StatusTable:
    """A period's status `label` for every entity; `closed`: as recorded after the deadline
    (with shortfalls and penalties), else as evaluated now (no shortfall before the close)."""

    period: Period
    label: str
    closed: bool
    rows: list[RecordedStatus]

    @property
    def deadline(self) -> date:
        return self.period.deadline_of(self.label)

    @property
    def rates(self) -> Rates:
        return rates([r.line for r in self.rows])


def _table(rows: ComplianceUnitOfWork, period: Period, label: str) -> StatusTable:
    if label in period.closed:
        return StatusTable(period, label, True, rows.recorded_status(period.id, label))
    live = [evaluate(period, label, f) for f in rows.compliance_facts(period)]
    return StatusTable(period, label, False, [RecordedStatus(x, 0, 0, 0) for x in live])


class Compliance(AllocationPlans, SurrenderDesk, ComplianceDesk):
    """Every compliance use case: allocation plans, emissions, surrender, status."""
