"""Allocation plans by the benchmark method: import, verified output, pre-allocation, final
allocation (DOMAIN.md, "Allocation and compliance"; arithmetic in
`cets.domain.compliance.allocation`). One command each, all-or-nothing over the whole year.

- `import_plan`: output lines per entity and year (benchmark, correction factors, the previous
  year's output); a line imported again replaces the earlier one.
- `record_output`: a line's verified output of the year.
- `pre_allocate(year)`: each planned entity gets `pre_allocation_pct`% of its allowance on the
  previous year's output, as CEA of `year` from the authority's reserve, less what it owes: units
  borrowed against this vintage under the relief rule first, then earlier shortfalls (of periods
  whose rules have `shortfall_deduction` on: the rule of the period the shortfall arose in).
  What the allocation cannot bear stays owed.
- `final_allocate(year)`: the allowance on verified output, raised by the gap cap, compared with
  the pre-allocation: a top-up (less anything owed since) or a recovery, as `true_up` transfers.
  Each of the two is made once per year (`allocation_already_made`).

Every step is recorded in `compliance_allocations` (gross amounts and each deduction), beside the
ledger's transfers, so the report of a year shows how each figure was reached.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from cets.domain.compliance.allocation import (
    PlanLine,
    allowance,
    charge,
    gap_capped,
    share,
)
from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import Account, Purpose, Transfer, TransferCode
from cets.domain.registry.holders import AUTHORITY
from cets.domain.units import cea
from cets.service.compliance_base import ComplianceBase, ComplianceUnitOfWork, compliance_uow
from cets.service.ports import Command, CommandResult, UnitOfWork

LINE_MAX = 64  # characters in an output line's name (`allocation_lines.line`)


class AllocationPlans(ComplianceBase):
    """The benchmark plan of each year and the allocations made from it."""

    def import_plan(
        self, cmd_id: str, lines: Sequence[PlanLine], *, actor: str = AUTHORITY
    ) -> CommandResult:
        body = {"id": cmd_id, "lines": [_line_body(x) for x in lines]}

        def build(uow: UnitOfWork, now: int) -> Command:
            if not lines:
                raise DomainError(RejectCode.invalid_field, "no plan lines", field="lines")
            seen: set[tuple[int, str, str]] = set()
            for i, line in enumerate(lines):
                where = f"lines[{i}]"
                self._holder(uow, line.holder, field=f"{where}.account")
                self._year(line.year, field=f"{where}.year")
                key = (line.year, line.holder, line.line)
                if not line.line.strip() or len(line.line) > LINE_MAX or key in seen:
                    raise DomainError(
                        RejectCode.invalid_field,
                        f"line {line.line!r} of {line.holder} {line.year}: empty, longer than "
                        f"{LINE_MAX} characters, or repeated",
                        field=f"{where}.line",
                    )
                seen.add(key)
                for name in ("previous_output", "verified_output"):
                    value = getattr(line, name)
                    if value is not None and value < 0:
                        raise DomainError(
                            RejectCode.invalid_field,
                            f"{name} {value}, was expected >= 0",
                            field=f"{where}.{name}",
                        )
            compliance_uow(uow).put_plan_lines(lines)
            return Command("allocation_plan", actor, body)

        return self._run(cmd_id, "allocation_plan", body, build)

    def record_output(
        self,
        cmd_id: str,
        year: int,
        holder: str,
        line: str,
        output: int,
        *,
        actor: str = AUTHORITY,
    ) -> CommandResult:
        """A plan line's verified output for `year` (before the final allocation)."""
        body = {"id": cmd_id, "year": year, "account": holder, "line": line, "output": output}

        def build(uow: UnitOfWork, now: int) -> Command:
            rows = compliance_uow(uow)
            self._year(year)
            if isinstance(output, bool) or not isinstance(output, int) or output < 0:
                raise DomainError(
                    RejectCode.invalid_field,
                    f"output {output!r}, was expected whole units >= 0",
                    field="output",
                )
            if "final" in rows.plan_allocations(year).get(holder, {}):
                raise DomainError(
                    RejectCode.allocation_already_made,
                    f"{holder}'s final allocation for {year} is made",
                    field="year",
                )
            if not rows.set_verified_output(year, holder, line, output):
                raise DomainError(
                    RejectCode.unknown_reference,
                    f"{holder} has no plan line {line!r} for {year}",
                    field="line",
                )
            return Command("verified_output", actor, body)

        return self._run(cmd_id, "verified_output", body, build)

    def pre_allocate(self, cmd_id: str, year: int, *, actor: str = AUTHORITY) -> CommandResult:
        body = {"id": cmd_id, "year": year}

        def build(uow: UnitOfWork, now: int) -> Command:
            period = self._period(uow, year, now)
            rows = compliance_uow(uow)
            plan = self._plan(rows, year, "pre")
            owed = _Owed(rows, year)
            records: list[dict[str, Any]] = []
            moves: list[tuple[str, int]] = []
            for holder, lines in plan.items():
                gross = share(allowance(lines, verified=False), period.rules.pre_allocation_pct)
                net = owed.charge(holder, gross, records, cmd_id, now)
                records.append(_record(holder, year, "pre", gross, cmd_id, now))
                moves.append((holder, net))
            rows.insert_plan_allocations(records)
            transfers = self._give(uow, now, cmd_id, year, moves, TransferCode.allocate)
            return Command("pre_allocate", actor, body, tuple(transfers))

        return self._run(cmd_id, "pre_allocate", body, build)

    def final_allocate(self, cmd_id: str, year: int, *, actor: str = AUTHORITY) -> CommandResult:
        body = {"id": cmd_id, "year": year}

        def build(uow: UnitOfWork, now: int) -> Command:
            period = self._period(uow, year, now)
            rules = period.rules
            rows = compliance_uow(uow)
            plan = self._plan(rows, year, "final")
            done = rows.plan_allocations(year)
            owed = _Owed(rows, year)
            records: list[dict[str, Any]] = []
            moves: list[tuple[str, int]] = []
            for holder, lines in plan.items():
                missing = [x.line for x in lines if x.verified_output is None]
                if missing:
                    raise DomainError(
                        RejectCode.verified_output_missing,
                        f"{holder} line {missing[0]!r} has no verified output for {year}",
                        field="year",
                    )
                emitted = rows.emission(holder, year)
                if rules.gap_cap_pct is not None and (emitted is None or emitted.tonnes is None):
                    raise DomainError(
                        RejectCode.emissions_not_entered,
                        f"{holder} has no verified emissions for {year}: the gap cap needs them",
                        field="year",
                    )
                tonnes = None if emitted is None else emitted.tonnes
                final = gap_capped(allowance(lines, verified=True), tonnes, rules.gap_cap_pct)
                delta = final - done.get(holder, {}).get("pre", 0)
                net = owed.charge(holder, delta, records, cmd_id, now) if delta > 0 else delta
                records.append(_record(holder, year, "final", delta, cmd_id, now))
                moves.append((holder, net))
            rows.insert_plan_allocations(records)
            transfers = self._give(uow, now, cmd_id, year, moves, TransferCode.true_up)
            return Command("final_allocate", actor, body, tuple(transfers))

        return self._run(cmd_id, "final_allocate", body, build)

    @staticmethod
    def _plan(rows: ComplianceUnitOfWork, year: int, kind: str) -> dict[str, list[PlanLine]]:
        lines = rows.plan_lines(year)
        if not lines:
            raise DomainError(
                RejectCode.no_allocation_plan, f"no allocation plan for {year}", field="year"
            )
        if any(kind in kinds for kinds in rows.plan_allocations(year).values()):
            raise DomainError(
                RejectCode.allocation_already_made,
                f"the {kind} allocation for {year} is made",
                field="year",
            )
        plan: dict[str, list[PlanLine]] = defaultdict(list)
        for line in lines:
            plan[line.holder].append(line)
        return plan

    def _give(
        self,
        uow: UnitOfWork,
        now: int,
        cmd_id: str,
        year: int,
        moves: list[tuple[str, int]],
        code: str,
    ) -> list[Transfer]:
        """Units of `year` from the reserve to each holder (a negative amount: back from it)."""
        unit = cea(year)
        needed = sum(q for _, q in moves if q > 0)
        (reserve,) = self._accounts(uow, now, (AUTHORITY, Purpose.reserve, unit))
        if needed > reserve.available:
            raise DomainError(
                RejectCode.insufficient_units,
                f"the reserve has {reserve.available} {unit}; the allocation needs {needed}",
                field="year",
            )
        transfers = []
        for holder, quantity in moves:
            if quantity == 0:
                continue
            self._holder(uow, holder, receiving=quantity > 0, field="account")
            (account,) = self._accounts(uow, now, (holder, Purpose.holding, unit))
            debit, credit = (reserve, account) if quantity > 0 else (account, reserve)
            transfers.append(_move(f"{cmd_id}/{holder}", debit, credit, abs(quantity), code))
        return transfers


def _move(transfer_id: str, debit: Account, credit: Account, quantity: int, code: str) -> Transfer:
    return Transfer(TransferId(transfer_id), debit.id, credit.id, debit.asset, quantity, code)


def _record(holder: str, year: int, kind: str, quantity: int, cmd: str, at: int) -> dict[str, Any]:
    return {
        "holder": holder,
        "year": year,
        "kind": kind,
        "quantity": quantity,
        "ref": None,
        "command": cmd,
        "at": at,
    }


class _Owed:
    """What each holder owes the year's allocation: borrowed units of this vintage, then earlier
    shortfalls; `charge` takes what an allocation can bear and records it."""

    def __init__(self, rows: ComplianceUnitOfWork, year: int) -> None:
        self.year = year
        self.borrowed = rows.borrowed_owed(year)
        self.shortfalls = rows.shortfalls_owed()

    def charge(
        self, holder: str, gross: int, records: list[dict[str, Any]], cmd: str, at: int
    ) -> int:
        net = gross
        for kind, owed in (
            ("borrow_deduction", self.borrowed),
            ("shortfall_deduction", self.shortfalls),
        ):
            taken = charge(net, owed.get(holder, 0))
            if taken:
                owed[holder] -= taken
                net -= taken
                records.append(_record(holder, self.year, kind, taken, cmd, at))
        return net


def _line_body(line: PlanLine) -> dict[str, Any]:
    return {
        "year": line.year,
        "account": line.holder,
        "line": line.line,
        "benchmark": str(line.benchmark),
        "factors": [str(f) for f in line.factors],
        "previous_output": line.previous_output,
        "verified_output": line.verified_output,
    }
