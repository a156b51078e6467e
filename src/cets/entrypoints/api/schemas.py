"""Request and response bodies of the API. Quantities are whole tonnes (integers); money is a
string with two decimals ("1234.50"), parsed to fen at the edge; ids have the shapes the
database stores, so a malformed one is a 422 naming the field, never a database error.

Bodies are strict: a value has the JSON type the schema gives it (`false` is not the quantity 0,
`"12"` is not 12, and, as `parse_tonnes` has it, neither is `12.0`). Asset codes, amounts and
quantities have the domain's bounds (`parse_asset`, `MAX_INTEGER_DIGITS`), so what the schema
admits is what the services accept."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from cets.domain.units import MAX_INTEGER_DIGITS, VINTAGE_MAX, VINTAGE_MIN, parse_asset

_BELOW = 10**MAX_INTEGER_DIGITS  # tonnes and yuan stay below this (64-bit sums)
# The shapes of ids, for bodies and for path and query parameters alike: what is stored is
# printable ASCII, so no NUL byte or control character reaches the database. A client id also
# names its approval request and its cancellation certificate in a URL path, so it has no "/"
# (a "%2F" is decoded before routing: such an id could never be looked up).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$"  # client ids, approvals, certificates; max 100
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]*$"  # freeze and pledge refs (never in a path)
HOLDER_PATTERN = ID_PATTERN  # holders and people: the same shape, max 64
ASSET_PATTERN = r"^(CEA-[0-9]{4}|CCER|CNY)$"  # the vintage range is checked by `parse_asset`

ClientId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=ID_PATTERN,
        description="The client's id for this command: its idempotency key",
    ),
]
HolderRef = Annotated[str, Field(min_length=1, max_length=64, pattern=HOLDER_PATTERN)]
Ref = Annotated[str, Field(min_length=1, max_length=100, pattern=REF_PATTERN)]
Asset = Annotated[
    str,
    Field(
        pattern=ASSET_PATTERN,
        description=f"CEA-<vintage {VINTAGE_MIN}..{VINTAGE_MAX}>, CCER or CNY",
    ),
    AfterValidator(parse_asset),  # AssetError is a ValueError: a 422 naming the field
]
Tonnes = Annotated[
    int, Field(ge=-(_BELOW - 1), le=_BELOW - 1, description="whole tonnes: 1000, never 1000.0")
]
Money = Annotated[
    str,
    Field(
        pattern=rf"^[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,2}})?$",
        description="yuan, at most 2 decimals",
    ),
]
Text = Annotated[str, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date_text(value: object) -> object:
    """Only `YYYY-MM-DD`, as the schema's `format: date` says; pydantic alone would also take a
    count of seconds since 1970 (`date=0` is 1970-01-01)."""
    if not isinstance(value, str) or _ISO_DATE.fullmatch(value) is None:
        raise ValueError(f"{value!r}, was expected a date written YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]


T = TypeVar("T")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


class OpenHolderIn(Body):
    id: HolderRef
    # A settlement bank is registered as a holder too: its staff name it, fund accounts are at it.
    kind: Literal["key_emitter", "institution", "individual", "settlement_bank"]
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


class UndeliveredOut(BaseModel):
    bought: int = Field(description="Bought, delivered at the day's settlement, t")
    sold: int = Field(description="Sold, still held for delivery at the day's settlement, t")


class PositionsOut(BaseModel):
    holder: str
    holdings: dict[str, PositionOut]
    funds: FundsOut | None
    undelivered: dict[str, UndeliveredOut] = Field(
        default_factory=dict, description="Trades made but not yet settled, by instrument"
    )


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


# -- the venue -----------------------------------------------------------------------------------

Price = Annotated[
    str,
    Field(
        pattern=rf"^[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,2}})?$",
        description="yuan per tonne, at most 2 decimals",
    ),
]


class OrderIn(Body):
    id: ClientId
    account: HolderRef
    instrument: Asset
    side: Literal["buy", "sell"]
    quantity: Tonnes
    price: Price
    mode: Literal["listed", "block"] = Field(
        default="listed", description="listed agreement, or a block agreement quote"
    )


class PickIn(Body):
    id: ClientId
    account: HolderRef
    quote: ClientId
    quantity: Tonnes


class BlockAcceptIn(Body):
    id: ClientId
    account: HolderRef
    quote: ClientId


class InstrumentIn(Body):
    symbol: Asset
    prev_close: Price


class OrderOut(BaseModel):
    id: str
    account: str
    instrument: str
    side: str
    mode: str
    price: str
    quantity: int
    filled: int
    remaining: int
    status: str
    reason: str | None


class Level(BaseModel):
    price: str
    quantity: int


class DepthOut(BaseModel):
    instrument: str
    bids: list[Level]
    asks: list[Level]


class BarOut(BaseModel):
    time: str
    open: str
    high: str
    low: str
    close: str
    volume: int
    amount: str


class ClockOut(BaseModel):
    now: str = Field(description="The market's time now, Asia/Shanghai")
    trading_day: date
    session: Literal["open", "closed"] = Field(description="Listed trading open now or not")
    demo: bool = Field(description="A demo clock (`cets serve --demo`), not the wall clock")


class QuoteOut(BaseModel):
    id: str = Field(description="The order id to pick")
    side: str
    price: str
    quantity: int = Field(description="What remains of it, t")


class QuotesOut(BaseModel):
    instrument: str
    quotes: list[QuoteOut]


class InstrumentOut(BaseModel):
    symbol: str
    listed: bool = Field(description="Traded on this venue (else: imported history only)")
    halted: bool
    prev_close: str | None = Field(description="The band's reference price, CNY/t")
    bars: int = Field(description="Daily bars recorded")
    first_day: date | None
    last_day: date | None


class InstrumentsOut(BaseModel):
    instruments: list[InstrumentOut]


class OrdersOut(BaseModel):
    account: str
    orders: list[OrderOut]


class KlinesOut(BaseModel):
    instrument: str
    interval: str
    bars: list[BarOut]


class TapeTrade(BaseModel):
    id: str
    price: str
    quantity: int
    mode: str
    at: str


class TapeOut(BaseModel):
    instrument: str
    trades: list[TapeTrade]


class DoneOut(BaseModel):
    ok: bool
    seq: int | None = None


# -- block agreement negotiation -------------------------------------------------------------


class BlockQuoteIn(Body):
    id: ClientId
    account: HolderRef
    instrument: Asset
    side: Literal["buy", "sell"]
    quantity: Tonnes
    price: Price
    to: HolderRef | None = Field(
        default=None, description="the one holder who may accept or counter it (none: anyone)"
    )


class InquiryIn(Body):
    id: ClientId
    account: HolderRef
    instrument: Asset
    side: Literal["buy", "sell"] = Field(description="what the inquirer would do")
    quantity: Tonnes
    price: Price | None = Field(default=None, description="a limit price, for information")
    to: HolderRef | None = Field(
        default=None, description="the one holder asked (none: anyone may answer)"
    )


class CounterIn(Body):
    id: ClientId
    account: HolderRef
    reply_to: ClientId = Field(description="the open block quote or inquiry answered")
    quantity: Tonnes
    price: Price


class InquiryOut(BaseModel):
    id: str
    account: str
    instrument: str
    side: str
    quantity: int
    price: str | None
    to: str | None
    status: str  # open, cancelled, expired, rejected
    reason: str | None


class BlockOfferOut(OrderOut):
    to: str | None  # the one holder who may accept it
    reply_to: str | None  # the quote or inquiry it answers (a counter-offer)
    thread: str  # the inquiry or quote the negotiation began with


class ThreadOut(BaseModel):
    id: str
    inquiry: InquiryOut | None
    offers: list[BlockOfferOut]  # in arrival order; for a holder, only what it may see


# -- one-way auctions ----------------------------------------------------------------------------

LocalDateTime = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?$",
        description="Asia/Shanghai local time, no offset: 2024-03-04T10:00:00",
    ),
]


class AuctionWindow(Body):
    """Bids are taken from `start` (included) to `end` (excluded), within one trading day and
    ending before its 15:00 end; the exchange closes the auction between `end` and 15:00."""

    start: LocalDateTime
    end: LocalDateTime


class AuctionIn(Body):
    id: ClientId
    seller: HolderRef = Field(description="a holder, or `authority` to sell from its reserve")
    instrument: Asset
    quantity: Tonnes
    reserve_price: Price
    pricing: Literal["uniform", "pay_as_bid"]
    window: AuctionWindow | None = Field(
        default=None,
        description="none: bids in the day's listed sessions until the exchange closes it",
    )


class BidIn(Body):
    id: ClientId
    account: HolderRef
    quantity: Tonnes
    price: Price


class AuctionBidOut(BaseModel):
    id: str
    account: str
    price: str
    quantity: int
    status: str
    reason: str | None
    allocated: int  # tonnes the close gave this bid
    paid: str | None  # yuan per tonne it pays for them (None: nothing allocated)


class AuctionOut(BaseModel):
    id: str
    seller: str
    instrument: str
    quantity: int
    reserve_price: str
    pricing: str
    window: AuctionWindow | None
    state: str  # open, closed, withdrawn (the seller cancelled), expired (the day ended first)
    sold: int
    clearing_price: str | None  # the lowest accepted bid: what all pay under uniform pricing
    bids: list[AuctionBidOut]  # for a holder's operator, only its own holder's bids
