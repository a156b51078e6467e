"""Compliance rows inside the transaction (see `compliance_tables`): periods, entities, verified
emissions and their history, allocation plans, surrenders and the status table.

`ComplianceRows` is mixed into the unit of work, so these writes share the transaction of the
transfers and the journal entry they go with. `compliance_facts` reads a whole period set-based
(four queries, whatever the number of entities): the status of 100,000 entities is evaluated from
it in memory.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, case, delete, func, or_, select, update

from cets.adapters.sql import compliance_tables as c
from cets.adapters.sql import tables as t
from cets.domain.compliance.allocation import PlanLine
from cets.domain.compliance.records import (
    Emission,
    EmissionRecord,
    RecordedStatus,
    SurrenderRow,
)
from cets.domain.compliance.rules import Period, PeriodRules
from cets.domain.compliance.status import EXCLUDED_YEAR, Facts, Status, StatusLine
from cets.domain.ledger.model import Purpose, TransferCode
from cets.domain.registry.holders import HolderKind
from cets.domain.units import CCER, cea

_P, _E, _S = c.compliance_periods.c, c.emissions.c, c.surrenders.c
_A, _L = c.compliance_allocations.c, c.allocation_lines.c


def period_of_row(row: Any, closed: Iterable[str]) -> Period:
    return Period(
        row.id,
        row.first_year,
        row.last_year,
        row.deadline,
        bool(row.cumulative),
        PeriodRules(**json.loads(row.rules)),
        tuple(sorted(closed)),
    )


class ComplianceRows:
    """Compliance rows inside the transaction."""

    conn: Connection

    # -- periods -----------------------------------------------------------------------------

    def compliance_period(self, period_id: str) -> Period | None:
        row = self.conn.execute(select(c.compliance_periods).where(_P.id == period_id)).first()
        return None if row is None else period_of_row(row, self._closed(period_id))

    def compliance_period_of_year(self, year: int) -> Period | None:
        stmt = select(c.compliance_periods).where(_P.first_year <= year, _P.last_year >= year)
        row = self.conn.execute(stmt).first()
        return None if row is None else period_of_row(row, self._closed(row.id))

    def compliance_periods(self) -> list[Period]:
        rows = self.conn.execute(select(c.compliance_periods).order_by(_P.first_year)).all()
        return [period_of_row(r, self._closed(r.id)) for r in rows]

    def compliance_periods_overlapping(self, first: int, last: int) -> list[str]:
        stmt = select(_P.id).where(_P.first_year <= last, _P.last_year >= first)
        return list(self.conn.execute(stmt).scalars())

    def _closed(self, period_id: str) -> list[str]:
        cc = c.compliance_closes.c
        return list(self.conn.execute(select(cc.label).where(cc.period == period_id)).scalars())

    def insert_compliance_period(self, period: Period, *, at: int, by: str) -> None:
        self.conn.execute(
            c.compliance_periods.insert().values(
                id=period.id,
                first_year=period.first_year,
                last_year=period.last_year,
                deadline=period.deadline,
                cumulative=period.cumulative,
                rules=json.dumps(period.rules.as_dict(), sort_keys=True),
                opened_at=at,
                opened_by=by,
            )
        )

    def close_compliance_label(self, period_id: str, label: str, *, at: int, by: str) -> None:
        self.conn.execute(
            c.compliance_closes.insert().values(
                period=period_id, label=label, closed_at=at, closed_by=by
            )
        )

    # -- entities and emissions --------------------------------------------------------------

    def set_compliance_entity(self, holder: str, first: int | None, last: int | None) -> None:
        ce = c.compliance_entities
        self.conn.execute(delete(ce).where(ce.c.holder == holder))
        self.conn.execute(ce.insert().values(holder=holder, first_year=first, last_year=last))

    def emission(self, holder: str, year: int) -> Emission | None:
        stmt = select(_E.holder, _E.year, _E.tonnes, _E.revision).where(
            _E.holder == holder, _E.year == year
        )
        row = self.conn.execute(stmt).first()
        return None if row is None else Emission(*row)

    def write_emissions(
        self,
        entries: Sequence[tuple[str, int, int | None, str | None]],
        *,
        command: str,
        at: int,
        by: str,
    ) -> None:
        """Enter or correct (holder, year, tonnes or None = excluded, reason) rows: the value in
        force is replaced and the entry, with what it replaced, is kept for ever."""
        if not entries:
            return
        keys = [(h, y) for h, y, _, _ in entries]
        known = self._emissions_of(keys)
        history, fresh = [], []
        for holder, year, tonnes, reason in entries:
            before = known.get((holder, year))
            revision = 1 if before is None else before.revision + 1
            history.append(
                {
                    "holder": holder,
                    "year": year,
                    "tonnes": tonnes,
                    "excluded": tonnes is None,
                    "revision": revision,
                    "previous_tonnes": None if before is None else before.tonnes,
                    "previous_excluded": None if before is None else before.tonnes is None,
                    "reason": reason,
                    "command": command,
                    "entered_at": at,
                    "entered_by": by,
                }
            )
            fresh.append({k: history[-1][k] for k in ("holder", "year", "tonnes", "excluded")})
            fresh[-1].update(revision=revision, entered_at=at, entered_by=by)
        self.conn.execute(c.emission_entries.insert(), history)
        self._delete_emissions(keys)
        self.conn.execute(c.emissions.insert(), fresh)

    def emission_history(self, holder: str, year: int) -> list[EmissionRecord]:
        h = c.emission_entries.c
        stmt = (
            select(c.emission_entries)
            .where(h.holder == holder, h.year == year)
            .order_by(h.revision, h.id)
        )
        return [
            EmissionRecord(
                r.holder,
                r.year,
                r.tonnes,
                r.revision,
                EXCLUDED_YEAR if r.previous_excluded else r.previous_tonnes,
                r.reason,
                r.command,
                r.entered_at,
                r.entered_by,
            )
            for r in self.conn.execute(stmt)
        ]

    def _emissions_of(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], Emission]:
        out: dict[tuple[str, int], Emission] = {}
        for year in {y for _, y in keys}:
            holders = [h for h, y in keys if y == year]
            for chunk in _chunks(holders):
                stmt = select(_E.holder, _E.year, _E.tonnes, _E.revision).where(
                    _E.year == year, _E.holder.in_(chunk)
                )
                for row in self.conn.execute(stmt):
                    out[(row.holder, row.year)] = Emission(*row)
        return out

    def _delete_emissions(self, keys: list[tuple[str, int]]) -> None:
        for year in {y for _, y in keys}:
            holders = [h for h, y in keys if y == year]
            for chunk in _chunks(holders):
                self.conn.execute(delete(c.emissions).where(_E.year == year, _E.holder.in_(chunk)))

    # -- allocation plans --------------------------------------------------------------------

    def plan_lines(self, year: int) -> list[PlanLine]:
        stmt = select(c.allocation_lines).where(_L.year == year).order_by(_L.holder, _L.line)
        return [
            PlanLine(
                r.year,
                r.holder,
                r.line,
                Decimal(r.benchmark),
                tuple(Decimal(f) for f in r.factors.split()),
                r.previous_output,
                r.verified_output,
            )
            for r in self.conn.execute(stmt)
        ]

    def put_plan_lines(self, lines: Sequence[PlanLine]) -> None:
        """Add lines, replacing any line of the same year, entity and name."""
        for line in lines:
            self.conn.execute(
                delete(c.allocation_lines).where(
                    _L.year == line.year, _L.holder == line.holder, _L.line == line.line
                )
            )
        self.conn.execute(
            c.allocation_lines.insert(),
            [
                {
                    "year": x.year,
                    "holder": x.holder,
                    "line": x.line,
                    "benchmark": str(x.benchmark),
                    "factors": " ".join(str(f) for f in x.factors),
                    "previous_output": x.previous_output,
                    "verified_output": x.verified_output,
                }
                for x in lines
            ],
        )

    def set_verified_output(self, year: int, holder: str, line: str, output: int) -> bool:
        result = self.conn.execute(
            update(c.allocation_lines)
            .where(_L.year == year, _L.holder == holder, _L.line == line)
            .values(verified_output=output)
        )
        return bool(result.rowcount)

    def plan_allocations(self, year: int) -> dict[str, dict[str, int]]:
        """What the plan allocated and deducted for `year`, by holder and kind."""
        stmt = (
            select(_A.holder, _A.kind, func.sum(_A.quantity))
            .where(_A.year == year)
            .group_by(_A.holder, _A.kind)
        )
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for holder, kind, quantity in self.conn.execute(stmt):
            out[holder][kind] = int(quantity)
        return dict(out)

    def insert_plan_allocations(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(c.compliance_allocations.insert(), list(rows))

    def shortfalls_owed(self) -> dict[str, int]:
        """Per holder: shortfalls recorded at closes of periods whose rules deduct them from the
        next allocation (`shortfall_deduction`), less what allocations have borne of them."""
        cs = c.compliance_status.c
        deducting = {
            row.id
            for row in self.conn.execute(select(_P.id, _P.rules))
            if json.loads(row.rules).get("shortfall_deduction", True)
        }
        owed: dict[str, int] = defaultdict(int)
        stmt = select(cs.holder, cs.period, func.sum(cs.shortfall)).where(cs.shortfall > 0)
        for holder, period, quantity in self.conn.execute(stmt.group_by(cs.holder, cs.period)):
            if period in deducting:
                owed[holder] += int(quantity)
        stmt = select(_A.holder, func.sum(_A.quantity)).where(_A.kind == "shortfall_deduction")
        for holder, quantity in self.conn.execute(stmt.group_by(_A.holder)):
            owed[holder] -= int(quantity)
        return {h: q for h, q in owed.items() if q > 0}

    def borrowed_owed(self, year: int) -> dict[str, int]:
        """Per holder: units of vintage `year` borrowed under the relief rule, less what `year`'s
        allocations have borne of them."""
        owed: dict[str, int] = defaultdict(int)
        stmt = select(_S.holder, func.sum(_S.quantity)).where(
            _S.kind == "borrow", _S.state == "used", _S.asset == cea(year)
        )
        for holder, quantity in self.conn.execute(stmt.group_by(_S.holder)):
            owed[holder] += int(quantity)
        stmt = select(_A.holder, func.sum(_A.quantity)).where(
            _A.kind == "borrow_deduction", _A.year == year
        )
        for holder, quantity in self.conn.execute(stmt.group_by(_A.holder)):
            owed[holder] -= int(quantity)
        return {h: q for h, q in owed.items() if q > 0}

    def allocated_units(self, holder: str, years: range) -> int:
        """Units of the vintages `years` the holder got by allocation, net of true-ups (from the
        ledger: allocate and true_up transfers into and out of its holding accounts)."""
        ac = t.accounts.c
        tr = t.transfers.c
        ids = select(ac.id).where(
            ac.holder == holder,
            ac.purpose == Purpose.holding,
            ac.asset.in_([cea(y) for y in years]),
        )
        signed = case((tr.credit_account_id.in_(ids), tr.amount), else_=-tr.amount)
        stmt = select(func.coalesce(func.sum(signed), 0)).where(
            tr.code.in_([TransferCode.allocate, TransferCode.true_up]),
            or_(tr.credit_account_id.in_(ids), tr.debit_account_id.in_(ids)),
        )
        return int(self.conn.execute(stmt).scalar_one())

    def allocations(self, years: range) -> dict[str, int]:
        """`allocated_units` of every holder at once: {holder: units of the vintages `years`
        got by allocation, net of true-ups}; holders with none are left out."""
        ac = t.accounts.c
        tr = t.transfers.c
        holding = (
            select(ac.id, ac.holder)
            .where(ac.purpose == Purpose.holding, ac.asset.in_([cea(y) for y in years]))
            .subquery()
        )
        moved = tr.code.in_([TransferCode.allocate, TransferCode.true_up])
        out: dict[str, int] = defaultdict(int)
        for side, sign in ((tr.credit_account_id, 1), (tr.debit_account_id, -1)):
            stmt = (
                select(holding.c.holder, func.sum(tr.amount))
                .join(holding, holding.c.id == side)
                .where(moved)
                .group_by(holding.c.holder)
            )
            for holder, amount in self.conn.execute(stmt):
                out[holder] += sign * int(amount)
        return {h: units for h, units in out.items() if units}

    # -- surrenders --------------------------------------------------------------------------

    def insert_surrender(self, row: SurrenderRow) -> None:
        self.conn.execute(
            c.surrenders.insert().values(
                id=row.id,
                holder=row.holder,
                period=row.period,
                asset=row.asset,
                quantity=row.quantity,
                kind=row.kind,
                state=row.state,
                at=row.at,
            )
        )

    def surrender_row(self, surrender_id: str) -> SurrenderRow | None:
        row = self.conn.execute(select(c.surrenders).where(_S.id == surrender_id)).first()
        return None if row is None else _surrender(row)

    def surrender_rows(self, period: str, *, state: str | None = None) -> list[SurrenderRow]:
        stmt = select(c.surrenders).where(_S.period == period)
        if state is not None:
            stmt = stmt.where(_S.state == state)
        return [_surrender(r) for r in self.conn.execute(stmt.order_by(_S.at, _S.id))]

    def decide_surrender(self, surrender_id: str, state: str, at: int) -> None:
        self.conn.execute(
            update(c.surrenders).where(_S.id == surrender_id).values(state=state, decided_at=at)
        )

    def offsets_of(self, period: str, holder: str) -> int:
        """CCER put to the period's offsets, pending or used."""
        stmt = select(func.coalesce(func.sum(_S.quantity), 0)).where(
            _S.period == period,
            _S.holder == holder,
            _S.asset == CCER,
            _S.state.in_(("pending", "used")),
        )
        return int(self.conn.execute(stmt).scalar_one())

    # -- status ------------------------------------------------------------------------------

    def compliance_facts(self, period: Period) -> list[Facts]:
        """Every entity the period concerns (key emitters, and any holder with emissions or
        surrenders in it), with its emissions and surrenders, set-based."""
        emissions: dict[str, dict[int, int | str]] = defaultdict(dict)
        stmt = select(_E.holder, _E.year, _E.tonnes).where(
            _E.year >= period.first_year, _E.year <= period.last_year
        )
        for holder, year, tonnes in self.conn.execute(stmt):
            emissions[holder][year] = EXCLUDED_YEAR if tonnes is None else tonnes
        sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        kind = case(
            (_S.state == "pending", "pending"),
            (_S.kind == "borrow", "borrowed"),
            (_S.asset == CCER, "ccer"),
            else_="cea",
        )
        stmt2 = (
            select(_S.holder, kind, func.sum(_S.quantity))
            .where(_S.period == period.id, _S.state.in_(("pending", "used")))
            .group_by(_S.holder, kind)
        )
        for holder, what, quantity in self.conn.execute(stmt2):
            sums[holder][what] += int(quantity)
        entities = self.conn.execute(select(c.compliance_entities))
        years = {r.holder: (r.first_year, r.last_year) for r in entities}
        hc = t.holders.c
        emitters = self.conn.execute(select(hc.id).where(hc.kind == HolderKind.key_emitter))
        holders = set(emitters.scalars()) | set(emissions) | set(sums)
        return [
            Facts(
                h,
                *years.get(h, (None, None)),
                emissions=emissions.get(h, {}),
                cea=sums[h]["cea"] if h in sums else 0,
                borrowed=sums[h]["borrowed"] if h in sums else 0,
                ccer=sums[h]["ccer"] if h in sums else 0,
                ccer_pending=sums[h]["pending"] if h in sums else 0,
            )
            for h in sorted(holders)
        ]

    def insert_compliance_status(
        self, period: str, rows: Sequence[RecordedStatus], *, at: int
    ) -> None:
        self.conn.execute(
            c.compliance_status.insert(),
            [
                {
                    "period": period,
                    "label": r.line.label,
                    "holder": r.line.holder,
                    "status": r.line.status.value,
                    "obligation": r.line.obligation,
                    "surrendered": r.line.surrendered,
                    "offset_used": r.line.offset,
                    "borrowed": r.line.borrowed,
                    "shortfall": r.shortfall,
                    "penalty_fen": r.penalty_fen,
                    "price_fen": r.price_fen,
                    "closed_at": at,
                }
                for r in rows
            ],
        )

    def recorded_status(self, period: str, label: str) -> list[RecordedStatus]:
        cs = c.compliance_status.c
        stmt = (
            select(c.compliance_status)
            .where(cs.period == period, cs.label == label)
            .order_by(cs.holder)
        )
        return [
            RecordedStatus(
                StatusLine(
                    r.holder,
                    r.label,
                    Status(r.status),
                    r.obligation,
                    r.surrendered,
                    r.offset_used,
                    0,
                    r.borrowed,
                ),
                r.shortfall,
                r.penalty_fen,
                r.price_fen,
            )
            for r in self.conn.execute(stmt)
        ]

    def cea_traded(self, start_us: int, end_us: int) -> tuple[int, int]:
        """(value in fen, tonnes) of CEA traded in [start, end): the penalty's reference price."""
        tc = t.trades.c
        stmt = select(
            func.coalesce(func.sum(tc.price_fen * tc.quantity_t), 0),
            func.coalesce(func.sum(tc.quantity_t), 0),
        ).where(and_(tc.instrument.like("CEA-%"), tc.at_us >= start_us, tc.at_us < end_us))
        value, volume = self.conn.execute(stmt).one()
        return int(value), int(volume)


def _surrender(row: Any) -> SurrenderRow:
    return SurrenderRow(
        row.id, row.holder, row.period, row.asset, row.quantity, row.kind, row.state, row.at
    )


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
