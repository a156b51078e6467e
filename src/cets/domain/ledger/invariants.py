"""The ledger's invariants as a validator that returns *every* violation, never just the first.

Used three ways: tests run it after every step, `cets audit verify` runs it against a live database,
and it documents in code what must always hold (see `model` for the same rules in words).

Inputs are plain data so that a store can compute the heavy parts set-based (SQL GROUP BY) and
hand over only aggregates:

- `accounts`: every account with its stored buckets;
- `holds`: every hold (open or closed);
- `movements`: per account, the buckets recomputed from the transfer log; when given, stored
  buckets must equal them (catches a balance edited behind the ledger's back);
- `hold_consumed`: per hold, the amount posted or voided according to the transfer log.

Every account a transfer or a hold names must exist: the database keeps no foreign keys on those
hot tables (see `adapters/sql/tables.py`), so this is where a dangling reference is caught.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cets.domain.ledger.model import Account, AccountFlags, Hold, Transfer, TransferFlags

Buckets = tuple[
    int, int, int, int
]  # debits_pending, debits_posted, credits_pending, credits_posted


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant: a stable rule name and a message with the values."""

    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


def validate(
    accounts: Iterable[Account],
    holds: Iterable[Hold],
    movements: Mapping[int, Buckets] | None = None,
    hold_consumed: Mapping[str, int] | None = None,
) -> list[Violation]:
    """Every violation of the ledger's invariants, in a stable order (empty when all is well)."""
    out: list[Violation] = []
    posted_sum: dict[str, int] = defaultdict(int)
    pending_sum: dict[str, int] = defaultdict(int)
    pending_debits: dict[int, int] = defaultdict(int)
    pending_credits: dict[int, int] = defaultdict(int)
    account_list = sorted(accounts, key=lambda a: a.id)
    holds_list = sorted(holds, key=lambda h: h.id)
    for hold in holds_list:
        out.extend(_hold_violations(hold, hold_consumed))
        pending_debits[hold.debit_account_id] += hold.remaining
        pending_credits[hold.credit_account_id] += hold.remaining
    for a in account_list:
        out.extend(_account_violations(a, movements))
        posted_sum[a.asset] += a.credits_posted - a.debits_posted
        pending_sum[a.asset] += a.credits_pending - a.debits_pending
        if pending_debits.get(a.id, 0) != a.debits_pending:
            out.append(
                Violation(
                    "holds_match_pending_debits",
                    f"account {a.id}: open holds reserve {pending_debits.get(a.id, 0)}"
                    f", debits_pending is {a.debits_pending}",
                )
            )
        if pending_credits.get(a.id, 0) != a.credits_pending:
            out.append(
                Violation(
                    "holds_match_pending_credits",
                    f"account {a.id}: open holds credit {pending_credits.get(a.id, 0)}"
                    f", credits_pending is {a.credits_pending}",
                )
            )
    out.extend(_reference_violations(account_list, holds_list, movements))
    for asset in sorted(posted_sum):
        if posted_sum[asset] != 0:
            out.append(
                Violation(
                    "conservation",
                    f"{asset}: posted balances sum to {posted_sum[asset]}, expected 0",
                )
            )
        if pending_sum[asset] != 0:
            out.append(
                Violation(
                    "conservation_pending",
                    f"{asset}: pending balances sum to {pending_sum[asset]}, expected 0",
                )
            )
    return out


def _reference_violations(
    accounts: list[Account], holds: list[Hold], movements: Mapping[int, Buckets] | None
) -> list[Violation]:
    """Every account a transfer or hold names exists (the store keeps no foreign keys there)."""
    known = {a.id for a in accounts}
    out = [
        Violation(
            "transfer_accounts_exist", f"transfers name account {account_id}, which does not exist"
        )
        for account_id in sorted(set(movements or ()) - known)
    ]
    out.extend(
        Violation(
            "hold_accounts_exist", f"hold {h.id!r} names account {account_id}, which does not exist"
        )
        for h in holds
        for account_id in (h.debit_account_id, h.credit_account_id)
        if account_id not in known
    )
    return out


def _account_violations(a: Account, movements: Mapping[int, Buckets] | None) -> list[Violation]:
    out = []
    if min(a.buckets()) < 0:
        out.append(Violation("buckets_not_negative", f"account {a.id}: buckets {a.buckets()}"))
    if a.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS and a.available < 0:
        out.append(
            Violation(
                "available_not_negative",
                f"account {a.id} ({a.holder}, {a.purpose}, {a.asset}): available {a.available}",
            )
        )
    if movements is not None:
        expected = movements.get(a.id, (0, 0, 0, 0))
        if expected != a.buckets():
            out.append(
                Violation(
                    "balances_match_transfers",
                    f"account {a.id}: stored buckets {a.buckets()}, the transfers give {expected}",
                )
            )
    return out


def _hold_violations(hold: Hold, hold_consumed: Mapping[str, int] | None) -> list[Violation]:
    out = []
    if not 0 <= hold.remaining <= hold.amount:
        out.append(
            Violation(
                "hold_within_amount",
                f"hold {hold.id!r}: remaining {hold.remaining} of {hold.amount}",
            )
        )
    if hold_consumed is not None:
        consumed = hold_consumed.get(hold.id, 0)
        if hold.amount - consumed != hold.remaining:
            out.append(
                Violation(
                    "hold_matches_transfers",
                    f"hold {hold.id!r}: remaining {hold.remaining}, the transfers "
                    f"leave {hold.amount - consumed}",
                )
            )
    return out


def movements_from_transfers(
    transfers: Iterable[Transfer],
) -> tuple[dict[int, Buckets], dict[str, int]]:
    """Per-account buckets and per-hold consumed amounts, recomputed from a transfer log.

    The reference implementation of what a store computes set-based for `validate`.
    """
    acc: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    consumed: dict[str, int] = defaultdict(int)
    for t in transfers:
        d, c = acc[t.debit_account_id], acc[t.credit_account_id]
        if t.flags & TransferFlags.PENDING:
            d[0] += t.amount
            c[2] += t.amount
        elif t.flags & (TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING):
            assert t.pending_id is not None
            consumed[t.pending_id] += t.amount
            d[0] -= t.amount
            c[2] -= t.amount
            if t.flags & TransferFlags.POST_PENDING:
                d[1] += t.amount
                c[3] += t.amount
        else:
            d[1] += t.amount
            c[3] += t.amount
    return {k: (v[0], v[1], v[2], v[3]) for k, v in acc.items()}, dict(consumed)
