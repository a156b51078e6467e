"""Supervision's records as kept: alerts with their place in the workflow, the history of what
was done about them, large-holder reports, and the holding accounts a large-holder scan checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cets.domain.supervision.alerts import Alert


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as kept: the detector's finding, its number, and where the workflow has it."""

    id: str
    alert: Alert
    day: date | None
    state: str
    resolution: str | None
    detected_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class AlertAction:
    alert: str
    action: str  # raised, updated, investigate, close, measure
    state: str
    measure: str | None
    account: str | None
    text: str | None
    command: str | None
    actor: str
    at: int
    seq: int | None


@dataclass(frozen=True, slots=True)
class LargeHolderReport:
    id: str
    holder: str
    asset: str
    position: int
    threshold: int
    limit_t: int
    transfer: str
    transfer_ordinal: int
    crossed_at: int
    history: list[tuple[str, int, int]]  # (day, position at its end, net change)
    alert: str
    at: int


@dataclass(frozen=True, slots=True)
class Candidate:
    """A holder's holding account of a unit asset, as the large-holder scan sees it."""

    account_id: int
    holder: str
    kind: str
    asset: str
    position: int


def alert_id(ordinal: int) -> str:
    return f"AL{ordinal}"
