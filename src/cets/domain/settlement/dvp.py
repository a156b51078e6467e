"""Delivery versus payment of one trade, gross: the linked legs that settle it, and their effect
on the accounts and holds, applied in memory for a whole chunk of trades at once.

A trade's money reached the seller at the fill: the clearing account (the exchange's, allowed to
go below zero) advanced the seller its net proceeds (`proceeds:<trade>`: value less the seller's
fee), so they can buy the same day (DOMAIN.md, T+1). At the day's end the trade settles as one
linked batch, each leg with its own id under `settle:<trade>`:

1. `units`      post the sell order's hold: the seller's units into the unit transit account;
2. `deliver`    the units on to the buyer's holding account;
3. `funds`      post the buy order's hold: the buyer's money (value + buyer's fee) into transit;
4. `pay`        the value less the seller's fee on to the clearing account, repaying its advance;
5. `buyer-fee`  the buyer's fee to the exchange's fee account (when not 0);
6. `seller-fee` the seller's fee to the fee account (when not 0).

The transit accounts end each trade where they began, and the clearing account is back at zero
once every trade it advanced is settled: the reconciliation checks both.

`apply_legs` is the kernel's rules for exactly these shapes (post part of a hold; a plain move),
written for speed: settling a million trades is six million transfers. It checks what can fail
(a hold between other accounts or shorter than its post, a limited account below zero available,
a closed account) and raises `DomainError` naming the leg; the caller then writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ledger.model import Account, AccountFlags, Hold, TransferCode, TransferFlags
from cets.domain.units import CASH

__all__ = ["LegRow", "SettleAccounts", "TradeToSettle", "apply_legs", "dvp_legs", "proceeds_id"]

_LINKED = int(TransferFlags.LINKED)
_POST = int(TransferFlags.POST_PENDING)
_LIMITED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CLOSED = int(AccountFlags.CLOSED)
_TRADE = str(TransferCode.trade)
_FEE = str(TransferCode.fee)

# id, debit, credit, asset, amount, code, flags, pending_id, ref, timestamp (TRANSFER_COLUMNS order)
LegRow = tuple[str, int, int, str, int, str, int, str | None, str, int]


def proceeds_id(trade_id: str) -> str:
    """The id of the clearing account's advance of a trade's net proceeds to its seller."""
    return f"proceeds:{trade_id}"


@dataclass(slots=True)  # not frozen: built a million times a run, and frozen init is slower
class TradeToSettle:
    id: str
    instrument: str
    buy_hold: str  # the buy order's hold id
    sell_hold: str
    buyer_units: int  # the buyer's holding account of the instrument
    quantity: int
    value: int  # price x quantity, fen
    buyer_fee: int
    seller_fee: int


@dataclass(frozen=True, slots=True)
class SettleAccounts:
    """The exchange's accounts the legs end in (the transit accounts are the holds' own)."""

    clearing: int
    fees: int


def dvp_legs(
    trade: TradeToSettle, holds: Mapping[str, Hold], system: SettleAccounts, now: int
) -> list[LegRow]:
    """The linked legs that settle `trade` (see the module doc), in order; the last one ends the
    chain (not LINKED)."""
    sell, buy = holds[trade.sell_hold], holds[trade.buy_hold]
    tid, ref, instrument = f"settle:{trade.id}", trade.id, trade.instrument
    unit_transit, cash_transit = sell.credit_account_id, buy.credit_account_id
    legs: list[LegRow] = [
        (f"{tid}/units", sell.debit_account_id, sell.credit_account_id, instrument,
         trade.quantity, _TRADE, _POST | _LINKED, sell.id, ref, now),
        (f"{tid}/deliver", unit_transit, trade.buyer_units, instrument, trade.quantity, _TRADE,
         _LINKED, None, ref, now),
        (f"{tid}/funds", buy.debit_account_id, buy.credit_account_id, CASH,
         trade.value + trade.buyer_fee, _TRADE, _POST | _LINKED, buy.id, ref, now),
    ]  # fmt: skip
    net = trade.value - trade.seller_fee
    if net:
        legs.append((f"{tid}/pay", cash_transit, system.clearing, CASH, net, _TRADE, _LINKED,
                     None, ref, now))  # fmt: skip
    if trade.buyer_fee:
        legs.append((f"{tid}/buyer-fee", cash_transit, system.fees, CASH, trade.buyer_fee, _FEE,
                     _LINKED, None, ref, now))  # fmt: skip
    if trade.seller_fee:
        legs.append((f"{tid}/seller-fee", cash_transit, system.fees, CASH, trade.seller_fee,
                     _FEE, _LINKED, None, ref, now))  # fmt: skip
    last = legs[-1]
    legs[-1] = (*last[:6], last[6] & ~_LINKED, *last[7:])
    return legs


def apply_legs(
    legs: Iterable[LegRow], accounts: Mapping[int, Account], holds: Mapping[str, Hold]
) -> tuple[set[int], set[str]]:
    """Apply `legs` to `accounts` and `holds` in place (the kernel's rules for a post of part of
    a hold and for a plain move); the ids of the accounts and holds changed. Raises DomainError
    at the first leg the kernel would refuse; the objects are then partly changed and must be
    thrown away (the caller's transaction rolls back)."""
    touched_accounts: set[int] = set()
    touched_holds: set[str] = set()
    for leg_id, debit_id, credit_id, asset, amount, _code, flags, pending, _ref, _at in legs:
        debit, credit = accounts[debit_id], accounts[credit_id]
        if amount <= 0 or debit.asset != asset or credit.asset != asset:
            _refuse(RejectCode.invalid_field, leg_id, f"{amount} of {asset}")
        if flags & _POST:
            assert pending is not None
            hold = holds[pending]
            if hold.debit_account_id != debit_id or hold.credit_account_id != credit_id:
                _refuse(RejectCode.invalid_field, leg_id, f"hold {pending} is between others")
            if hold.remaining < amount:
                _refuse(
                    RejectCode.amount_exceeds_hold,
                    leg_id,
                    f"hold {pending} has {hold.remaining} left, the leg posts {amount}",
                )
            hold.remaining -= amount
            debit.debits_pending -= amount
            credit.credits_pending -= amount
            touched_holds.add(pending)
        elif (debit.flags | credit.flags) & _CLOSED:
            _refuse(RejectCode.account_closed, leg_id, "an account it names is closed")
        elif debit.flags & _LIMITED and debit.available < amount:
            code = RejectCode.insufficient_funds if asset == CASH else RejectCode.insufficient_units
            _refuse(code, leg_id, f"account {debit_id} has {debit.available} available")
        debit.debits_posted += amount
        credit.credits_posted += amount
        touched_accounts.add(debit_id)
        touched_accounts.add(credit_id)
    return touched_accounts, touched_holds


def _refuse(code: RejectCode, leg_id: str, why: str) -> None:
    raise DomainError(code, f"settlement leg {leg_id}: {why}")
