"""The scenario runner's compliance steps and the outcome's `compliance` section.

Steps (SCENARIOS.md's `emissions`, `surrender`, `compliance_close`, and more this issue adds):
- `emissions` (account, year, tonnes; reason for a correction): `tonnes: excluded` excludes the
  year;
- `surrender` (account, year, asset, quantity): CEA is surrendered; CCER is put to offset and,
  as the runner acts as the authority too, used at once, unless `pending: true` leaves it pending;
- `compliance_close` (year): after the deadline, record the statuses;
- `compliance_period` (first_year, last_year?, deadline?, cumulative?, rules?): open a period
  with its own rules (`rules: {gap_cap_pct: off, relief: false, offset_cap_pct: 10, ...}`);
- `operation_years` (account, first_year?, last_year?);
- `allocation_plan` (year, lines: [{account, line, benchmark, factors?, previous_output}]),
  `verified_output` (year, account, line, output), `pre_allocate` (year), `final_allocate` (year);
- `borrow` (account, year, quantity): the relief rule;
- `use_offset` / `reject_offset` (step: the index of the `surrender` step that put the CCER to
  offset; reason?).

The outcome's `compliance` maps each status label ("2023", or "2021-2022" for a two-year period)
to each entity's status, obligation, surrendered (offsets included), offset, offset_pending,
borrowed, shortfall, penalty (money) and whether the status is `closed`. Entities a period does
not concern (status NOT_APPLICABLE) are left out.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from cets.domain.compliance.allocation import PlanError, PlanLine, decimal_rate
from cets.domain.compliance.status import Status
from cets.domain.units import format_fen, parse_tonnes
from cets.service.compliance import Compliance

# step type -> (required fields, optional fields)
STEPS: dict[str, tuple[str, str]] = {
    "emissions": ("account year tonnes", "reason"),
    "surrender": ("account year asset quantity", "pending"),
    "compliance_close": ("year", ""),
    "compliance_period": ("first_year", "last_year deadline cumulative rules"),
    "operation_years": ("account", "first_year last_year"),
    "allocation_plan": ("year lines", ""),
    "verified_output": ("year account line output", ""),
    "pre_allocate": ("year", ""),
    "final_allocate": ("year", ""),
    "borrow": ("account year quantity", ""),
    "use_offset": ("step", ""),
    "reject_offset": ("step", "reason"),
}
# Scenario step -> the gate's operation, where the names differ.
OPERATION = {"compliance_period": "open_period"}
_LINE_FIELDS = frozenset({"account", "line", "benchmark", "factors", "previous_output", "output"})


class StepError(ValueError):
    """A compliance step's field that is not valid; the message names it."""


def typed(kind: str, args: dict[str, Any]) -> dict[str, Any]:
    """The compliance fields of a step, typed (the generic ones are typed by the runner)."""
    out = dict(args)
    for name in ("year", "first_year", "last_year", "output"):
        if name in args:
            out[name] = _whole(name, args[name])
    if kind == "emissions":
        tonnes = args["tonnes"]
        if tonnes == "excluded":
            out["tonnes"], out["excluded"] = None, True
        else:
            out["tonnes"] = parse_tonnes(tonnes, field="tonnes", allow_zero=True)
    for name in ("pending", "cumulative"):
        if name in args and not isinstance(args[name], bool):
            raise StepError(f"field '{name}' must be true or false, got {args[name]!r}")
    if "deadline" in args:
        out["deadline"] = _day(args["deadline"])
    if "rules" in args and not isinstance(args["rules"], dict):
        raise StepError(f"field 'rules' must be a mapping of rules, got {args['rules']!r}")
    if kind == "allocation_plan":
        out["lines"] = _lines(out["year"], args["lines"])
    if kind in ("use_offset", "reject_offset"):
        out["offset"] = f"s{out.pop('step')}"
    return out


def _whole(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StepError(f"field '{name}' must be a whole number, got {value!r}")
    return value


def _day(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise StepError(f"field 'deadline' {value!r} is not a date like 2024-12-31") from None


def _lines(year: int, value: Any) -> list[PlanLine]:
    if not isinstance(value, list) or not value:
        raise StepError("field 'lines' must be a non-empty list of plan lines")
    return [_line(year, f"lines[{i}]", item) for i, item in enumerate(value)]


def _line(year: int, where: str, item: Any) -> PlanLine:
    if not isinstance(item, dict):
        raise StepError(f"{where}: expected a mapping of fields")
    unknown = sorted(set(item) - _LINE_FIELDS)
    if unknown:
        raise StepError(f"{where}: unknown field '{unknown[0]}'")
    for name in ("account", "line", "benchmark", "previous_output"):
        if name not in item:
            raise StepError(f"{where}: missing field '{name}'")
    factors = item.get("factors", [])
    if not isinstance(factors, list):
        raise StepError(f"{where}: field 'factors' must be a list of decimals")
    try:
        return PlanLine(
            year,
            str(item["account"]),
            str(item["line"]),
            decimal_rate(item["benchmark"], field=f"{where}.benchmark"),
            tuple(decimal_rate(f, field=f"{where}.factors[{i}]") for i, f in enumerate(factors)),
            _whole(f"{where}.previous_output", item["previous_output"]),
            _whole(f"{where}.output", item["output"]) if "output" in item else None,
        )
    except PlanError as exc:
        raise StepError(str(exc)) from exc


def section(compliance: Compliance) -> dict[str, Any]:
    """The outcome's `compliance` section."""
    out: dict[str, Any] = {}
    for table in compliance.status_tables():
        out[table.label] = {
            r.line.holder: {
                "status": r.line.status.value,
                "obligation": r.line.obligation,
                "surrendered": r.line.surrendered,
                "offset": r.line.offset,
                "offset_pending": r.line.offset_pending,
                "borrowed": r.line.borrowed,
                "shortfall": r.shortfall,
                "penalty": format_fen(r.penalty_fen),
                "closed": table.closed,
            }
            for r in table.rows
            if r.line.status != Status.NOT_APPLICABLE
        }
    return out
