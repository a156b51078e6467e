"""Request and response bodies of the supervision routes (`routes.supervision`). Times are
Asia/Shanghai, ISO 8601; prices are strings with two decimals ("60.00"), quantities whole
tonnes. Resolutions and measures are the workflow's (`cets.domain.supervision.workflow`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from cets.domain.supervision.workflow import Measure, Resolution
from cets.entrypoints.api import schemas as s

# A note, or a measure's text (a warning letter's): line breaks and tabs allowed, no other
# control character.
Note = Annotated[
    str, Field(min_length=1, max_length=4000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")
]


class InvestigateIn(s.Body):
    id: s.ClientId
    note: Note | None = None


class CloseIn(s.Body):
    id: s.ClientId
    # Not strict: a JSON string is read as the choice it names (else 422 naming the field).
    resolution: Annotated[Resolution, Field(strict=False)]
    note: Note | None = None


class MeasureIn(s.Body):
    id: s.ClientId
    measure: Annotated[Measure, Field(strict=False)]
    account: s.HolderRef | None = Field(
        default=None, description="the account the measure is for; by default the alert's only one"
    )
    text: Note | None = Field(
        default=None, description="the letter's or report's text; by default the alert's story"
    )


# Not strict: a date arrives as JSON text, YYYY-MM-DD only (`s.IsoDate`).
Day = Annotated[s.IsoDate, Field(strict=False)]


class ScanIn(s.Body):
    first: Day | None = Field(default=None, alias="from", description="first trading day")
    last: Day | None = Field(default=None, alias="to", description="last trading day")


class ScanOut(BaseModel):
    raised: list[str] = Field(description="ids of the alerts raised, in the order raised")
    updated: list[str] = Field(description="ids of open alerts whose evidence grew")
    reports: list[str] = Field(description="ids of the large-holder reports made")
    seq: int | None = Field(description="the scan's journal entry; null when it found nothing")


class AlertOut(BaseModel):
    id: str
    type: str
    severity: str = Field(description="low, medium or high")
    state: str = Field(description="open, investigating or closed")
    resolution: str | None
    instrument: str | None
    day: str | None = Field(description="the trading day it is about; null: holdings")
    accounts: list[str]
    orders: list[str]
    trades: list[str]
    explanation: str
    detected_at: str
    updated_at: str


class AlertsOut(BaseModel):
    items: list[AlertOut]
    next_offset: int | None = Field(description="pass as `offset` for the next page")


class AlertActionOut(BaseModel):
    action: str = Field(description="raised, updated, investigate, measure or close")
    state: str = Field(description="the alert's state after it")
    measure: str | None
    account: str | None
    text: str | None
    command: str | None = Field(description="the client id of the command that did it")
    actor: str
    at: str
    seq: int | None = Field(description="the scan's journal entry (raised, updated)")


class TradeOut(BaseModel):
    id: str
    instrument: str
    mode: str
    buyer: str
    seller: str
    price: str
    quantity: int
    at: str
    buy_order: str
    sell_order: str


class AlertDetailOut(BaseModel):
    alert: AlertOut
    history: list[AlertActionOut] = Field(description="what was done about it, oldest first")
    orders: list[s.OrderOut] = Field(description="the orders it names, as the venue has them")
    trades: list[TradeOut] = Field(description="the trades it names")


class DayPositionOut(BaseModel):
    day: str
    position: int = Field(description="units held at the day's end")
    change: int


class LargeHolderOut(BaseModel):
    id: str
    holder: str
    asset: str
    position: int
    threshold: int
    limit: int = Field(description="the holder's position limit, tonnes")
    transfer: str = Field(description="the transfer that crossed the threshold")
    crossed_at: str
    history: list[DayPositionOut]
    alert: str


class LargeHoldersOut(BaseModel):
    items: list[LargeHolderOut]
