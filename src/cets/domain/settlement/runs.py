"""Settlement runs: what a run is, the order of its states, and who may object until when.

A `daily` run is prepared at a trading day's end with every trade of the day not yet in a run; a
`correction` run is made by the registry operator with its own legs and names the delivered run
it corrects (a correction is a new batch, never an edit of the old one). Either is `prepared`,
then `confirmed` by a person (the system confirms a daily run itself when its reconciliation
shows no break and policy lets it, see `Policy.settlement_auto_confirm`), then `delivered`.
Parties to a run may object until the next trading day opens (`objections_until`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class RunStatus(StrEnum):
    prepared = "prepared"
    confirmed = "confirmed"
    delivered = "delivered"


class RunKind(StrEnum):
    daily = "daily"
    correction = "correction"


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    day: date
    kind: str
    corrects: str | None
    reason: str | None
    status: str
    trades: int
    prepared_at: int
    prepared_by: str
    confirmed_at: int | None
    confirmed_by: str | None
    breaks_accepted: str | None
    delivered_at: int | None
    objections_until: int


@dataclass(frozen=True, slots=True)
class Objection:
    id: str
    run: str
    account: str
    trade: str | None
    text: str
    by: str
    at_us: int
    resolution: str | None


@dataclass(frozen=True, slots=True)
class CorrectionLeg:
    """`amount` of `asset` from (from_holder, from_purpose) to (to_holder, to_purpose)."""

    from_holder: str
    from_purpose: str
    to_holder: str
    to_purpose: str
    asset: str
    amount: int
    trade: str | None = None


def prepared_run(
    run_id: str,
    day: date,
    kind: str,
    trades: int,
    at: int,
    by: str,
    objections_until: int,
    *,
    corrects: str | None = None,
    reason: str | None = None,
) -> Run:
    """A run as it is prepared: neither confirmed nor delivered yet."""
    return Run(
        run_id,
        day,
        kind,
        corrects,
        reason,
        RunStatus.prepared,
        trades,
        at,
        by,
        None,
        None,
        None,
        None,
        objections_until,
    )


def daily_run_id(day: date) -> str:
    return f"R{day.isoformat()}"
