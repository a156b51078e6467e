"""Ledger data model: accounts with cumulative buckets, immutable transfers, holds.

Modelled on TigerBeetle's data model (accounts, two-phase transfers, linked events) with the
amounts in integer units of their asset: whole tonnes for units (`CEA-<vintage>`, `CCER`), fen for
cash (`CNY`).

Invariants (checked by `invariants.validate`, and by the database's CHECK constraints where a row
alone can show them):

- every bucket is >= 0; a bucket only grows, except the pending buckets, which shrink when a hold
  is posted or voided;
- an account flagged `DEBITS_MUST_NOT_EXCEED_CREDITS` (every holder account) never has
  `credits_posted - debits_posted - debits_pending < 0`: its *available* balance is never negative;
- per asset, the posted balances of all accounts sum to zero and so do the pending ones
  (the issuance account carries the negative side of every unit in existence);
- a hold's `remaining` is between 0 and its `amount`; per account, the open holds it is debited by
  sum to its `debits_pending` (and credited by, to its `credits_pending`);
- transfers are never changed or deleted: a correction is a new transfer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag, StrEnum

from cets.domain.ids import AccountId, HolderId, TransferId


class AccountFlags(IntFlag):
    """Account properties fixed when the account is opened."""

    NONE = 0
    # Holder accounts: available = credits_posted - debits_posted - debits_pending never below 0.
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1
    # No new transfer may touch the account (closing posts/voids of existing holds still may).
    CLOSED = 2


class TransferFlags(IntFlag):
    """How a transfer acts. PENDING, POST_PENDING and VOID_PENDING are mutually exclusive."""

    NONE = 0
    LINKED = 1  # this transfer and the next succeed or fail together
    PENDING = 2  # reserve the amount: a hold, posted or voided later
    POST_PENDING = 4  # move (part of) a hold's remaining amount to posted
    VOID_PENDING = 8  # release (part of) a hold's remaining amount


TWO_PHASE = TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING
ACTION_FLAGS = TransferFlags.PENDING | TWO_PHASE


class Purpose(StrEnum):
    """What an account is for. Holder purposes first, then the system's own accounts."""

    holding = "holding"  # a holder's registry (and trading) account for one unit asset
    fund = "fund"  # a holder's fund account (CNY) at its settlement bank
    issuance = "issuance"  # the negative side of every unit or yuan that exists in the system
    reserve = "reserve"  # the authority's allocation reserve
    frozen = "frozen"  # custody of administratively or judicially frozen units
    pledged = "pledged"  # custody of pledged units
    surrender = "surrender"  # surrendered units, held forever
    cancellation = "cancellation"  # voluntarily cancelled units
    fees = "fees"  # fees collected by the exchange
    in_transit = "in_transit"  # units or funds between trade and settlement
    bank = "bank"  # a settlement bank's side of deposits and withdrawals
    # The exchange's clearing account: advances sellers their net proceeds at the fill, repaid
    # by the buyers' money at settlement; below zero while trades are unsettled.
    clearing = "clearing"


# System accounts that may go below zero: they carry the other side of what exists (issuance),
# of what the banks hold (bank), and of what the clearing account has advanced (clearing).
UNLIMITED_PURPOSES = frozenset({Purpose.issuance, Purpose.bank, Purpose.clearing})


def default_flags(purpose: str) -> int:
    """The flags an account of `purpose` is opened with: every account but the unlimited system
    ones may never go below zero available."""
    return 0 if purpose in UNLIMITED_PURPOSES else int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)


class TransferCode(StrEnum):
    """The reason a transfer was made (part of every transfer, kept forever)."""

    issue = "issue"
    allocate = "allocate"
    true_up = "true_up"
    transfer = "transfer"
    freeze = "freeze"
    unfreeze = "unfreeze"
    deduct = "deduct"
    pledge = "pledge"
    release = "release"
    enforce = "enforce"
    cancel = "cancel"
    surrender = "surrender"
    deposit = "deposit"
    withdraw = "withdraw"
    order = "order"
    trade = "trade"
    fee = "fee"
    correction = "correction"
    offset = "offset"  # CCER pending offset (a hold into the surrender account), then used


@dataclass(slots=True)
class Account:
    """One (holder, purpose, asset) account. Mutable only through the kernel's transfers."""

    id: AccountId
    holder: HolderId
    purpose: str
    asset: str
    flags: int = 0
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    @property
    def balance(self) -> int:
        """Posted balance: what the account holds, including what is held under holds."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """Posted balance less what holds reserve: what can be moved now."""
        return self.credits_posted - self.debits_posted - self.debits_pending

    def buckets(self) -> tuple[int, int, int, int]:
        return (self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted)


@dataclass(frozen=True, slots=True)
class Transfer:
    """An immutable movement of `amount` of `asset` from the debit to the credit account.

    `id` is chosen by the client and is the idempotency key. For POST_PENDING / VOID_PENDING,
    `pending_id` names the hold and an `amount` of 0 means "whatever remains of it"; the stored
    transfer then carries the amount actually moved.
    """

    id: TransferId
    debit_account_id: AccountId
    credit_account_id: AccountId
    asset: str
    amount: int
    code: str
    flags: int = 0
    pending_id: TransferId | None = None
    ref: str | None = None
    timestamp: int = 0  # microseconds since the Unix epoch (UTC), set by the ledger

    def same_body(self, other: Transfer) -> bool:
        """Whether `other` (a stored transfer with this id) is the same request."""
        amount_ok = self.amount == other.amount or (
            self.amount == 0 and self.flags & TWO_PHASE != 0
        )
        return (
            amount_ok
            and self.debit_account_id == other.debit_account_id
            and self.credit_account_id == other.credit_account_id
            and self.asset == other.asset
            and self.code == other.code
            and (self.flags & ~TransferFlags.LINKED) == (other.flags & ~TransferFlags.LINKED)
            and self.pending_id == other.pending_id
            and self.ref == other.ref
        )


@dataclass(slots=True)
class Hold:
    """A pending transfer's reservation: `remaining` of `amount` not yet posted or voided."""

    id: TransferId  # the pending transfer's id
    debit_account_id: AccountId
    credit_account_id: AccountId
    asset: str
    code: str
    amount: int
    remaining: int
    ref: str | None = None
    timestamp: int = 0

    @property
    def is_open(self) -> bool:
        return self.remaining > 0
