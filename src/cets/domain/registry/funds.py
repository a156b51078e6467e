"""Funds at settlement banks (DOMAIN.md, "Accounts" and "Trading", T+1): which bank a holder's
fund account is at, withdrawal requests, and what T+1 lets leave today.

Rules and invariants:
- a holder has at most one fund account at one settlement bank (`FundAccount`, bound once);
  the bank's side of it is the bank's own ledger account (bank holder, purpose `bank`, CNY);
- a holder with no binding banks with the default bank `bank` (what every deposit and
  withdrawal went through before banks were told apart);
- a withdrawal request is a hold on the fund account, `requested` until its bank reports it
  `paid` (the hold is posted) or `rejected` (voided, with a reason); both are final;
- T+1 (DOMAIN.md, "Trading"): sale proceeds may buy the same day but leave the system only from
  the next trading day, and units bought may be transferred only from the next trading day.
  "Today's" business is that of the latest trading day on or before today's local date, so on a
  Saturday Friday's proceeds still wait for Monday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from cets.domain.registry.access import Person, Role
from cets.domain.registry.holders import BANK
from cets.domain.trading.calendar import TradingCalendar


class WithdrawalStatus(StrEnum):
    requested = "requested"
    paid = "paid"
    rejected = "rejected"


@dataclass(frozen=True, slots=True)
class FundAccount:
    """Where a holder's money is: `number` is the account's number at `bank`."""

    holder: str
    bank: str
    number: str
    opened_at: int  # microseconds since the epoch, UTC


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """A withdrawal request: its id is the client's id and names its hold `withdrawal:{id}`."""

    id: str
    holder: str
    bank: str
    amount_fen: int
    status: str
    reason: str | None
    requested_at: int
    requested_by: str
    settled_at: int | None = None


def bank_of(person: Person | None) -> str:
    """The settlement bank a person acts for: a bank's staff name their bank as their holder;
    one without a holder, and anyone who is no registered person (the scenario runner, a system
    caller), act for the default bank `bank`."""
    if person is not None and person.role == Role.settlement_bank and person.holder:
        return person.holder
    return BANK


def withdrawal_hold_id(withdrawal_id: str) -> str:
    return f"withdrawal:{withdrawal_id}"


def t1_day(calendar: TradingCalendar, today: date) -> date:
    """The trading day whose proceeds and purchases are still under T+1 on local date `today`:
    today if it is a trading day, else the latest trading day before it."""
    return today if calendar.is_trading_day(today) else calendar.previous_trading_day(today)


def withdrawable(available_fen: int, recent_proceeds_fen: int) -> int:
    """What may leave a fund account now: its available balance less the net proceeds of sales
    still under T+1, never below 0 (proceeds already spent on purchases leave nothing to hold)."""
    return max(0, available_fen - recent_proceeds_fen)
