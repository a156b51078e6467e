"""Settlement runs over HTTP (see `cets.service.settlement`): the runs and their reconciliation,
reports per run and per account as JSON, CSV or XLSX, confirmation (through the four-eyes gate:
202 when a second person must approve), delivery of a confirmed run, objections, corrections.

Who: staff (authority, registry and exchange operators, supervisors, settlement banks) read every
run; a holder's operator (with `read`) reads its own account's report; the registry operator
confirms, delivers and corrects; a party's operator (with `trade`) objects for its own account."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from cets.domain.errors import RejectCode
from cets.domain.settlement.runs import CorrectionLeg, Run, RunStatus
from cets.entrypoints.api import schemas as s
from cets.entrypoints.api.deps import Caller, Svc, allow, created, refused
from cets.entrypoints.api.errors import ApiError, responses
from cets.entrypoints.api.routes.registry import operation_out
from cets.entrypoints.scenario_steps import LegError, parse_legs
from cets.entrypoints.settlement_report import (
    account_report,
    as_csv,
    as_xlsx,
    run_report,
    run_summary,
)
from cets.service.ports import CommandResult

router = APIRouter(prefix="/v1/settlement", tags=["settlement"])

RunPath = Annotated[str, Path(max_length=40, pattern=s.ID_PATTERN)]
HolderPath = Annotated[str, Path(max_length=64, pattern=s.HOLDER_PATTERN)]
Format = Annotated[Literal["json", "csv", "xlsx"], Query()]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT_FORMATS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "JSON, or CSV (format=csv) or a workbook (format=xlsx)",
    }
}


class RunOut(BaseModel):
    id: str
    day: str
    kind: str
    corrects: str | None
    reason: str | None
    status: str
    trades: int
    prepared_at: str | None
    prepared_by: str
    confirmed_at: str | None
    confirmed_by: str | None
    breaks_accepted: str | None
    delivered_at: str | None
    objections_until: str | None


class BreakOut(BaseModel):
    kind: str
    ref: str
    account: str | None
    asset: str
    expected: int | None
    actual: int | None
    detail: str


class LineOut(BaseModel):
    account: str
    asset: str
    units_in: int
    units_out: int
    funds_in: str
    funds_out: str
    fees: str
    funds_net: str
    trades: int


class ObjectionOut(BaseModel):
    id: str
    account: str
    trade: str | None
    text: str
    by: str
    at: str | None
    resolution: str | None


class TotalsOut(BaseModel):
    trades: int
    units: int
    value: str
    fees: str
    accounts: int


class RunReportOut(BaseModel):
    run: RunOut
    totals: TotalsOut
    accounts: list[LineOut]
    breaks: list[BreakOut]
    objections: list[ObjectionOut]


class AccountTradeOut(BaseModel):
    trade: str
    instrument: str
    side: str
    price: str
    quantity: int
    value: str
    fee: str
    settled: bool


class AccountReportOut(BaseModel):
    run: RunOut
    account: str
    lines: list[LineOut]
    trades: list[AccountTradeOut]


class ConfirmIn(s.Body):
    client_id: s.ClientId
    accept_breaks: s.Text | None = None


class ObjectionIn(s.Body):
    client_id: s.ClientId
    account: s.HolderRef
    text: Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")]
    trade: Annotated[str | None, Field(default=None, max_length=32, pattern=s.ID_PATTERN)] = None


class LegIn(s.Body):
    from_: Annotated[str, Field(alias="from", max_length=64, pattern=s.HOLDER_PATTERN)]
    to: Annotated[str, Field(max_length=64, pattern=s.HOLDER_PATTERN)]
    asset: s.Asset | None = None
    quantity: Annotated[int | None, Field(default=None, ge=1, le=10**15)] = None
    amount: s.Money | None = None
    trade: Annotated[str | None, Field(default=None, max_length=32, pattern=s.ID_PATTERN)] = None


class CorrectionIn(s.Body):
    client_id: Annotated[
        str,
        Field(
            min_length=1, max_length=40, pattern=s.ID_PATTERN, description="the correction run's id"
        ),
    ]
    corrects: Annotated[str, Field(max_length=40, pattern=s.ID_PATTERN)]
    reason: s.Text
    objection: Annotated[str | None, Field(default=None, max_length=100, pattern=s.ID_PATTERN)] = (
        None
    )
    reverse: Annotated[
        str | None,
        Field(
            default=None, max_length=32, pattern=s.ID_PATTERN, description="a trade to undo whole"
        ),
    ] = None
    legs: list[LegIn] | None = None


class ResultOut(BaseModel):
    id: str
    status: str
    replayed: bool = False
    seq: int | None = None


def _run(svc: Svc, run_id: str) -> Run:
    run = svc.store.settlement_run(run_id)
    if run is None:
        raise ApiError(
            RejectCode.unknown_run, f"no settlement run {run_id!r}", field="run", status=404
        )
    return run


def _refused(result: CommandResult) -> ApiError:
    if result.code == RejectCode.unknown_run and result.field == "run":
        return ApiError(result.code, result.message, field=result.field, status=404)
    return refused(result)


def _render(report: dict[str, Any], format: str, name: str) -> Response | dict[str, Any]:
    if format == "csv":
        return Response(
            as_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            as_xlsx(report),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return report


@router.get(
    "/runs",
    response_model=list[RunOut],
    responses=responses(401, 403, 422),
    summary="Settlement runs, newest first",
)
def list_runs(
    svc: Svc,
    person: Caller,
    day: Annotated[s.IsoDate | None, Query()] = None,
    status: Annotated[Literal["prepared", "confirmed", "delivered"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    allow(person, "read_settlement")
    return [
        run_summary(run) for run in svc.store.settlement_runs(day=day, status=status, limit=limit)
    ]


@router.get(
    "/runs/{run}",
    response_model=RunReportOut,
    responses={**REPORT_FORMATS, **responses(401, 403, 404, 422)},
    summary="A run's report: totals, every account's lines, breaks, objections",
)
def get_run(run: RunPath, svc: Svc, person: Caller, format: Format = "json") -> Any:
    allow(person, "read_settlement")
    found = _run(svc, run)
    return _render(run_report(svc.store, found), format, f"settlement-{run}")


@router.get(
    "/runs/{run}/breaks",
    response_model=list[BreakOut],
    responses=responses(401, 403, 404, 422),
    summary="The run's reconciliation now: every break, with both amounts",
)
def get_breaks(run: RunPath, svc: Svc, person: Caller) -> list[dict[str, Any]]:
    allow(person, "read_settlement")
    return [b.as_dict() for b in svc.store.settlement_breaks(_run(svc, run))]


@router.get(
    "/runs/{run}/accounts/{account}",
    response_model=AccountReportOut,
    responses={**REPORT_FORMATS, **responses(401, 403, 404, 422)},
    summary="One account's report in a run: its lines and its trades with their fees",
)
def get_account(
    run: RunPath, account: HolderPath, svc: Svc, person: Caller, format: Format = "json"
) -> Any:
    allow(person, "read_settlement_account", {"account": account})
    found = _run(svc, run)
    return _render(account_report(svc.store, found, account), format, f"settlement-{run}-{account}")


@router.post(
    "/runs/{run}/confirm",
    status_code=201,
    response_model=s.OperationOut,
    responses={
        200: {"model": s.OperationOut},
        202: {"model": s.OperationOut, "description": "waiting for a second person"},
        **responses(401, 403, 404, 409, 422),
    },
    summary="Confirm a prepared run (then it is delivered); breaks must be accepted in writing",
)
def confirm(
    run: RunPath, body: ConfirmIn, response: Response, svc: Svc, person: Caller
) -> s.OperationOut:
    allow(person, "confirm_settlement")
    if _run(svc, run).status != RunStatus.prepared:  # nothing to approve: answer how it is
        result = svc.exchange.confirm_run(run, actor=person.id)
    else:
        params = {"run": run, "accept_breaks": body.accept_breaks}
        result = svc.gate.submit(person, "confirm_settlement", body.client_id, params)
    if not result.ok and result.code != RejectCode.approval_required:
        raise _refused(result)
    return operation_out(body.client_id, result, response)


@router.post(
    "/runs/{run}/deliver",
    response_model=ResultOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Deliver a confirmed run (or finish an interrupted delivery)",
)
def deliver(run: RunPath, svc: Svc, person: Caller) -> ResultOut:
    allow(person, "deliver_settlement")
    _run(svc, run)
    result = svc.exchange.deliver_run(run, actor=person.id)
    if not result.ok:
        raise _refused(result)
    return ResultOut(id=run, status=result.message, replayed=result.replayed, seq=result.seq)


@router.post(
    "/runs/{run}/objections",
    status_code=201,
    response_model=ResultOut,
    responses={200: {"model": ResultOut}, **responses(401, 403, 404, 409, 422)},
    summary="Object to a run for an account party to it, until the next trading day opens",
)
def object_to(
    run: RunPath, body: ObjectionIn, response: Response, svc: Svc, person: Caller
) -> ResultOut:
    allow(person, "object_to_settlement", {"account": body.account})
    _run(svc, run)
    result = svc.exchange.object_to_run(
        body.client_id, run, account=body.account, text=body.text, trade=body.trade, actor=person.id
    )
    if not result.ok:
        raise _refused(result)
    created(result, response)
    return ResultOut(
        id=body.client_id, status=result.message, replayed=result.replayed, seq=result.seq
    )


@router.post(
    "/corrections",
    status_code=201,
    response_model=ResultOut,
    responses=responses(401, 403, 409, 422),
    summary="Prepare a correction run of a delivered run: its own legs, or a trade reversed",
)
def correct(body: CorrectionIn, response: Response, svc: Svc, person: Caller) -> ResultOut:
    allow(person, "correct_settlement")
    legs: tuple[CorrectionLeg, ...] = ()
    if (body.legs is None) == (body.reverse is None):
        raise ApiError(RejectCode.invalid_field, "give either legs or reverse", field="legs")
    if body.legs is not None:
        try:
            legs = parse_legs(
                [leg.model_dump(by_alias=True, exclude_none=True) for leg in body.legs]
            )
        except LegError as exc:
            raise ApiError(RejectCode.invalid_field, str(exc), field="legs") from exc
    result = svc.exchange.correct_run(
        body.client_id,
        corrects=body.corrects,
        legs=legs,
        reverse=body.reverse,
        reason=body.reason,
        objection=body.objection,
        actor=person.id,
    )
    if not result.ok:
        raise _refused(result)
    created(result, response)
    return ResultOut(
        id=body.client_id, status=result.message, replayed=result.replayed, seq=result.seq
    )
