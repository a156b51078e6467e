"""`cets compliance`: periods, allocation plans, verified emissions, surrender, offsets, the
relief rule's borrowing, the close and the status table, over the compliance service (no rules
here; see `cets.service.compliance` and `cets.service.allocation_plans`):

    period open FIRST [LAST] [--deadline D] [--cumulative] [--rule key=value ...]
    emissions enter ACCOUNT YEAR TONNES|excluded [--reason R] | emissions import FILE
    plan import FILE | plan output YEAR ACCOUNT LINE OUTPUT | plan pre-allocate YEAR
    plan final-allocate YEAR | surrender ACCOUNT YEAR ASSET QUANTITY (CCER: put to offset)
    offset use ID | offset reject ID [--reason R] (ID: the surrender's --id)
    borrow ACCOUNT YEAR QUANTITY | close YEAR | status YEAR [--csv F | --xlsx F | --json]

Files are CSV or XLSX (`cets.adapters.importers.compliance_files` names their columns).
Commands act as a registered person (`--as`, default `$CETS_PERSON`, else `admin`) through the
gate the API and `cets registry` use: the person's role is checked (the authority runs periods,
plans, emissions, offsets, borrowing and the close; an entity's operator with `surrender`
surrenders for it), four-eyes applies when `--config` asks for it (a parked request is said so
and exits 0), and each write carries a client id (`--id`, default a new one), its idempotency
key. `--at 2025-01-01T09:00:00` acts at that Asia/Shanghai local time instead of now, as in
`cets market` (rehearsals, tests: the close is refused until the deadline has passed).

Exit codes (`cets market`'s and `cets bank`'s): 0 done; 1 refused (`code (field f): message` on
stderr); 2 bad input: an argument that is not a year, tonnes, date or asset, or a file that
cannot be read, with every problem listed by row and column and nothing imported.

`status` prints the entities the period concerns and the two compliance rates; `--json` prints
both, `--csv` writes the table, `--xlsx` a workbook with a "Status" and a "Rates" sheet
(`compliance_report`). Staff who read the registry see every entity; an entity's operator (with
`read`) its own line only, and the rates of that line alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from cets.adapters.importers.compliance_files import (
    ComplianceFileError,
    read_emissions,
    read_plan,
)
from cets.domain.errors import DomainError, RejectCode
from cets.domain.registry.access import HOLDER_ROLES, Person, authorize
from cets.domain.units import CCER, AmountError, AssetError, parse_asset, parse_tonnes
from cets.entrypoints import cli_admin as admin
from cets.entrypoints import cli_market_view as view
from cets.entrypoints import compliance_report as report
from cets.entrypoints.cli_market_view import JsonOption, fail, out, refuse
from cets.entrypoints.cli_writes import Act as _Act
from cets.entrypoints.cli_writes import write as _write
from cets.service.clock import SettableClock, SystemClock, from_us
from cets.service.compliance import Compliance, StatusTable
from cets.service.operations import Gate
from cets.service.ports import CommandResult
from cets.service.registry import Registry

compliance_app = typer.Typer(
    help="Compliance: periods, allocation plans, emissions, surrender, offsets, borrowing, the "
    "close and the status.",
    no_args_is_help=True,
)
period_app = typer.Typer(help="Compliance periods and their rules.", no_args_is_help=True)
emissions_app = typer.Typer(help="Verified emissions: one entry, or a file.", no_args_is_help=True)
plan_app = typer.Typer(
    help="Allocation plans (benchmark method) and the allocations made from them.",
    no_args_is_help=True,
)
offset_app = typer.Typer(
    help="The authority's decision on a pending CCER offset.", no_args_is_help=True
)
compliance_app.add_typer(period_app, name="period")
compliance_app.add_typer(emissions_app, name="emissions")
compliance_app.add_typer(plan_app, name="plan")
compliance_app.add_typer(offset_app, name="offset")

Year = Annotated[int, typer.Argument(help="A compliance year, e.g. 2023.")]
Holder = Annotated[str, typer.Argument(help="The entity (holder id).")]
Quantity = Annotated[int, typer.Argument(help="Whole tonnes.")]
FileArg = Annotated[Path, typer.Argument(help="A .csv or .xlsx file.")]
Reason = Annotated[str | None, typer.Option("--reason", help="Why (a correction needs one).")]


@dataclass
class _Desk:
    """The acting person, the compliance service and the gate for one command."""

    person: Person
    compliance: Compliance
    gate: Gate


@contextmanager
def _desk(db: str | None, actor: str, config: Path | None, at: str | None) -> Iterator[_Desk]:
    moment = view.local_moment(at)
    session = admin.Session(db, actor, config)
    clock = SystemClock() if moment is None else SettableClock(moment)
    compliance = Compliance(session.store, clock, session.policy)
    registry = Registry(session.store, clock, calendar=session.calendar)
    gate = Gate(registry, session.policy, compliance=compliance)
    try:
        yield _Desk(session.person, compliance, gate)
    finally:
        session.store.close()


def _submit(act: _Act, kind: str, params: dict[str, Any], what: str) -> CommandResult:
    """Run `kind` through the gate and say what became of it; a refusal exits 1."""
    with _desk(act.db, act.actor, act.config, act.at) as desk:
        result = desk.gate.submit(desk.person, kind, act.cmd_id, params)
    if result.code == RejectCode.approval_required:
        message = f"pending approval: {act.cmd_id} ({result.message})"
        out.print(message, highlight=False, markup=False)
        return result
    if not result.ok:
        assert result.code is not None
        refuse(result.code, result.message, result.field)
    again = " (replayed: this id already ran)" if result.replayed else ""
    seq = f" as journal entry {result.seq}" if result.seq else ""
    out.print(f"{what}: accepted {act.cmd_id}{seq}{again}", highlight=False, markup=False)
    return result


# -- periods ----------------------------------------------------------------------------------


def _rules(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs: true/false, whole numbers, else the text (`gap_cap_pct=off`)."""
    rules: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = (part.strip() for part in pair.partition("="))
        if not sep or not key or not text:
            fail(f"--rule {pair!r}: give a rule as key=value (offset_cap_pct=10, relief=false)")
        value: Any = text
        if text.lower() in ("true", "false"):
            value = text.lower() == "true"
        elif text.isdigit():
            value = int(text)
        rules[key] = value
    return rules


@_write(period_app, "open")
def period_open(
    act: _Act,
    first: Year,
    last: Annotated[int | None, typer.Argument(help="The last year (default: FIRST).")] = None,
    deadline: Annotated[
        str | None, typer.Option(help="Surrender deadline, YYYY-MM-DD (default: the policy's).")
    ] = None,
    cumulative: Annotated[
        bool, typer.Option("--cumulative", help="A status per year, obligations cumulated.")
    ] = False,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="A rule of the period: key=value.")
    ] = None,
) -> None:
    """Open compliance years FIRST..LAST as one period, with its own rules."""
    due = None
    if deadline is not None:
        try:
            due = date.fromisoformat(deadline)
        except ValueError:
            fail(f"--deadline {deadline!r}: give a date like 2025-12-31")
    params = {
        "first_year": first,
        "last_year": last,
        "deadline": due,
        "cumulative": cumulative,
        "rules": _rules(rule or []),
    }
    years = str(first) if last is None or last == first else f"{first}-{last}"
    _submit(act, "open_period", params, f"period {years} opened")


# -- verified emissions -------------------------------------------------------------------------


@emissions_app.command("history")
def emissions_history(
    account: Holder,
    year: Year,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    config: admin.ConfigOption = None,
) -> None:
    """Every entry of an entity's verified emissions for a year: each correction with the value
    it replaced, its reason, who and when."""
    with _desk(db, actor, config, None) as desk:
        try:
            authorize(desk.person, "read_compliance", {"account": account})
            history = desk.compliance.emission_history(account, year)
        except DomainError as refused:
            refuse(refused.code, refused.message, refused.field)
    rows = [
        {
            "revision": e.revision,
            "tonnes": "excluded" if e.tonnes is None else e.tonnes,
            "previous": e.previous,
            "reason": e.reason,
            "entered_at": from_us(e.entered_at).isoformat(),
            "entered_by": e.entered_by,
        }
        for e in history
    ]
    if as_json:
        view.emit(rows, True)
    else:
        columns = ("revision", "tonnes", "previous", "reason", "entered_at", "entered_by")
        view.show(view.rows_table(rows, *columns))


@_write(emissions_app, "enter")
def emissions_enter(
    act: _Act,
    account: Holder,
    year: Year,
    tonnes: Annotated[str, typer.Argument(help="Verified emissions in whole tonnes, or excluded.")],
    reason: Reason = None,
) -> None:
    """Enter (or correct, with --reason) an entity's verified emissions for a year."""
    excluded = tonnes.strip().lower() == "excluded"
    amount = None
    if not excluded:
        try:
            amount = parse_tonnes(tonnes, field="tonnes", allow_zero=True)
        except AmountError as exc:
            fail(f"{exc} (or 'excluded')")
    params = dict(account=account, year=year, tonnes=amount, excluded=excluded, reason=reason)
    shown = "excluded" if excluded else f"{amount:,} t"
    what = f"emissions of {account} for {year}: {shown}"
    _submit(act, "emissions", params, what)


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        fail(f"{file}: {exc}")


def _refused_file(file: Path, exc: ComplianceFileError) -> None:
    fail("\n".join([f"{file}: refused, nothing imported", *(f"  {p}" for p in exc.problems)]))


@_write(emissions_app, "import")
def emissions_import(act: _Act, file: FileArg) -> None:
    """Enter a file of verified emissions (account, year, tonnes, reason): all or nothing."""
    try:
        entries = read_emissions(_read(file), file.name)
    except ComplianceFileError as exc:
        _refused_file(file, exc)
        return
    params = {"entries": [asdict(e) | {"excluded": e.tonnes is None} for e in entries]}
    what = f"{file}: {len(entries)} emissions entries"
    _submit(act, "import_emissions", params, what)


# -- allocation plans -------------------------------------------------------------------------


@_write(plan_app, "import")
def plan_import(act: _Act, file: FileArg) -> None:
    """Import allocation plan lines (a line imported again replaces the earlier one)."""
    try:
        lines = read_plan(_read(file), file.name)
    except ComplianceFileError as exc:
        _refused_file(file, exc)
        return
    years = ", ".join(str(y) for y in sorted({x.year for x in lines}))
    entities = len({x.holder for x in lines})
    what = f"{file}: {len(lines)} plan lines of {entities} entities for {years}"
    _submit(act, "allocation_plan", {"lines": lines}, what)


@_write(plan_app, "output")
def plan_output(
    act: _Act,
    year: Year,
    account: Holder,
    line: Annotated[str, typer.Argument(help="The plan line.")],
    output: Annotated[int, typer.Argument(help="The line's verified output (whole units).")],
) -> None:
    """Record a plan line's verified output for the year (before the final allocation)."""
    params = {"year": year, "account": account, "line": line, "output": output}
    what = f"verified output of {account} {line} for {year}: {output:,}"
    _submit(act, "verified_output", params, what)


def _allocation(kind: str, year: int, act: _Act) -> None:
    name = "pre-allocation" if kind == "pre_allocate" else "final allocation"
    result = _submit(act, kind, {"year": year}, f"{name} of {year}")
    if result.ok and not result.replayed:
        out.print(f"  {len(result.transfers)} transfers of CEA-{year}", highlight=False)


@_write(plan_app, "pre-allocate")
def plan_pre_allocate(act: _Act, year: Year) -> None:
    """Pre-allocate the year's CEA on the previous year's output, less what is owed."""
    _allocation("pre_allocate", year, act)


@_write(plan_app, "final-allocate")
def plan_final_allocate(act: _Act, year: Year) -> None:
    """The final allocation on verified output (gap cap included): a top-up or a recovery."""
    _allocation("final_allocate", year, act)


# -- surrender, offsets, borrowing, the close ---------------------------------------------------


@_write(compliance_app, "surrender")
def surrender(
    act: _Act,
    account: Holder,
    year: Year,
    asset: Annotated[str, typer.Argument(help="CEA-<vintage>, or CCER (put to offset).")],
    quantity: Quantity,
) -> None:
    """Surrender CEA for a compliance year, or put CCER to offset (up to the offset cap; it
    counts once the authority uses it: `offset use ID`, ID being this command's --id)."""
    try:
        unit = parse_asset(asset, field="asset")
    except AssetError as exc:
        fail(f"asset: {exc}")
    params = {"account": account, "year": year, "asset": unit, "quantity": quantity}
    what = f"{account} surrendered {quantity:,} t {unit} for {year}"
    if unit == CCER:
        what = f"{account} put {quantity:,} t CCER to offset for {year} (offset {act.cmd_id})"
    _submit(act, "surrender", params, what)


OffsetId = Annotated[str, typer.Argument(help="The offset: the client id of its surrender.")]


@_write(offset_app, "use")
def offset_use(act: _Act, offset: OffsetId) -> None:
    """Use a pending CCER offset: it counts towards the obligation."""
    _submit(act, "use_offset", {"offset": offset}, f"offset {offset} used")


@_write(offset_app, "reject")
def offset_reject(act: _Act, offset: OffsetId, reason: Reason = None) -> None:
    """Reject a pending CCER offset: its units go back to the entity."""
    params = {"offset": offset, "reason": reason}
    _submit(act, "reject_offset", params, f"offset {offset} rejected")


@_write(compliance_app, "borrow")
def borrow(act: _Act, account: Holder, year: Year, quantity: Quantity) -> None:
    """The relief rule: lend the entity units of the next vintage, surrendered at once."""
    params = {"account": account, "year": year, "quantity": quantity}
    what = f"{account} borrowed {quantity:,} t of CEA-{year + 1} for {year}"
    _submit(act, "borrow", params, what)


@_write(compliance_app, "close")
def close(act: _Act, year: Year) -> None:
    """After the deadline: record every entity's status, shortfall and penalty for the year's
    period; pending offsets lapse."""
    _submit(act, "compliance_close", {"year": year}, f"compliance of {year} closed")


# -- the status ------------------------------------------------------------------------------


def _table(desk: _Desk, year: int) -> StatusTable:
    """The year's table as the acting person may see it: staff every entity, an entity's
    operator its own line."""
    own = desk.person.holder if desk.person.role in HOLDER_ROLES else None
    try:
        authorize(desk.person, "read_compliance", {} if own is None else {"account": own})
        table = desk.compliance.status_table(year)
    except DomainError as refused:
        refuse(refused.code, refused.message, refused.field)
    if own is None:
        return table
    return replace(table, rows=[r for r in table.rows if r.line.holder == own])


@compliance_app.command("status")
def status(
    year: Year,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write the table as CSV.")] = None,
    xlsx_file: Annotated[
        Path | None, typer.Option("--xlsx", help="Write the table and the rates as XLSX.")
    ] = None,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    config: admin.ConfigOption = None,
) -> None:
    """Every entity's status for the year's period (as recorded at the close, or as it stands),
    and the compliance rates by count and by volume."""
    if sum((csv_file is not None, xlsx_file is not None, as_json)) > 1:
        fail("give one of --csv FILE, --xlsx FILE and --json")
    with _desk(db, actor, config, None) as desk:
        table = _table(desk, year)
    rows, rates = report.status_rows(table), report.rates_dict(table)
    if as_json:
        view.emit({"rates": rates, "rows": rows}, True)
        return
    if csv_file is not None:
        csv_file.write_text(report.status_csv(table), encoding="utf-8")
        out.print(f"{csv_file}: {len(rows)} entities", highlight=False, markup=False)
    elif xlsx_file is not None:
        xlsx_file.write_bytes(report.status_xlsx(table))
        out.print(f"{xlsx_file}: {len(rows)} entities", highlight=False, markup=False)
    else:
        view.show(view.rows_table(rows, *report.COLUMNS))
    out.print(report.rates_text(rates), highlight=False, markup=False)
