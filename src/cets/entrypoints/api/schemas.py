"""Request and response bodies of the API. Quantities are whole tonnes (integers); money is a
string with two decimals ("1234.50"), parsed to fen at the edge; ids have the shapes the
database stores, so a malformed one is a 422 naming the field, never a database error."""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

ClientId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]*$",
        description="The client's id for this command: its idempotency key",
    ),
]
HolderRef = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$")
]
Ref = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]*$")
]
Asset = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Z]+(-[0-9]{4})?$")]
Tonnes = Annotated[int, Field(ge=-(10**15), le=10**15, description="whole tonnes")]
Money = Annotated[
    str, Field(max_length=24, pattern=r"^-?[0-9]+(\.[0-9]{1,2})?$", description="yuan, 2 dp")
]
Text = Annotated[str, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]


T = TypeVar("T")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OpenHolderIn(Body):
    id: HolderRef
    kind: Literal["key_emitter", "institution", "individual"]
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
    code: Annotated[
        str | None,
        Field(
            default=None,
            max_length=64,
            pattern=r"^[0-9A-Z]{1,64}$",
            description="unified social credit code or ID number",
        ),
    ] = None
    controller: HolderRef | None = None


class IssueIn(Body):
    client_id: ClientId
    asset: Asset
    quantity: Tonnes
    to: HolderRef | None = None


class AllocateIn(Body):
    client_id: ClientId
    to: HolderRef
    asset: Asset
    quantity: Tonnes


class TransferIn(Body):
    client_id: ClientId
    source: HolderRef = Field(alias="from")
    to: HolderRef
    asset: Asset
    quantity: Tonnes


class HolderAssetIn(Body):
    client_id: ClientId
    account: HolderRef
    asset: Asset
    quantity: Tonnes


class FreezeIn(HolderAssetIn):
    ref: Ref


class ForcedSurrenderIn(HolderAssetIn):
    year: Annotated[int, Field(ge=2000, le=2200)]


class PledgeIn(FreezeIn):
    pledgee: HolderRef


class RefIn(Body):
    client_id: ClientId
    ref: Ref


class RefQuantityIn(RefIn):
    quantity: Tonnes | None = None


class DeductIn(RefIn):
    to: HolderRef
    quantity: Tonnes


class AccountIn(Body):
    client_id: ClientId
    account: HolderRef


class SucceedIn(AccountIn):
    to: HolderRef


class MoneyIn(Body):
    client_id: ClientId
    account: HolderRef
    amount: Money


class TransferOut(BaseModel):
    id: str
    debit_account: int
    credit_account: int
    asset: str
    amount: int = Field(description="in the asset's unit: tonnes, or fen for CNY")
    code: str
    ref: str | None


class OperationOut(BaseModel):
    id: str
    status: Literal["accepted", "pending_approval"]
    code: str | None = Field(default=None, description="approval_required when pending")
    detail: str | None = None
    replayed: bool = False
    seq: int | None = None
    transfers: list[TransferOut] = []


class HolderOut(BaseModel):
    id: str
    kind: str
    name: str
    state: str
    code: str | None
    controller: str | None


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = Field(None, description="pass as `after` for the next page")


class PositionOut(BaseModel):
    total: int
    available: int
    frozen: int
    pledged: int
    in_orders: int


class FundsOut(BaseModel):
    total: str
    available: str
    in_orders: str


class PositionsOut(BaseModel):
    holder: str
    holdings: dict[str, PositionOut]
    funds: FundsOut | None


class StatementOut(BaseModel):
    holder: str
    date: str
    as_of: str = Field(description="end of that day, Asia/Shanghai")
    holdings: dict[str, dict[str, int]] = Field(description="asset -> {total, encumbered}")
    funds: dict[str, str] | None


class HistoryLineOut(BaseModel):
    ordinal: int
    id: str
    at: str
    code: str
    asset: str
    posted: int
    held: int
    counterparty: str
    ref: str | None
    seq: int


class CertificateOut(BaseModel):
    id: str
    holder: str
    asset: str
    quantity: int
    at: str
    seq: int
    journal_hash: str


class PersonIn(Body):
    id: HolderRef
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
    role: Literal[
        "authority",
        "registry_operator",
        "exchange_operator",
        "key_emitter",
        "investor",
        "settlement_bank",
        "supervisor",
    ]
    holder: HolderRef | None = None
    permissions: list[Literal["read", "transfer", "cancel", "trade", "surrender"]] | None = None


class PersonOut(BaseModel):
    id: str
    name: str
    role: str
    holder: str | None
    permissions: list[str]
    active: bool


class KeyIn(Body):
    expires_at: Annotated[
        str | None,
        Field(
            default=None,
            pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$",
            description="Asia/Shanghai local time",
        ),
    ] = None


class KeyOut(BaseModel):
    id: str
    person: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class IssuedKeyOut(BaseModel):
    id: str
    person: str
    key: str = Field(description="shown once; store it now")
    expires_at: str | None


class ApprovalOut(BaseModel):
    id: str
    kind: str
    params: dict[str, str | int | None]
    requested_by: str
    requested_at: str
    expires_at: str
    state: str
    decided_by: str | None
    decided_at: str | None
    reason: str | None
    code: str | None


class RejectIn(Body):
    reason: Text = ""


class JournalEntryOut(BaseModel):
    seq: int
    at: str
    kind: str
    actor: str
    body: str
    hash: str


class AuditOut(BaseModel):
    ok: bool
    entries: int
    chain_break: str | None
    violations: list[dict[str, str]]
