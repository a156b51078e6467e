"""Surrender for compliance: CEA surrendered, CCER put to offset (pending, then used or rejected
by the authority), forced surrender, and the relief rule's borrowing (DOMAIN.md, "Allocation and
compliance"). One handler per command, each all-or-nothing and idempotent on its client id.

Accounts: surrendered units go to the authority's surrender account for their asset
(`(authority, surrender, A)`) and stay there for ever; each surrender is also recorded
(`surrenders`), and the audit holds the two equal. A CCER offset is first a hold from the
entity's CCER into that account (pending offset: the units can no longer be sold, transferred or
surrendered otherwise), then used (the hold posted) or rejected (voided) by the authority.

Rules, and the choices where DOMAIN.md is silent:
- the offset cap is checked against the obligation when the CCER is put to offset (pending and
  used offsets count), so verified emissions must be entered first;
- CEA of a vintage after the period is `vintage_not_eligible` (no borrowing but the relief rule);
  with the period's `banking` off, earlier vintages are not eligible either;
- frozen, pledged, pending-offset and in-order units are `units_encumbered` (the ledger's holds);
- a restricted or judicially frozen entity may still surrender: meeting an obligation is not
  moving units away from a creditor (forced surrender exists for the unwilling);
- the relief rule lends units of the next vintage straight from the reserve into the surrender
  account (so borrowed units are never tradable), and the next year's allocation bears them.
"""

from __future__ import annotations

from cets.domain.compliance.allocation import relief_limit
from cets.domain.compliance.records import SurrenderRow
from cets.domain.compliance.rules import Period
from cets.domain.compliance.status import offset_cap
from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import Purpose, TransferCode, TransferFlags
from cets.domain.registry.holders import AUTHORITY
from cets.domain.units import CCER, cea
from cets.service.compliance_base import ComplianceBase, ComplianceUnitOfWork, compliance_uow
from cets.service.ports import Command, CommandResult, UnitOfWork


def offset_hold_id(surrender_id: str) -> TransferId:
    return TransferId(f"offset:{surrender_id}")


class SurrenderDesk(ComplianceBase):
    """Surrender, offsets, forced surrender and borrowing."""

    def surrender(
        self,
        cmd_id: str,
        holder: str,
        year: int,
        asset: str,
        quantity: int,
        *,
        actor: str | None = None,
    ) -> CommandResult:
        """Surrender CEA for compliance `year`, or put CCER to offset (pending until the
        authority uses it), up to the offset cap."""
        body = {"id": cmd_id, "account": holder, "year": year, "asset": asset, "quantity": quantity}

        def build(uow: UnitOfWork, now: int) -> Command:
            unit = self._unit_asset(asset)
            self._holder(uow, holder, field="account")
            period = self._period(uow, year, now)
            label = self._open_label(period, year)
            self._eligible(period, unit)
            rows = compliance_uow(uow)
            if unit == CCER:
                self._check_offset_cap(rows, period, label, holder, quantity)
            debit = self._existing(uow, holder, Purpose.holding, unit, quantity)
            (credit,) = self._accounts(uow, now, (AUTHORITY, Purpose.surrender, unit))
            if unit == CCER:
                move = self._move(
                    cmd_id,
                    debit,
                    credit,
                    quantity,
                    TransferCode.offset,
                    flags=TransferFlags.PENDING,
                    ref=f"period:{period.id}",
                    transfer_id=offset_hold_id(cmd_id),
                )
                kind, state = "offset", "pending"
            else:
                move = self._move(
                    cmd_id,
                    debit,
                    credit,
                    quantity,
                    TransferCode.surrender,
                    ref=f"period:{period.id}",
                )
                kind, state = "surrender", "used"
            rows.insert_surrender(
                SurrenderRow(cmd_id, holder, period.id, unit, quantity, kind, state, now)
            )
            return self._one("surrender", actor or holder, body, move)

        return self._run(cmd_id, "surrender", body, build)

    def forced_surrender(
        self,
        cmd_id: str,
        holder: str,
        asset: str,
        quantity: int,
        year: int,
        *,
        actor: str = AUTHORITY,
    ) -> CommandResult:
        """Forced surrender ordered by the authority: `quantity` of the holder's available units
        go to the surrender account and count for compliance `year` (kind `forced`). The
        holder's restriction does not stop it (the authority acts), but frozen and pledged units
        cannot be taken, and CEA must be of a vintage the period accepts."""
        body = {"id": cmd_id, "account": holder, "asset": asset, "quantity": quantity, "year": year}

        def build(uow: UnitOfWork, now: int) -> Command:
            unit = self._unit_asset(asset)
            self._holder(uow, holder, field="account")
            period = self._period(uow, year, now)
            self._open_label(period, year)
            self._eligible(period, unit)
            debit = self._existing(uow, holder, Purpose.holding, unit, quantity)
            (credit,) = self._accounts(uow, now, (AUTHORITY, Purpose.surrender, unit))
            compliance_uow(uow).insert_surrender(
                SurrenderRow(cmd_id, holder, period.id, unit, quantity, "forced", "used", now)
            )
            move = self._move(
                cmd_id, debit, credit, quantity, TransferCode.surrender, ref=f"period:{period.id}"
            )
            return self._one("forced_surrender", actor, body, move)

        return self._run(cmd_id, "forced_surrender", body, build)

    @staticmethod
    def _eligible(period: Period, unit: str) -> None:
        if not period.eligible(unit):
            raise DomainError(
                RejectCode.vintage_not_eligible,
                f"{unit} cannot be surrendered for period {period.id} "
                f"({'banking allowed' if period.rules.banking else 'no banking'}: "
                f"vintages up to {period.last_year})",
                field="asset",
            )

    def _check_offset_cap(
        self, rows: ComplianceUnitOfWork, period: Period, label: str, holder: str, quantity: int
    ) -> None:
        obligation = self._obligation(rows, period, label, holder)
        cap = offset_cap(obligation, period.rules.offset_cap_pct)
        used = rows.offsets_of(period.id, holder)
        if used + quantity > cap:
            raise DomainError(
                RejectCode.offset_cap_exceeded,
                f"CCER {used} already put to offset + {quantity} > cap {cap} "
                f"({period.rules.offset_cap_pct}% of the obligation {obligation})",
                field="quantity",
            )

    @staticmethod
    def _obligation(rows: ComplianceUnitOfWork, period: Period, label: str, holder: str) -> int:
        """Verified emissions of the years status `label` covers; every one must be entered."""
        total = 0
        for y in period.years_of(label):
            entered = rows.emission(holder, y)
            if entered is None:
                raise DomainError(
                    RejectCode.emissions_not_entered,
                    f"{holder} has no verified emissions entered for {y}",
                    field="year",
                )
            total += entered.tonnes or 0
        return total

    def decide_offset(
        self, cmd_id: str, offset: str, *, use: bool, reason: str | None = None, actor: str
    ) -> CommandResult:
        """The authority uses (`use=True`) or rejects a pending CCER offset."""
        kind = "use_offset" if use else "reject_offset"
        body = {"id": cmd_id, "offset": offset, "reason": reason}

        def build(uow: UnitOfWork, now: int) -> Command:
            rows = compliance_uow(uow)
            row = rows.surrender_row(offset)
            if row is None or row.kind != "offset":
                raise DomainError(
                    RejectCode.unknown_reference, f"no CCER offset {offset!r}", field="offset"
                )
            if row.state != "pending":
                raise DomainError(
                    RejectCode.offset_not_pending,
                    f"offset {offset} is {row.state}",
                    field="offset",
                )
            period = rows.compliance_period(row.period)
            assert period is not None, f"surrender {offset} names no period"
            hold = self._named_hold(uow, offset_hold_id(offset), "offset", offset)
            flags = TransferFlags.POST_PENDING if use else TransferFlags.VOID_PENDING
            rows.decide_surrender(offset, "used" if use else "rejected", now)
            move = self._on_hold(
                TransferId(cmd_id), hold, 0, TransferCode.offset, flags, f"period:{period.id}"
            )
            return self._one(kind, actor, body, move)

        return self._run(cmd_id, kind, body, build)

    def borrow(
        self, cmd_id: str, holder: str, year: int, quantity: int, *, actor: str = AUTHORITY
    ) -> CommandResult:
        """The relief rule: units of the next vintage, from the reserve straight to surrender,
        for an entity whose gap is at least `relief_gap_pct`% of its emissions, up to
        `relief_borrow_pct`% of the gap; the next year's allocation bears them."""
        body = {"id": cmd_id, "account": holder, "year": year, "quantity": quantity}

        def build(uow: UnitOfWork, now: int) -> Command:
            self._holder(uow, holder, field="account")
            period = self._period(uow, year, now)
            label = self._open_label(period, year)
            rules = period.rules
            if not rules.relief:
                raise DomainError(
                    RejectCode.relief_not_available,
                    f"the relief rule is off for period {period.id}",
                    field="year",
                )
            rows = compliance_uow(uow)
            years = period.years_of(label)
            emissions = self._obligation(rows, period, label, holder)
            allocation = rows.allocated_units(holder, years)
            eligible, limit = relief_limit(
                emissions,
                allocation,
                gap_pct=rules.relief_gap_pct,
                borrow_pct=rules.relief_borrow_pct,
            )
            if not eligible:
                raise DomainError(
                    RejectCode.relief_not_available,
                    f"{holder}'s gap is {emissions - allocation} t (emissions {emissions}, "
                    f"allocation {allocation}): relief needs at least {rules.relief_gap_pct}% of "
                    "its emissions",
                    field="account",
                )
            borrowed = sum(
                r.quantity
                for r in rows.surrender_rows(period.id, state="used")
                if r.holder == holder and r.kind == "borrow"
            )
            if borrowed + quantity > limit:
                raise DomainError(
                    RejectCode.borrowing_limit_exceeded,
                    f"{borrowed} borrowed already + {quantity} > {limit} "
                    f"({rules.relief_borrow_pct}% of the gap {emissions - allocation})",
                    field="quantity",
                )
            unit = cea(years[-1] + 1)
            reserve = self._existing(uow, AUTHORITY, Purpose.reserve, unit, quantity)
            (credit,) = self._accounts(uow, now, (AUTHORITY, Purpose.surrender, unit))
            rows.insert_surrender(
                SurrenderRow(cmd_id, holder, period.id, unit, quantity, "borrow", "used", now)
            )
            move = self._move(
                cmd_id, reserve, credit, quantity, TransferCode.surrender, ref=f"borrow:{holder}"
            )
            return self._one("borrow", actor, body, move)

        return self._run(cmd_id, "borrow", body, build)
