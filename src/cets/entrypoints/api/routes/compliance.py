"""Compliance over HTTP (see `cets.service.compliance` and `allocation_plans`): periods and the
years each entity operates in, verified emissions (one entry, or a CSV/XLSX file), allocation
plans (JSON lines, or a file), verified output, pre- and final allocation, surrender and CCER
offsets, the relief rule's borrowing, the close after the deadline, and the status tables.

Every command goes through the gate (roles, four-eyes: 202 when a second person must approve),
its `id` is its client id (a file's: the query's `?id=`): the same id and body again is
answered as the first time (200), the same id with another body is `duplicate_id`. A file is
all-or-nothing: a file with problems is a 422 listing every one of them, row and column, and
enters nothing. A surrender is answered with its state now (`used`; `pending` for CCER until the
authority uses or rejects it).

Who: the authority runs everything but surrender; a holder's operator with `surrender`
surrenders from its own account. Staff readers (authority, registry operator, supervisor) read
every entity's status; a holder's operator with `read` reads the same table holding its own row
only, the rates of that one row included (filtered, not refused).
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from cets.adapters.importers.compliance_files import (
    ComplianceFileError,
    read_emissions,
    read_plan,
)
from cets.domain.errors import DomainError, RejectCode
from cets.domain.registry.access import HOLDER_ROLES, Person
from cets.domain.units import cea
from cets.entrypoints.api import compliance_schemas as cs
from cets.entrypoints.api import schemas as s
from cets.entrypoints.api.deps import Caller, Svc, allow, created, from_domain
from cets.entrypoints.api.errors import PROBLEM_JSON, ApiError, responses
from cets.entrypoints.api.routes.registry import operation_out
from cets.entrypoints.api.routes.settlement import REPORT_FORMATS, XLSX
from cets.entrypoints.compliance_report import rates_dict, status_csv, status_rows, status_xlsx
from cets.service.clock import from_us
from cets.service.compliance import StatusTable
from cets.service.compliance_base import YEAR_MAX, YEAR_MIN
from cets.service.ports import CommandResult

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])

YearPath = Annotated[int, Path(ge=YEAR_MIN, le=YEAR_MAX)]
HolderPath = Annotated[str, Path(max_length=64, pattern=s.HOLDER_PATTERN)]
OffsetPath = Annotated[str, Path(max_length=100, pattern=s.ID_PATTERN)]
IdQuery = Annotated[
    str,
    Query(
        alias="id",
        min_length=1,
        max_length=100,
        pattern=s.ID_PATTERN,
        description="The client's id for this command: its idempotency key",
    ),
]
Format = Annotated[Literal["json", "csv", "xlsx"], Query()]
WRITE: dict[int | str, dict[str, Any]] = {
    200: {"model": s.OperationOut, "description": "a replay of the same id and body"},
    202: {"model": s.OperationOut, "description": "waiting for a second person"},
    **responses(401, 403, 409, 422),
}


def _submit(
    svc: Svc, person: Person, kind: str, cmd_id: str, params: dict[str, Any], response: Response
) -> s.OperationOut:
    """Hand `kind` to the gate and answer as every registry write does."""
    return operation_out(cmd_id, svc.gate.submit(person, kind, cmd_id, params), response)


def _command(
    path: str, summary: str, *, status: int = 201, method: str = "POST", path_404: bool = False
) -> dict[str, Any]:
    """The route of a command: OperationOut, 201 (200 a replay, 202 awaiting approval)."""
    problems = (401, 403, 404, 409, 422) if path_404 else (401, 403, 409, 422)
    return {
        "path": path,
        "methods": [method],
        "status_code": status,
        "response_model": s.OperationOut,
        "responses": {**WRITE, **responses(*problems)},
        "summary": summary,
    }


# -- periods and entities --------------------------------------------------------------------


@router.api_route(**_command("/periods", "Open compliance years as one period, with its rules"))
def open_period(body: cs.PeriodIn, response: Response, svc: Svc, person: Caller) -> s.OperationOut:
    params = {
        "first_year": body.first_year,
        "last_year": body.last_year,
        "deadline": body.deadline,
        "cumulative": body.cumulative,
        "rules": body.rules,
    }
    return _submit(svc, person, "open_period", body.id, params, response)


@router.api_route(
    **_command(
        "/entities/{account}/years",
        "The years an entity operates in (outside them it has no obligation)",
        status=200,
        method="PUT",
    )
)
def operation_years(
    account: HolderPath, body: cs.OperationYearsIn, response: Response, svc: Svc, person: Caller
) -> s.OperationOut:
    params = {"account": account, "first_year": body.first_year, "last_year": body.last_year}
    answer = _submit(svc, person, "operation_years", body.id, params, response)
    if response.status_code == 201:
        response.status_code = 200  # a PUT: the years are set (202 stays: awaiting approval)
    return answer


# -- verified emissions ----------------------------------------------------------------------


@router.api_route(
    **_command("/emissions", "Enter (or correct, with a reason) an entity's verified emissions")
)
def enter_emissions(
    body: cs.EmissionIn, response: Response, svc: Svc, person: Caller
) -> s.OperationOut:
    if body.excluded == (body.tonnes is not None):
        raise ApiError(
            RejectCode.invalid_field,
            "give tonnes, or excluded: true, not both"
            if body.excluded
            else "tonnes is required unless the year is excluded",
            field="tonnes",
        )
    params = {
        "account": body.account,
        "year": body.year,
        "tonnes": body.tonnes,
        "excluded": body.excluded,
        "reason": body.reason,
    }
    return _submit(svc, person, "emissions", body.id, params, response)


async def _file(request: Request) -> tuple[str, bytes]:
    return cs.read_upload(request.headers.get("content-type", ""), await request.body())


UPLOAD: dict[str, Any] = {
    "status_code": 201,
    "response_model": s.OperationOut,
    "responses": {
        **WRITE,
        422: {
            "model": cs.FileProblemsOut,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/FileProblemsOut"}}},
            "description": "Problem details (RFC 9457); a refused file's every problem",
        },
    },
    "openapi_extra": cs.UPLOAD_BODY,
}


@router.get(
    "/emissions/{account}/{year}",
    response_model=cs.EmissionHistoryOut,
    responses=responses(401, 403, 422),
    summary="An entity's verified emissions for a year: every entry and correction, kept for ever",
)
def emission_history(
    account: HolderPath, year: YearPath, svc: Svc, person: Caller
) -> cs.EmissionHistoryOut:
    allow(person, "read_compliance", {"account": account})
    entries = [
        cs.EmissionEntryOut(
            revision=e.revision,
            tonnes=e.tonnes,
            previous=e.previous,
            reason=e.reason,
            command=e.command,
            entered_at=from_us(e.entered_at).isoformat(),
            entered_by=e.entered_by,
        )
        for e in svc.compliance.emission_history(account, year)
    ]
    return cs.EmissionHistoryOut(account=account, year=year, entries=entries)


@router.post(
    "/emissions/import",
    summary="Verified emissions from a CSV or XLSX file (account, year, tonnes, reason), "
    "all-or-nothing",
    **UPLOAD,
)
async def import_emissions(
    request: Request, response: Response, svc: Svc, person: Caller, cmd_id: IdQuery
) -> Any:
    allow(person, "import_emissions")
    name, data = await _file(request)
    try:
        entries = read_emissions(data, name)
    except ComplianceFileError as exc:
        return cs.file_problems(exc)
    params = {
        "entries": [
            {"account": e.account, "year": e.year, "tonnes": e.tonnes, "reason": e.reason}
            for e in entries
        ]
    }
    return _submit(svc, person, "import_emissions", cmd_id, params, response)


# -- allocation plans ------------------------------------------------------------------------


@router.api_route(
    **_command("/plans", "Allocation plan lines (benchmark method); a line again replaces it")
)
def import_plan(body: cs.PlanIn, response: Response, svc: Svc, person: Caller) -> s.OperationOut:
    lines = [line.plan_line(i) for i, line in enumerate(body.lines)]
    return _submit(svc, person, "allocation_plan", body.id, {"lines": lines}, response)


@router.post(
    "/plans/import",
    summary="Allocation plan lines from a CSV or XLSX file, all-or-nothing",
    **UPLOAD,
)
async def import_plan_file(
    request: Request, response: Response, svc: Svc, person: Caller, cmd_id: IdQuery
) -> Any:
    allow(person, "allocation_plan")
    name, data = await _file(request)
    try:
        lines = read_plan(data, name)
    except ComplianceFileError as exc:
        return cs.file_problems(exc)
    return _submit(svc, person, "allocation_plan", cmd_id, {"lines": lines}, response)


@router.api_route(**_command("/plans/{year}/outputs", "A plan line's verified output of the year"))
def record_output(
    year: YearPath, body: cs.OutputIn, response: Response, svc: Svc, person: Caller
) -> s.OperationOut:
    params = {"year": year, "account": body.account, "line": body.line, "output": body.output}
    return _submit(svc, person, "verified_output", body.id, params, response)


@router.api_route(
    **_command("/plans/{year}/pre-allocation", "Pre-allocate the year's CEA from the reserve")
)
def pre_allocate(
    year: YearPath, body: cs.CommandIn, response: Response, svc: Svc, person: Caller
) -> s.OperationOut:
    return _submit(svc, person, "pre_allocate", body.id, {"year": year}, response)


@router.api_route(
    **_command(
        "/plans/{year}/final-allocation",
        "The final allocation on verified output: top up or recover the difference",
    )
)
def final_allocate(
    year: YearPath, body: cs.CommandIn, response: Response, svc: Svc, person: Caller
) -> s.OperationOut:
    return _submit(svc, person, "final_allocate", body.id, {"year": year}, response)


# -- surrender, offsets, borrowing, the close ------------------------------------------------


@router.post(
    "/surrenders",
    status_code=201,
    response_model=cs.SurrenderOut,
    responses={
        200: {"model": cs.SurrenderOut, "description": "a replay of the same id and body"},
        202: {"model": cs.SurrenderOut, "description": "waiting for a second person"},
        **responses(401, 403, 409, 422),
    },
    summary="Surrender CEA for a compliance year, or put CCER to offset (pending until used)",
)
def surrender(
    body: cs.SurrenderIn, response: Response, svc: Svc, person: Caller
) -> cs.SurrenderOut:
    params: dict[str, Any] = body.model_dump(exclude={"id"})
    result = svc.gate.submit(person, "surrender", body.id, params)
    if result.code == RejectCode.approval_required:
        response.status_code = 202
        return cs.SurrenderOut(
            id=body.id, **params, period=None, kind=None, state="pending_approval"
        )
    created(result, response)
    row = svc.compliance.surrender_of(body.id)
    assert row is not None, f"surrender {body.id} accepted but not found"
    return cs.SurrenderOut(
        id=body.id,
        **params,
        period=row.period,
        kind=row.kind,
        state=row.state,
        replayed=result.replayed,
        seq=result.seq,
    )


def _offset_refused(result: CommandResult) -> None:
    """An offset the path names that is not there: 404, as a path that names nothing."""
    if result.code == RejectCode.unknown_reference and result.field == "offset":
        raise ApiError(result.code, result.message, field=result.field, status=404)


@router.api_route(
    **_command(
        "/offsets/{offset_id}/use", "Use a pending CCER offset: it counts from now", path_404=True
    )
)
def use_offset(
    offset_id: OffsetPath, body: cs.CommandIn, response: Response, svc: Svc, person: Caller
) -> s.OperationOut:
    result = svc.gate.submit(person, "use_offset", body.id, {"offset": offset_id})
    _offset_refused(result)
    return operation_out(body.id, result, response)


@router.api_route(
    **_command(
        "/offsets/{offset_id}/reject",
        "Reject a pending CCER offset: the units return",
        path_404=True,
    )
)
def reject_offset(
    offset_id: OffsetPath,
    body: cs.OffsetRejectionIn,
    response: Response,
    svc: Svc,
    person: Caller,
) -> s.OperationOut:
    params = {"offset": offset_id, "reason": body.reason}
    result = svc.gate.submit(person, "reject_offset", body.id, params)
    _offset_refused(result)
    return operation_out(body.id, result, response)


@router.api_route(
    **_command("/borrowings", "The relief rule: next vintage's units lent straight to surrender")
)
def borrow(body: cs.BorrowIn, response: Response, svc: Svc, person: Caller) -> s.OperationOut:
    params = {"account": body.account, "year": body.year, "quantity": body.quantity}
    return _submit(svc, person, "borrow", body.id, params, response)


@router.api_route(
    **_command("/closes", "After the deadline: record every status, shortfalls and penalties")
)
def close(body: cs.CloseIn, response: Response, svc: Svc, person: Caller) -> s.OperationOut:
    return _submit(svc, person, "compliance_close", body.id, {"year": body.year}, response)


# -- status ----------------------------------------------------------------------------------


def _table(svc: Svc, person: Person, year: int) -> StatusTable:
    """The status table of `year` as `person` may see it: a holder's operator, its own row."""
    allow(person, "read_compliance", {"account": person.holder})
    try:
        table = svc.compliance.status_table(year)
    except DomainError as exc:
        raise from_domain(exc) from exc
    if person.role in HOLDER_ROLES:
        own = [r for r in table.rows if r.line.holder == person.holder]
        return dataclasses.replace(table, rows=own)
    return table


@router.get(
    "/status/{year}",
    response_model=cs.StatusOut,
    responses={**REPORT_FORMATS, **responses(401, 403, 422)},
    summary="Every entity's status for the year's period, with the rates (JSON, CSV or XLSX)",
)
def status(year: YearPath, svc: Svc, person: Caller, format: Format = "json") -> Any:
    table = _table(svc, person, year)
    name = f"compliance-{table.label}"
    if format == "csv":
        return Response(
            status_csv(table),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            status_xlsx(table),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    rates = rates_dict(table)
    head = {key: rates.pop(key) for key in ("period", "label", "deadline", "closed")}
    return {**head, "rates": rates, "rows": status_rows(table)}


@router.get(
    "/status/{year}/allocations",
    response_model=cs.AllocationsOut,
    responses=responses(401, 403, 422),
    summary="What each entity of the year's status was allocated of the vintages it counts",
)
def status_allocations(year: YearPath, svc: Svc, person: Caller) -> cs.AllocationsOut:
    table = _table(svc, person, year)
    years = table.period.years_of(table.label)
    return cs.AllocationsOut(
        period=table.period.id,
        label=table.label,
        vintages=[cea(y) for y in years],
        allocations=svc.compliance.allocations(table),
    )


@router.get(
    "/status/{year}/rates",
    response_model=cs.RatesTableOut,
    responses=responses(401, 403, 422),
    summary="The compliance rates of the year's status, by count and by volume",
)
def status_rates(year: YearPath, svc: Svc, person: Caller) -> dict[str, Any]:
    return rates_dict(_table(svc, person, year))
