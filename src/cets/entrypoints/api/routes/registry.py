"""`POST /v1/registry/<operation>`: one route per registry operation (no rules here).

Each route parses its body, hands the operation to the gate (role, four-eyes, the handler) and
maps the result: 201 accepted, 200 a replay of the same client id, 202 parked for a second
person's approval (`code: approval_required`), a problem+json refusal otherwise.
"""

# No `from __future__ import annotations`: FastAPI reads the body models from the endpoints'
# annotations, which here are set per operation in a loop.

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from cets.domain.errors import RejectCode
from cets.domain.units import AmountError, parse_fen
from cets.entrypoints.api import schemas as s
from cets.entrypoints.api.deps import Caller, Svc, created
from cets.entrypoints.api.errors import ApiError, responses
from cets.service.ports import CommandResult

router = APIRouter(prefix="/v1/registry", tags=["registry"])

# operation -> (body model, summary)
BODIES: dict[str, tuple[type[s.Body], str]] = {
    "issue": (s.IssueIn, "Issue units into the reserve, or straight to a holder (CCER)"),
    "allocate": (s.AllocateIn, "Free allocation from the reserve"),
    "true_up": (s.AllocateIn, "Allocation correction (negative quantity: recovery)"),
    "transfer": (s.TransferIn, "Transfer units between holders"),
    "cancel": (s.HolderAssetIn, "Voluntary cancellation (a certificate is issued)"),
    "freeze": (s.FreezeIn, "Administrative or judicial freeze"),
    "unfreeze": (s.RefQuantityIn, "Release a freeze, wholly or in part"),
    "deduct": (s.DeductIn, "Judicial deduction out of a freeze"),
    "pledge": (s.PledgeIn, "Register a pledge"),
    "release": (s.RefIn, "Release a pledge"),
    "enforce": (s.RefQuantityIn, "Enforce a pledge: units go to the pledgee"),
    "forced_surrender": (s.ForcedSurrenderIn, "Forced surrender ordered by the authority"),
    "succeed": (s.SucceedIn, "Change by succession or merger; the old holder is closed"),
    "restrict": (s.AccountIn, "Restrict an account: nothing may leave it"),
    "unrestrict": (s.AccountIn, "Lift a restriction"),
    "freeze_account": (s.AccountIn, "Judicial freeze of a whole account: nothing may leave it"),
    "unfreeze_account": (s.AccountIn, "Lift a whole-account freeze"),
    "begin_closure": (s.AccountIn, "Closure pending: nothing more may come in"),
    "close_account": (s.AccountIn, "Close an account (empty, nothing pending)"),
    "deposit": (s.MoneyIn, "Funds in from the settlement bank"),
    "withdraw": (s.MoneyIn, "Funds out to the settlement bank"),
}


def params_of(body: BaseModel) -> dict[str, Any]:
    """The operation's parameters as the scenario files name them; money in fen."""
    params = body.model_dump(by_alias=True, exclude={"client_id"})
    if "amount" in params:
        try:
            params["amount"] = parse_fen(params["amount"], field="amount")
        except AmountError as exc:
            raise ApiError(RejectCode.invalid_field, str(exc), field="amount") from exc
    return params


def operation_out(cmd_id: str, result: CommandResult, response: Response) -> s.OperationOut:
    if result.code == RejectCode.approval_required:
        response.status_code = 202
        return s.OperationOut(
            id=cmd_id, status="pending_approval", code=result.code, detail=result.message
        )
    created(result, response)
    return s.OperationOut(
        id=cmd_id,
        status="accepted",
        replayed=result.replayed,
        seq=result.seq,
        transfers=[
            s.TransferOut(
                id=t.id,
                debit_account=t.debit_account_id,
                credit_account=t.credit_account_id,
                asset=t.asset,
                amount=t.amount,
                code=t.code,
                ref=t.ref,
            )
            for t in result.transfers
        ],
    )


def _route(kind: str, model: type[s.Body], summary: str) -> None:
    def endpoint(body: Any, response: Response, svc: Svc, person: Caller) -> s.OperationOut:
        result = svc.gate.submit(person, kind, body.client_id, params_of(body))
        return operation_out(body.client_id, result, response)

    endpoint.__annotations__["body"] = model
    endpoint.__name__ = kind
    router.add_api_route(
        f"/{kind}",
        endpoint,
        methods=["POST"],
        summary=summary,
        status_code=201,
        response_model=s.OperationOut,
        responses={
            200: {"model": s.OperationOut, "description": "a replay of the same client id"},
            202: {"model": s.OperationOut, "description": "waiting for a second person"},
            **responses(401, 403, 409, 422),
        },
        operation_id=f"registry_{kind}",
    )


for _kind, (_model, _summary) in BODIES.items():
    _route(_kind, _model, _summary)
