"""The ledger kernel: evaluate a batch of transfers against account state, all in memory.

`apply_transfers` is the only way balances change. It is pure: the caller (a store) loads the
accounts, holds and already-stored transfers the batch refers to into a `LedgerState`, calls the
kernel, and writes back what the `BatchResult` says changed, in one database transaction.

Rules, in the order they are checked for each transfer (the first that fails is reported, see
`RejectCode` for the precedence):

1. shape: a non-empty id; at most one of PENDING / POST_PENDING / VOID_PENDING; `pending_id` set
   exactly for post/void; amount > 0 (0 allowed for post/void: "all that remains"); two different
   accounts;
2. idempotency: a stored transfer with the same id and the same body is *replayed* (accepted again,
   changing nothing, returning the stored transfer); with a different body it is `duplicate_id`;
3. references: both accounts exist; post/void name a hold that exists; the accounts carry the
   transfer's asset; the hold is between the same accounts, still open, and holds the amount;
   the accounts are not closed;
4. balance: a new posted or pending debit may not take an account flagged
   DEBITS_MUST_NOT_EXCEED_CREDITS below zero available (`units_encumbered` when the account has
   the units but holds reserve them, else `insufficient_units`; `insufficient_funds` for money).

Linked events: a transfer flagged LINKED succeeds only with the next one. If one fails, every
transfer of its chain is undone and reported `linked_event_failed` (the culprit keeps its own code);
a chain still open at the end of the batch is refused whole (`linked_event_chain_open` on its last).

Unlike TigerBeetle, a hold may be posted or voided in several parts (an order filled in lots, a
partial unfreeze); it closes when nothing remains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cets.domain.errors import RejectCode
from cets.domain.ledger.model import (
    ACTION_FLAGS,
    TWO_PHASE,
    Account,
    AccountFlags,
    Hold,
    Transfer,
    TransferFlags,
)

_LINKED = int(TransferFlags.LINKED)
_PENDING = int(TransferFlags.PENDING)
_POST = int(TransferFlags.POST_PENDING)
_VOID = int(TransferFlags.VOID_PENDING)
_TWO_PHASE = int(TWO_PHASE)
_ACTION = int(ACTION_FLAGS)
_LIMITED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CLOSED = int(AccountFlags.CLOSED)
CASH_ASSET = "CNY"


@dataclass(slots=True)
class LedgerState:
    """What a batch may touch, loaded by the store before the kernel runs.

    `transfers` holds the stored transfers whose ids occur in the batch (for idempotency); the
    kernel adds the batch's new transfers to it, so a repeated id inside one batch is seen too.
    """

    accounts: dict[int, Account]
    holds: dict[str, Hold] = field(default_factory=dict)
    transfers: dict[str, Transfer] = field(default_factory=dict)


@dataclass(slots=True)
class BatchResult:
    """Per transfer of the batch, its outcome; and what the store must write."""

    codes: list[RejectCode | None]
    messages: list[str]
    stored: list[Transfer | None]  # the transfer as stored (new or replayed), None when refused
    replayed: list[bool]
    created: list[Transfer]  # new transfers in batch order (the rows to insert)
    touched_accounts: set[int]  # accounts whose buckets changed
    touched_holds: set[str]  # holds created or changed
    created_holds: set[str]  # holds created by this batch

    @property
    def all_ok(self) -> bool:
        return all(code is None for code in self.codes)


class _RefusedError(Exception):
    def __init__(self, code: RejectCode, message: str) -> None:
        self.code = code
        self.message = message


def apply_transfers(batch: list[Transfer], state: LedgerState, now_us: int) -> BatchResult:
    """Evaluate `batch` in order against `state`, mutating it; return every transfer's outcome."""
    n = len(batch)
    result = BatchResult(
        codes=[None] * n,
        messages=[""] * n,
        stored=[None] * n,
        replayed=[False] * n,
        created=[],
        touched_accounts=set(),
        touched_holds=set(),
        created_holds=set(),
    )
    start = 0
    while start < n:
        end = start
        while end < n - 1 and batch[end].flags & _LINKED:
            end += 1
        if batch[end].flags & _LINKED:  # the batch ended inside a chain
            _refuse_chain(
                result,
                start,
                end,
                end,
                RejectCode.linked_event_chain_open,
                f"transfer {batch[end].id!r} is linked to a next transfer that is missing",
            )
        elif start == end:
            _apply_single(batch[start], start, state, now_us, result)
        else:
            _apply_chain(batch, start, end, state, now_us, result)
        start = end + 1
    return result


def _apply_single(
    t: Transfer, i: int, state: LedgerState, now_us: int, result: BatchResult
) -> None:
    if _post_plain(t, i, state, now_us, result):
        return
    try:
        stored, replay = _apply_one(t, state, now_us, result, None)
    except _RefusedError as refused:
        result.codes[i] = refused.code
        result.messages[i] = refused.message
        return
    result.stored[i] = stored
    result.replayed[i] = replay


def _post_plain(t: Transfer, i: int, state: LedgerState, now_us: int, result: BatchResult) -> bool:
    """The common case in one pass: a new, unlinked, plain transfer that breaks no rule.

    Returns False, having changed nothing, for anything else or any doubt; `_apply_one` then
    checks every rule in precedence order. What this accepts, `_apply_one` accepts the same way.
    """
    amount = t.amount
    if t.flags or t.pending_id is not None or amount <= 0 or not t.id or t.id in state.transfers:
        return False
    debit = state.accounts.get(t.debit_account_id)
    credit = state.accounts.get(t.credit_account_id)
    if debit is None or credit is None or debit is credit:
        return False
    if debit.asset != t.asset or credit.asset != t.asset or (debit.flags | credit.flags) & _CLOSED:
        return False
    if debit.flags & _LIMITED and (
        amount > debit.credits_posted - debit.debits_posted - debit.debits_pending
    ):
        return False
    stored = Transfer(t.id, debit.id, credit.id, t.asset, amount, t.code, 0, None, t.ref, now_us)
    debit.debits_posted += amount
    credit.credits_posted += amount
    state.transfers[t.id] = stored
    result.created.append(stored)
    result.touched_accounts.add(debit.id)
    result.touched_accounts.add(credit.id)
    result.stored[i] = stored
    return True


def _apply_chain(
    batch: list[Transfer],
    start: int,
    end: int,
    state: LedgerState,
    now_us: int,
    result: BatchResult,
) -> None:
    undo = _Undo()
    created_before = len(result.created)
    for i in range(start, end + 1):
        try:
            stored, replay = _apply_one(batch[i], state, now_us, result, undo)
        except _RefusedError as refused:
            undo.rollback(state)
            del result.created[created_before:]
            _refuse_chain(result, start, end, i, refused.code, refused.message)
            return
        result.stored[i] = stored
        result.replayed[i] = replay


def _refuse_chain(
    result: BatchResult, start: int, end: int, culprit: int, code: RejectCode, message: str
) -> None:
    for j in range(start, end + 1):
        result.stored[j] = None
        result.replayed[j] = False
        if j == culprit:
            result.codes[j] = code
            result.messages[j] = message
        else:
            result.codes[j] = RejectCode.linked_event_failed
            result.messages[j] = (
                f"linked transfer {culprit - start + 1} of the chain failed: {code}"
            )


class _Undo:
    """Snapshots taken before a linked chain changes anything, to put back if the chain fails."""

    __slots__ = ("accounts", "holds", "transfer_ids")

    def __init__(self) -> None:
        self.accounts: dict[int, tuple[Account, tuple[int, int, int, int]]] = {}
        self.holds: dict[str, tuple[Hold | None, int]] = {}
        self.transfer_ids: list[str] = []

    def account(self, account: Account) -> None:
        if account.id not in self.accounts:
            self.accounts[account.id] = (account, account.buckets())

    def hold(self, hold_id: str, hold: Hold | None) -> None:
        if hold_id not in self.holds:
            self.holds[hold_id] = (hold, hold.remaining if hold else 0)

    def rollback(self, state: LedgerState) -> None:
        for account, (dpe, dpo, cpe, cpo) in self.accounts.values():
            account.debits_pending, account.debits_posted = dpe, dpo
            account.credits_pending, account.credits_posted = cpe, cpo
        for hold_id, (hold, remaining) in self.holds.items():
            if hold is None:
                del state.holds[hold_id]
            else:
                hold.remaining = remaining
        for transfer_id in self.transfer_ids:
            del state.transfers[transfer_id]


def _apply_one(
    t: Transfer, state: LedgerState, now_us: int, result: BatchResult, undo: _Undo | None
) -> tuple[Transfer, bool]:
    """Check `t` against every rule, then apply it; refuse (raise) before changing anything."""
    action = t.flags & _ACTION
    _check_shape(t, action)
    stored = state.transfers.get(t.id)
    if stored is not None:
        if t.same_body(stored):
            return stored, True
        raise _RefusedError(
            RejectCode.duplicate_id,
            f"transfer id {t.id!r} was already used for a different transfer",
        )
    debit, credit, hold, amount = _check_references(t, action, state)
    if not action & _TWO_PHASE:
        _check_accounts_may_move(t, debit, credit, amount)
    if undo is not None:
        undo.account(debit)
        undo.account(credit)
        undo.transfer_ids.append(t.id)
    if amount != t.amount or t.timestamp != now_us:
        t = Transfer(
            t.id,
            t.debit_account_id,
            t.credit_account_id,
            t.asset,
            amount,
            t.code,
            t.flags,
            t.pending_id,
            t.ref,
            now_us,
        )
    if action == 0:
        debit.debits_posted += amount
        credit.credits_posted += amount
    elif action == _PENDING:
        debit.debits_pending += amount
        credit.credits_pending += amount
        if undo is not None:
            undo.hold(t.id, None)
        state.holds[t.id] = Hold(
            t.id, debit.id, credit.id, t.asset, t.code, amount, amount, t.ref, now_us
        )
        result.created_holds.add(t.id)
        result.touched_holds.add(t.id)
    else:
        assert hold is not None
        if undo is not None:
            undo.hold(hold.id, hold)
        debit.debits_pending -= amount
        credit.credits_pending -= amount
        if action == _POST:
            debit.debits_posted += amount
            credit.credits_posted += amount
        hold.remaining -= amount
        result.touched_holds.add(hold.id)
    state.transfers[t.id] = t
    result.created.append(t)
    result.touched_accounts.add(debit.id)
    result.touched_accounts.add(credit.id)
    return t, False


def _check_references(
    t: Transfer, action: int, state: LedgerState
) -> tuple[Account, Account, Hold | None, int]:
    """The accounts and hold `t` names, and the amount it moves (all that remains: amount 0)."""
    debit = state.accounts.get(t.debit_account_id)
    credit = state.accounts.get(t.credit_account_id)
    if debit is None or credit is None:
        missing = t.debit_account_id if debit is None else t.credit_account_id
        raise _RefusedError(RejectCode.unknown_account, f"account {missing} does not exist")
    hold: Hold | None = None
    if action & _TWO_PHASE:
        assert t.pending_id is not None
        hold = state.holds.get(t.pending_id)
        if hold is None:
            raise _RefusedError(RejectCode.unknown_reference, f"no hold {t.pending_id!r}")
    if debit.asset != t.asset or credit.asset != t.asset:
        raise _RefusedError(
            RejectCode.accounts_must_have_the_same_asset,
            f"transfer of {t.asset} between accounts of {debit.asset} and {credit.asset}",
        )
    amount = t.amount
    if hold is not None:
        _check_hold(t, hold)
        if amount == 0:
            amount = hold.remaining
        elif amount > hold.remaining:
            raise _RefusedError(
                RejectCode.amount_exceeds_hold,
                f"amount {amount} exceeds the {hold.remaining} remaining on hold {hold.id!r}",
            )
    return debit, credit, hold, amount


def _check_accounts_may_move(t: Transfer, debit: Account, credit: Account, amount: int) -> None:
    """A new posted or pending transfer: neither account closed, the debit covered."""
    if (debit.flags | credit.flags) & _CLOSED:
        closed = debit.id if debit.flags & _CLOSED else credit.id
        raise _RefusedError(RejectCode.account_closed, f"account {closed} is closed")
    if debit.flags & _LIMITED:
        available = debit.credits_posted - debit.debits_posted - debit.debits_pending
        if amount > available:
            raise _RefusedError(
                _shortfall_code(t.asset, debit, amount),
                f"account {debit.id} ({debit.holder}, {t.asset}) has "
                f"{available} available, the transfer needs {amount}",
            )


def _shortfall_code(asset: str, debit: Account, amount: int) -> RejectCode:
    """Why the available balance does not cover `amount`.

    Units the holder has but that holds reserve (frozen, pledged, pending offset, in orders) are
    `units_encumbered` (DOMAIN.md: such units cannot be sold, transferred or surrendered); units
    the holder does not have at all are `insufficient_units`. Money is `insufficient_funds`.
    """
    if asset == CASH_ASSET:
        return RejectCode.insufficient_funds
    if amount <= debit.credits_posted - debit.debits_posted:
        return RejectCode.units_encumbered
    return RejectCode.insufficient_units


def _check_shape(t: Transfer, action: int) -> None:
    if not t.id:
        raise _RefusedError(RejectCode.id_must_not_be_empty, "transfer id must not be empty")
    if action not in (0, _PENDING, _POST, _VOID):
        raise _RefusedError(
            RejectCode.flags_are_mutually_exclusive,
            f"transfer {t.id!r}: at most one of pending, post_pending, void_pending",
        )
    if action & _TWO_PHASE:
        if not t.pending_id:
            raise _RefusedError(
                RejectCode.pending_id_must_be_set,
                f"transfer {t.id!r}: posting or voiding needs the hold's pending_id",
            )
        if t.amount < 0:
            raise _RefusedError(
                RejectCode.amount_must_be_positive,
                f"transfer {t.id!r}: amount {t.amount}, was expected >= 0",
            )
    else:
        if t.pending_id is not None:
            raise _RefusedError(
                RejectCode.pending_id_must_not_be_set,
                f"transfer {t.id!r}: pending_id is only for posting or voiding a hold",
            )
        if t.amount <= 0:
            raise _RefusedError(
                RejectCode.amount_must_be_positive,
                f"transfer {t.id!r}: amount {t.amount}, was expected > 0",
            )
    if t.debit_account_id == t.credit_account_id:
        raise _RefusedError(
            RejectCode.accounts_must_be_different,
            f"transfer {t.id!r}: debit and credit are both account {t.debit_account_id}",
        )


def _check_hold(t: Transfer, hold: Hold) -> None:
    if hold.debit_account_id != t.debit_account_id or hold.credit_account_id != t.credit_account_id:
        raise _RefusedError(
            RejectCode.accounts_must_match_hold,
            f"hold {hold.id!r} is between accounts {hold.debit_account_id} and "
            f"{hold.credit_account_id}",
        )
    if hold.remaining == 0:
        raise _RefusedError(
            RejectCode.hold_already_closed, f"hold {hold.id!r} is already fully posted or voided"
        )
