"""Holders: registration, listing, positions, statements (holdings at a date, transfer history,
as JSON or CSV) and cancellation certificates (JSON or a printable HTML page)."""

from __future__ import annotations

import csv
import html
import io
from datetime import datetime, time
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import HTMLResponse

from cets.domain.errors import RejectCode
from cets.domain.ledger.model import Purpose
from cets.domain.registry.holders import Holder
from cets.domain.units import CASH, AssetError, format_fen, parse_asset
from cets.entrypoints.api import schemas as s
from cets.entrypoints.api.deps import Caller, Svc, allow, created
from cets.entrypoints.api.errors import ApiError, responses
from cets.service.clock import SHANGHAI, from_us, to_us
from cets.service.queries import holder_positions

router = APIRouter(prefix="/v1", tags=["holders"])

HolderPath = Annotated[str, Path(max_length=64, pattern=s.HOLDER_PATTERN)]
CmdPath = Annotated[str, Path(max_length=100, pattern=s.ID_PATTERN)]  # a cancel's client id
Limit = Annotated[int, Query(ge=1, le=1000)]
Format = Annotated[Literal["json", "csv"], Query()]
CSV_OR_JSON: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "JSON, or CSV with format=csv",
    }
}


def _holder_out(h: Holder) -> s.HolderOut:
    return s.HolderOut(
        id=h.id, kind=h.kind, name=h.name, state=h.state, code=h.code, controller=h.controller
    )


def _iso(us: int | None) -> str | None:
    return None if us is None else from_us(us).isoformat()


def _known(svc: Svc, holder_id: str) -> Holder:
    holder = svc.store.holder(holder_id)
    if holder is None:
        raise ApiError("not_found", f"no account holder {holder_id!r}", status=404)
    return holder


def _csv(header: list[str], rows: list[list[object]], name: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.post(
    "/holders",
    status_code=201,
    response_model=s.HolderOut,
    responses={200: {"model": s.HolderOut}, **responses(401, 403, 409, 422)},
    summary="Register a subject: registration, trading and fund accounts",
)
def open_holder(body: s.OpenHolderIn, response: Response, svc: Svc, person: Caller) -> s.HolderOut:
    allow(person, "open_holder")
    holder = Holder(body.id, body.kind, body.name, body.controller, code=body.code)
    result = svc.registry.open_holder(holder, actor=person.id)
    created(result, response)
    return _holder_out(holder)


@router.get(
    "/holders",
    response_model=s.Page[s.HolderOut],
    responses=responses(401, 403, 422),
    summary="Every holder in id order, or those under one actual controller",
)
def list_holders(
    svc: Svc,
    person: Caller,
    after: Annotated[str | None, Query(max_length=64, pattern=s.HOLDER_PATTERN)] = None,
    limit: Limit = 100,
    controller: Annotated[str | None, Query(max_length=64, pattern=s.HOLDER_PATTERN)] = None,
) -> s.Page[s.HolderOut]:
    allow(person, "read_registry")
    page = svc.store.holder_page(after=after, limit=limit, controller=controller)
    return s.Page[s.HolderOut](
        items=[_holder_out(h) for h in page],
        next=page[-1].id if len(page) == limit else None,
    )


@router.get(
    "/holders/{holder}",
    response_model=s.HolderOut,
    responses=responses(401, 403, 404, 422),
    summary="One holder",
)
def get_holder(holder: HolderPath, svc: Svc, person: Caller) -> s.HolderOut:
    allow(person, "read_holder", {"holder": holder})
    return _holder_out(_known(svc, holder))


@router.get(
    "/holders/{holder}/positions",
    response_model=s.PositionsOut,
    responses=responses(401, 403, 404, 422),
    summary="Holdings (total, available, frozen, pledged, in orders) and funds now",
)
def get_positions(holder: HolderPath, svc: Svc, person: Caller) -> s.PositionsOut:
    allow(person, "read_holder", {"holder": holder})
    units, fund = holder_positions(svc.store, _known(svc, holder))
    undelivered: dict[str, s.UndeliveredOut] = {}
    for trade in svc.store.undelivered(holder):
        pending = undelivered.setdefault(trade.instrument, s.UndeliveredOut(bought=0, sold=0))
        if trade.buyer == holder:
            pending.bought += trade.quantity
        if trade.seller == holder:
            pending.sold += trade.quantity
    return s.PositionsOut(
        holder=holder,
        undelivered=undelivered,
        holdings={
            asset: s.PositionOut(
                total=p.total,
                available=p.available,
                frozen=p.frozen,
                pledged=p.pledged,
                in_orders=p.in_orders,
            )
            for asset, p in units.items()
        },
        funds=None
        if fund is None
        else s.FundsOut(
            total=format_fen(fund.total),
            available=format_fen(fund.available),
            in_orders=format_fen(fund.in_orders),
        ),
    )


@router.get(
    "/holders/{holder}/statement",
    response_model=s.StatementOut,
    responses={**CSV_OR_JSON, **responses(401, 403, 404, 422)},
    summary="Holdings and funds as they stood at the end of a day (Asia/Shanghai)",
)
def get_statement(
    holder: HolderPath,
    svc: Svc,
    person: Caller,
    at: Annotated[s.IsoDate, Query(alias="date")],
    format: Format = "json",
) -> s.StatementOut | Response:
    allow(person, "read_holder", {"holder": holder})
    _known(svc, holder)
    # The day's last microsecond, without computing the next day (none after 9999-12-31).
    cutoff = to_us(datetime.combine(at, time.max, SHANGHAI))
    units: dict[str, dict[str, int]] = {}
    funds: dict[str, str] | None = None
    for account in svc.store.accounts_of(holder):
        total, held = svc.store.balance_at(account, cutoff)
        if account.purpose == Purpose.holding:
            units[account.asset] = {"total": total, "encumbered": held}
        elif account.purpose == Purpose.fund:
            funds = {"total": format_fen(total), "encumbered": format_fen(held)}
    if format == "csv":
        rows: list[list[object]] = [[a, v["total"], v["encumbered"]] for a, v in units.items()]
        if funds is not None:
            rows.append([CASH, funds["total"], funds["encumbered"]])
        return _csv(["asset", "total", "encumbered"], rows, f"{holder}-{at}")
    return s.StatementOut(
        holder=holder,
        date=at.isoformat(),
        as_of=from_us(cutoff).isoformat(),
        holdings=units,
        funds=funds,
    )


@router.get(
    "/holders/{holder}/history",
    response_model=s.Page[s.HistoryLineOut],
    responses={**CSV_OR_JSON, **responses(401, 403, 404, 422)},
    summary="Transfers of one of the holder's accounts, newest first",
)
def get_history(
    holder: HolderPath,
    svc: Svc,
    person: Caller,
    asset: Annotated[str, Query(pattern=s.ASSET_PATTERN)],
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Limit = 100,
    format: Format = "json",
) -> s.Page[s.HistoryLineOut] | Response:
    allow(person, "read_holder", {"holder": holder})
    _known(svc, holder)
    try:
        code = parse_asset(asset)
    except AssetError as exc:
        raise ApiError(RejectCode.invalid_field, str(exc), field="asset") from exc
    purpose = Purpose.fund if code == CASH else Purpose.holding
    account = next(
        (a for a in svc.store.accounts_of(holder) if (a.purpose, a.asset) == (purpose, code)),
        None,
    )
    lines = [] if account is None else svc.store.history(account.id, before=before, limit=limit)
    names = svc.store.account_names({line.counterparty_account for line in lines})
    items = [
        s.HistoryLineOut(
            ordinal=line.ordinal,
            id=line.id,
            at=from_us(line.at_us).isoformat(),
            code=line.code,
            asset=line.asset,
            posted=line.posted,
            held=line.held,
            counterparty=names.get(line.counterparty_account, str(line.counterparty_account)),
            ref=line.ref,
            seq=line.seq,
        )
        for line in lines
    ]
    if format == "csv":
        header = list(s.HistoryLineOut.model_fields)
        rows = [[getattr(i, f) for f in header] for i in items]
        return _csv(header, rows, f"{holder}-{code}-history")
    return s.Page[s.HistoryLineOut](
        items=items, next=str(items[-1].ordinal) if len(items) == limit else None
    )


def _certificate(svc: Svc, person: Caller, cmd_id: str) -> s.CertificateOut:
    # Who may read certificates at all is checked first; then another holder's certificate is
    # "not found" like one that does not exist, so its existence is not given away.
    allow(person, "read_holder", {"holder": person.holder})
    record = svc.store.command_record(cmd_id)
    missing = ApiError("not_found", f"no cancellation {cmd_id!r}", status=404)
    if record is None or record.kind != "cancel" or record.seq is None:
        raise missing
    body = orjson.loads(record.body)
    if person.holder is not None and person.holder != body["account"]:
        raise missing
    entry = svc.store.journal_entry(record.seq)
    assert entry is not None, f"journal entry {record.seq} of command {cmd_id!r} is missing"
    return s.CertificateOut(
        id=cmd_id,
        holder=body["account"],
        asset=body["asset"],
        quantity=body["quantity"],
        at=from_us(entry.at_us).isoformat(),
        seq=entry.seq,
        journal_hash=entry.hash,
    )


@router.get(
    "/certificates/{cmd_id}",
    response_model=s.CertificateOut,
    responses=responses(401, 403, 404, 422),
    summary="The certificate of a voluntary cancellation",
)
def get_certificate(cmd_id: CmdPath, svc: Svc, person: Caller) -> s.CertificateOut:
    return _certificate(svc, person, cmd_id)


@router.get(
    "/certificates/{cmd_id}/print",
    response_class=HTMLResponse,
    responses=responses(401, 403, 404, 422),
    summary="The certificate as a printable page",
)
def print_certificate(cmd_id: CmdPath, svc: Svc, person: Caller) -> HTMLResponse:
    cert = _certificate(svc, person, cmd_id)
    holder = svc.store.holder(cert.holder)
    name = holder.name if holder else cert.holder
    rows = [
        ("Certificate", cert.id),
        ("Holder", f"{name} ({cert.holder})"),
        ("Asset", cert.asset),
        ("Quantity", f"{cert.quantity:,} t CO2e"),
        ("Cancelled at", cert.at),
        ("Journal entry", str(cert.seq)),
        ("Journal hash", cert.journal_hash),
    ]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Cancellation certificate {html.escape(cert.id)}</title><style>"
        "body{font-family:serif;max-width:40em;margin:3em auto}"
        "h1{text-align:center}th{text-align:left;padding-right:2em}"
        "td{font-family:monospace;word-break:break-all}@media print{button{display:none}}"
        "</style></head><body><h1>Certificate of voluntary cancellation</h1>"
        "<p>The units below were cancelled in the national carbon emission allowance registry "
        "and can never be used again.</p>"
        f"<table>{cells}</table>"
        "<p>Verify: the journal entry's hash chains to every entry before it "
        "(<code>cets audit verify</code>).</p>"
        "<button onclick='window.print()'>Print</button></body></html>"
    )
