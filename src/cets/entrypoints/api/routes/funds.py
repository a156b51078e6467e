"""Funds at settlement banks: fund account bindings, what a holder may withdraw, withdrawal
requests and their payment, and the banks' files (statements in, payment instructions out).

A settlement bank's person sees and acts on its own bank's business only: asking for another
bank's is `not_authorized` (field `bank`), acting on a request at another bank is
`wrong_settlement_bank`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cets.domain.errors import DomainError, RejectCode
from cets.domain.registry.access import Person, Role
from cets.domain.registry.bank_files import format_instructions, parse_statement
from cets.domain.registry.funds import Withdrawal, WithdrawalStatus, bank_of
from cets.domain.units import format_fen
from cets.entrypoints.api import schemas as s
from cets.entrypoints.api.deps import Caller, Svc, allow, created, fen, from_domain
from cets.entrypoints.api.errors import ApiError, responses
from cets.service.clock import from_us
from cets.service.funds import StatementOutcome
from cets.service.ports import CommandResult

router = APIRouter(prefix="/v1/funds", tags=["funds"])

BankQuery = Annotated[str | None, Query(max_length=64, pattern=s.HOLDER_PATTERN)]
IdPath = Annotated[str, Path(max_length=100, pattern=s.ID_PATTERN)]
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}
}


class FundAccountIn(s.Body):
    holder: s.HolderRef
    bank: s.HolderRef
    number: Annotated[str, Field(min_length=1, max_length=64, pattern=s.HOLDER_PATTERN)]


class FundAccountOut(BaseModel):
    holder: str
    bank: str
    number: str


class FundsOut(BaseModel):
    holder: str
    bank: str
    number: str | None = Field(description="null: never bound (the default bank)")
    balance: str
    available: str
    withdrawable: str = Field(description="available less today's sale proceeds (T+1)")
    not_yet_withdrawable: str = Field(description="net proceeds of sales on `t1_day`")
    t1_day: date


class WithdrawalIn(s.Body):
    client_id: s.ClientId
    account: s.HolderRef
    amount: s.Money


class RejectionIn(s.Body):
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]


class WithdrawalOut(BaseModel):
    id: str
    account: str
    bank: str
    amount: str
    status: str
    reason: str | None
    requested_at: str
    requested_by: str
    settled_at: str | None
    replayed: bool = False


class StatementOut(BaseModel):
    lines: int
    deposits: int
    payments: int
    recognised: int = Field(description="lines the registry had booked already")
    unchanged: int = Field(description="lines imported before")
    detail: str


def _withdrawal_out(w: Withdrawal, replayed: bool = False) -> WithdrawalOut:
    return WithdrawalOut(
        id=w.id,
        account=w.holder,
        bank=w.bank,
        amount=format_fen(w.amount_fen),
        status=w.status,
        reason=w.reason,
        requested_at=from_us(w.requested_at).isoformat(),
        requested_by=w.requested_by,
        settled_at=None if w.settled_at is None else from_us(w.settled_at).isoformat(),
        replayed=replayed,
    )


def _bank_scope(person: Person, bank: str | None) -> str | None:
    """The bank a listing is about: a bank's person sees its own only."""
    if person.role != Role.settlement_bank:
        return bank
    own = bank_of(person)
    if bank is not None and bank != own:
        raise ApiError(
            RejectCode.not_authorized, f"{person.id!r} acts for bank {own!r} only", field="bank"
        )
    return own


@router.post(
    "/accounts",
    status_code=201,
    response_model=FundAccountOut,
    responses={200: {"model": FundAccountOut}, **responses(401, 403, 409, 422)},
    summary="Bind a holder's fund account to its settlement bank",
)
def open_fund_account(
    body: FundAccountIn, response: Response, svc: Svc, person: Caller
) -> FundAccountOut:
    allow(person, "open_fund_account")
    result = svc.funds.open_fund_account(body.holder, body.bank, body.number, actor=person.id)
    created(result, response)
    return FundAccountOut(holder=body.holder, bank=body.bank, number=body.number)


@router.get(
    "/withdrawals",
    response_model=s.Page[WithdrawalOut],
    responses=responses(401, 403, 422),
    summary="Withdrawal requests in id order, by bank and status",
)
def list_withdrawals(
    svc: Svc,
    person: Caller,
    bank: BankQuery = None,
    status: WithdrawalStatus | None = None,
    after: Annotated[str | None, Query(max_length=100, pattern=s.ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> s.Page[WithdrawalOut]:
    allow(person, "read_withdrawals")
    page = svc.funds.withdrawals(
        bank=_bank_scope(person, bank), status=status, after=after, limit=limit
    )
    return s.Page[WithdrawalOut](
        items=[_withdrawal_out(w) for w in page],
        next=page[-1].id if len(page) == limit else None,
    )


@router.get(
    "/instructions",
    response_class=Response,
    responses={**CSV, **responses(401, 403, 422)},
    summary="The payment instructions for a bank: its open requests (made on `day`, if given)",
)
def instructions(
    svc: Svc, person: Caller, bank: BankQuery = None, day: s.IsoDate | None = None
) -> Response:
    allow(person, "read_withdrawals")
    scoped = _bank_scope(person, bank)
    if scoped is None:
        raise ApiError(RejectCode.invalid_field, "bank is required", field="bank")
    text = format_instructions(svc.funds.instructions(scoped, day))
    name = f"instructions-{scoped}{'-' + day.isoformat() if day else ''}.csv"
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post(
    "/withdrawals",
    status_code=201,
    response_model=WithdrawalOut,
    responses={200: {"model": WithdrawalOut}, **responses(401, 403, 409, 422)},
    summary="Ask the holder's bank to pay money out: held until it is paid or rejected",
)
def request_withdrawal(
    body: WithdrawalIn, response: Response, svc: Svc, person: Caller
) -> WithdrawalOut:
    allow(person, "request_withdrawal", {"account": body.account})
    amount = fen(body.amount, "amount")
    result = svc.funds.request_withdrawal(body.client_id, body.account, amount, actor=person.id)
    return _settled_out(svc, body.client_id, result, response)


def _settled_out(
    svc: Svc, withdrawal_id: str, result: CommandResult, response: Response
) -> WithdrawalOut:
    created(result, response)
    found = svc.funds.withdrawal(withdrawal_id)
    assert found is not None, f"withdrawal {withdrawal_id} accepted but not found"
    return _withdrawal_out(found, result.replayed)


@router.post(
    "/withdrawals/{withdrawal_id}/paid",
    status_code=201,
    response_model=WithdrawalOut,
    responses={200: {"model": WithdrawalOut}, **responses(401, 403, 409, 422)},
    summary="The bank paid the request (its own bank's only)",
)
def mark_paid(withdrawal_id: IdPath, response: Response, svc: Svc, person: Caller) -> WithdrawalOut:
    allow(person, "settle_withdrawal")
    result = svc.funds.mark_paid(withdrawal_id, actor=person.id)
    return _settled_out(svc, withdrawal_id, result, response)


@router.post(
    "/withdrawals/{withdrawal_id}/rejected",
    status_code=201,
    response_model=WithdrawalOut,
    responses={200: {"model": WithdrawalOut}, **responses(401, 403, 409, 422)},
    summary="The bank refused to pay the request: the money is available again",
)
def mark_rejected(
    withdrawal_id: IdPath, body: RejectionIn, response: Response, svc: Svc, person: Caller
) -> WithdrawalOut:
    allow(person, "settle_withdrawal")
    result = svc.funds.mark_rejected(withdrawal_id, body.reason, actor=person.id)
    return _settled_out(svc, withdrawal_id, result, response)


@router.post(
    "/statements",
    status_code=201,
    response_model=StatementOut,
    responses={200: {"model": StatementOut}, **responses(401, 403, 409, 422)},
    summary="A bank's statement (text/csv: date,reference,account,type,amount), all-or-nothing",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def import_statement(
    request: Request, response: Response, svc: Svc, person: Caller, bank: BankQuery = None
) -> StatementOut:
    allow(person, "import_bank_statement")
    scoped = _bank_scope(person, bank)
    assert scoped is not None  # only a bank's people may import
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(RejectCode.invalid_field, f"body: not UTF-8 ({exc})", field="body") from exc
    lines, problems = parse_statement(text)
    if problems:
        detail = "; ".join(str(p) for p in problems)
        raise ApiError(RejectCode.invalid_field, detail, field=problems[0].field)
    try:
        outcome: StatementOutcome = await run_in_threadpool(
            lambda: svc.funds.import_statement(scoped, lines, actor=person.id)
        )
    except DomainError as exc:
        raise from_domain(exc) from exc
    if not outcome.ok:
        first = outcome.first
        assert outcome.code is not None and first is not None
        raise ApiError(outcome.code, outcome.summary(), field=first.field)
    response.status_code = 201 if outcome.changed else 200
    return StatementOut(
        lines=outcome.lines,
        deposits=outcome.deposits,
        payments=outcome.payments,
        recognised=outcome.recognised,
        unchanged=outcome.unchanged,
        detail=outcome.summary(),
    )


@router.get(
    "/{holder}",
    response_model=FundsOut,
    responses=responses(401, 403, 404, 422),
    summary="A holder's fund account: bank, balance, available, withdrawable (T+1)",
)
def holder_funds(
    holder: Annotated[str, Path(max_length=64, pattern=s.HOLDER_PATTERN)],
    svc: Svc,
    person: Caller,
) -> FundsOut:
    allow(person, "read_holder", {"holder": holder})
    view = svc.funds.view(holder)
    if view is None:
        raise ApiError("not_found", f"no account holder {holder!r}", status=404)
    return FundsOut(
        holder=view.holder,
        bank=view.bank,
        number=view.number,
        balance=format_fen(view.balance),
        available=format_fen(view.available),
        withdrawable=format_fen(view.withdrawable),
        not_yet_withdrawable=format_fen(view.recent_proceeds),
        t1_day=view.t1_day,
    )
