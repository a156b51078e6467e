"""Supervision over HTTP (see `cets.service.supervision`): the alerts the detectors raised, each
with its history and the orders and trades behind it; the supervisor's workflow over an alert
(investigate, take a measure, close with a resolution); the batch scan; the large-holder
reports.

Who: the supervisor, and no one else (`domain.registry.access`: `read_alerts`,
`supervision_scan`, `investigate_alert`, `alert_measure`, `close_alert`): not even the authority
or the registry operator reads an alert (a supervisor reports to the authority through the
`report_to_authority` measure). Everyone else gets 403 `not_authorized`.

The three workflow commands go through the gate; their `id` is their client id: the same id and
body again is answered as the first time (200), the same id with another body is
`duplicate_id`. An alert the path names that does not exist is 404 `unknown_alert`; a step the
alert's state does not allow (a measure on a closed alert) is 409 `alert_state_does_not_allow`;
a measure that restricts or freezes an account that cannot be (already restricted) is 409
`account_state_does_not_allow`. The scan is not a command with a client id: each call scans.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from cets.domain.errors import RejectCode
from cets.domain.registry.access import Person
from cets.domain.supervision.alerts import AlertType
from cets.domain.supervision.records import AlertAction, LargeHolderReport, StoredAlert
from cets.domain.supervision.workflow import AlertState
from cets.domain.units import format_fen
from cets.entrypoints.api import schemas as s
from cets.entrypoints.api import supervision_schemas as sv
from cets.entrypoints.api.deps import Caller, Svc, allow, order_out
from cets.entrypoints.api.errors import ApiError, responses
from cets.entrypoints.api.routes.registry import operation_out
from cets.service.clock import from_us
from cets.service.ports import CommandResult, TradeRow

router = APIRouter(prefix="/v1/supervision", tags=["supervision"])

AlertPath = Annotated[str, Path(max_length=32, pattern=s.ID_PATTERN)]
ReportPath = Annotated[str, Path(max_length=32, pattern=s.ID_PATTERN)]
WRITE: dict[int | str, dict[str, Any]] = {
    200: {"model": s.OperationOut, "description": "a replay of the same id and body"},
    202: {"model": s.OperationOut, "description": "waiting for a second person"},
    **responses(401, 403, 404, 409, 422),
}


def _iso(us: int) -> str:
    return from_us(us).isoformat()


def _first_before_last(first: date | None, last: date | None) -> None:
    if first is not None and last is not None and first > last:
        raise ApiError(RejectCode.invalid_field, f"from {first} is after to {last}", field="from")


# -- reads -------------------------------------------------------------------------------------


def _alert_out(a: StoredAlert) -> sv.AlertOut:
    return sv.AlertOut(
        id=a.id,
        type=a.alert.type.value,
        severity=a.alert.severity.name,
        state=a.state,
        resolution=a.resolution,
        instrument=a.alert.instrument,
        day=None if a.day is None else a.day.isoformat(),
        accounts=list(a.alert.accounts),
        orders=list(a.alert.orders),
        trades=list(a.alert.trades),
        explanation=a.alert.explanation,
        detected_at=_iso(a.detected_at),
        updated_at=_iso(a.updated_at),
    )


def _action_out(x: AlertAction) -> sv.AlertActionOut:
    return sv.AlertActionOut(
        action=x.action,
        state=x.state,
        measure=x.measure,
        account=x.account,
        text=x.text,
        command=x.command,
        actor=x.actor,
        at=_iso(x.at),
        seq=x.seq,
    )


def _trade_out(t: TradeRow) -> sv.TradeOut:
    return sv.TradeOut(
        id=t.id,
        instrument=t.instrument,
        mode=t.mode,
        buyer=t.buyer,
        seller=t.seller,
        price=format_fen(t.price),
        quantity=t.quantity,
        at=_iso(t.at_us),
        buy_order=t.buy_order,
        sell_order=t.sell_order,
    )


@router.get(
    "/alerts",
    response_model=sv.AlertsOut,
    responses=responses(401, 403, 422),
    summary="Alerts in the order raised (newest last), filtered",
)
def list_alerts(
    svc: Svc,
    person: Caller,
    state: Annotated[AlertState | None, Query()] = None,
    type: Annotated[AlertType | None, Query()] = None,
    first: Annotated[s.IsoDate | None, Query(alias="from", description="first day")] = None,
    last: Annotated[s.IsoDate | None, Query(alias="to", description="last day")] = None,
    account: Annotated[str | None, Query(max_length=64, pattern=s.HOLDER_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> sv.AlertsOut:
    allow(person, "read_alerts")
    _first_before_last(first, last)
    found = svc.supervision.alerts(
        state=None if state is None else state.value,
        type_=None if type is None else type.value,
        first=first,
        last=last,
        account=account,
        limit=limit,
        offset=offset,
    )
    return sv.AlertsOut(
        items=[_alert_out(a) for a in found],
        next_offset=offset + limit if len(found) == limit else None,
    )


def _unknown_alert(alert_id: str) -> ApiError:
    return ApiError(RejectCode.unknown_alert, f"no alert {alert_id!r}", field="alert", status=404)


@router.get(
    "/alerts/{alert_id}",
    response_model=sv.AlertDetailOut,
    responses=responses(401, 403, 404, 422),
    summary="An alert, its history, and the orders and trades it names",
)
def get_alert(alert_id: AlertPath, svc: Svc, person: Caller) -> sv.AlertDetailOut:
    allow(person, "read_alerts")
    found = svc.supervision.alert(alert_id)
    if found is None:
        raise _unknown_alert(alert_id)
    stored, history = found
    orders, trades = svc.store.venue_evidence(stored.alert.orders, stored.alert.trades)
    return sv.AlertDetailOut(
        alert=_alert_out(stored),
        history=[_action_out(x) for x in history],
        orders=[order_out(o) for o in orders],
        trades=[_trade_out(t) for t in trades],
    )


# -- the workflow ------------------------------------------------------------------------------


def _submit(
    svc: Svc, person: Person, kind: str, cmd_id: str, params: dict[str, Any], response: Response
) -> s.OperationOut:
    """Hand `kind` to the gate; an alert the path names that does not exist is a 404."""
    allow(person, kind, params)
    result: CommandResult = svc.gate.submit(person, kind, cmd_id, params)
    if result.code == RejectCode.unknown_alert:
        raise ApiError(result.code, result.message, field=result.field, status=404)
    return operation_out(cmd_id, result, response)


def _command(path: str, summary: str) -> dict[str, Any]:
    return {
        "path": path,
        "status_code": 201,
        "response_model": s.OperationOut,
        "responses": WRITE,
        "summary": summary,
    }


@router.post(**_command("/alerts/{alert_id}/investigate", "Take an open alert up"))
def investigate(
    alert_id: AlertPath, body: sv.InvestigateIn, response: Response, svc: Svc, person: Caller
) -> s.OperationOut:
    params = {"alert": alert_id, "note": body.note}
    return _submit(svc, person, "investigate_alert", body.id, params, response)


@router.post(**_command("/alerts/{alert_id}/close", "Close an alert with a resolution"))
def close_alert(
    alert_id: AlertPath, body: sv.CloseIn, response: Response, svc: Svc, person: Caller
) -> s.OperationOut:
    params = {"alert": alert_id, "resolution": body.resolution.value, "note": body.note}
    return _submit(svc, person, "close_alert", body.id, params, response)


@router.post(
    **_command(
        "/alerts/{alert_id}/measures",
        "Take a measure on an alert: a warning letter, restrict or freeze the account, or "
        "report to the authority",
    )
)
def take_measure(
    alert_id: AlertPath, body: sv.MeasureIn, response: Response, svc: Svc, person: Caller
) -> s.OperationOut:
    params = {
        "alert": alert_id,
        "measure": body.measure.value,
        "account": body.account,
        "text": body.text,
    }
    return _submit(svc, person, "alert_measure", body.id, params, response)


@router.post(
    "/scan",
    response_model=sv.ScanOut,
    responses=responses(401, 403, 422),
    summary="Scan the trading days from..to (all by default) for abnormal trading",
)
def scan(svc: Svc, person: Caller, body: Annotated[sv.ScanIn | None, Body()] = None) -> sv.ScanOut:
    allow(person, "supervision_scan")
    first = None if body is None else body.first
    last = None if body is None else body.last
    _first_before_last(first, last)
    found = svc.supervision.scan(actor=person.id, first=first, last=last)
    return sv.ScanOut(
        raised=found.raised, updated=found.updated, reports=found.reports, seq=found.seq
    )


# -- large holders -----------------------------------------------------------------------------


def _report_out(r: LargeHolderReport) -> sv.LargeHolderOut:
    return sv.LargeHolderOut(
        id=r.id,
        holder=r.holder,
        asset=r.asset,
        position=r.position,
        threshold=r.threshold,
        limit=r.limit_t,
        transfer=r.transfer,
        crossed_at=_iso(r.crossed_at),
        history=[
            sv.DayPositionOut(day=day, position=position, change=change)
            for day, position, change in r.history
        ],
        alert=r.alert,
    )


@router.get(
    "/large-holders",
    response_model=sv.LargeHoldersOut,
    responses=responses(401, 403, 422),
    summary="Large-holder reports: holders that crossed their reporting threshold",
)
def large_holders(
    svc: Svc,
    person: Caller,
    holder: Annotated[str | None, Query(max_length=64, pattern=s.HOLDER_PATTERN)] = None,
) -> sv.LargeHoldersOut:
    allow(person, "read_alerts")
    found = svc.supervision.large_holder_reports(holder=holder)
    return sv.LargeHoldersOut(items=[_report_out(r) for r in found])


@router.get(
    "/large-holders/{report_id}",
    response_model=sv.LargeHolderOut,
    responses=responses(401, 403, 404, 422),
    summary="A large-holder report, with the holder's daily positions up to the crossing",
)
def large_holder(report_id: ReportPath, svc: Svc, person: Caller) -> sv.LargeHolderOut:
    allow(person, "read_alerts")
    found = svc.supervision.large_holder_reports(report_id=report_id)
    if not found:
        raise ApiError("not_found", f"no large-holder report {report_id!r}", status=404)
    return _report_out(found[0])
