"""Read models: holdings and funds per holder, as the scenario outcome and statements show them.

For a holder's unit account: `total` = posted balance (what the registry records as held, frozen
and pledged units included); `frozen`, `pledged`, `in_orders` = what open holds of that kind
reserve; `available` = total less every hold. Funds likewise, in fen.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from cets.domain.ledger.model import Account, Hold, Purpose, TransferCode
from cets.domain.registry.holders import SYSTEM_HOLDERS, Holder

_SYSTEM_IDS = frozenset(h.id for h in SYSTEM_HOLDERS)
_HOLD_KINDS: dict[str, str] = {
    TransferCode.freeze: "frozen",
    TransferCode.pledge: "pledged",
    TransferCode.order: "in_orders",
    TransferCode.offset: "pending_offset",
}


@dataclass(frozen=True, slots=True)
class Position:
    total: int
    available: int
    frozen: int = 0
    pledged: int = 0
    in_orders: int = 0
    pending_offset: int = 0


def positions(
    holders: list[Holder], accounts: list[Account], open_holds: list[Hold]
) -> tuple[dict[str, dict[str, Position]], dict[str, Position]]:
    """(units per holder and asset, funds per holder) for every holder that is not the system's."""
    reserved: dict[tuple[int, str], int] = defaultdict(int)
    for hold in open_holds:
        reserved[(hold.debit_account_id, _HOLD_KINDS.get(hold.code, "in_orders"))] += hold.remaining
    units: dict[str, dict[str, Position]] = {h.id: {} for h in holders if h.id not in _SYSTEM_IDS}
    funds: dict[str, Position] = {}
    for a in sorted(accounts, key=lambda a: (a.holder, a.asset)):
        if a.holder not in units:
            continue
        position = Position(
            total=a.balance,
            available=a.available,
            frozen=reserved[(a.id, "frozen")],
            pledged=reserved[(a.id, "pledged")],
            in_orders=reserved[(a.id, "in_orders")],
            pending_offset=reserved[(a.id, "pending_offset")],
        )
        if a.purpose == Purpose.holding:
            units[a.holder][a.asset] = position
        elif a.purpose == Purpose.fund:
            funds[a.holder] = position
    return units, funds


class PositionReads(Protocol):
    def accounts_of(self, holder_id: str) -> list[Account]: ...
    def open_holds(self) -> list[Hold]: ...


def holder_positions(
    reads: PositionReads, holder: Holder
) -> tuple[dict[str, Position], Position | None]:
    """(units per asset, funds) of one holder now: `positions` of its accounts."""
    units, funds = positions([holder], reads.accounts_of(holder.id), reads.open_holds())
    return units.get(holder.id, {}), funds.get(holder.id)
