"""Statements: an account's transfer history and its balances at a past moment.

Both walk the account's own chain of transfers (each transfer row links to the previous transfer
of its debit and of its credit account, and the account row to its latest) with one recursive
query, newest first, so neither needs an index on account ids nor reads other accounts' rows.
A balance at time T is the balance now less the effect of every transfer after T (timestamps rise
with the order of acceptance, so the walk stops at the first transfer at or before T).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select, text

from cets.adapters.sql import tables as t
from cets.domain.ledger.model import Account, TransferFlags

_CHAIN = text(
    """
    WITH RECURSIVE chain(ordinal, n) AS (
        SELECT t.ordinal, 1 FROM transfers t
        WHERE t.ordinal = :start AND t.timestamp > :after_us
      UNION ALL
        SELECT p.ordinal, c.n + 1
        FROM chain c
        JOIN transfers t ON t.ordinal = c.ordinal
        JOIN transfers p ON p.ordinal = CASE WHEN t.debit_account_id = :account
                                             THEN t.debit_prev ELSE t.credit_prev END
        WHERE c.n < :limit AND p.timestamp > :after_us
    )
    SELECT t.ordinal, t.id, t.debit_account_id, t.credit_account_id, t.asset, t.amount, t.code,
           t.flags, t.pending_id, t.ref, t.timestamp, t.seq
    FROM chain JOIN transfers t ON t.ordinal = chain.ordinal
    ORDER BY chain.n
    """
).bindparams(bindparam("start"), bindparam("after_us"), bindparam("account"), bindparam("limit"))


@dataclass(frozen=True, slots=True)
class Line:
    """One transfer as an account sees it: `posted` and `held` are signed changes."""

    ordinal: int
    id: str
    at_us: int
    code: str
    asset: str
    posted: int  # change of the posted balance (+ in, - out)
    held: int  # change of what holds reserve on this account (+ reserved, - released)
    counterparty_account: int
    ref: str | None
    seq: int


def _line(account_id: int, row: tuple) -> Line:  # type: ignore[type-arg]
    ordinal, tid, debit, credit, asset, amount, code, flags, _pid, ref, at_us, seq = row
    outgoing = debit == account_id
    sign = -1 if outgoing else 1
    if flags & TransferFlags.PENDING:
        posted, held = 0, amount if outgoing else 0
    elif flags & (TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING):
        posted = sign * amount if flags & TransferFlags.POST_PENDING else 0
        held = -amount if outgoing else 0
    else:
        posted, held = sign * amount, 0
    return Line(
        ordinal, tid, at_us, code, asset, posted, held, credit if outgoing else debit, ref, seq
    )


def _last_transfer(conn: Connection, account_id: int) -> int | None:
    value = conn.execute(
        select(t.accounts.c.last_transfer).where(t.accounts.c.id == account_id)
    ).scalar_one_or_none()
    return None if value is None else int(value)


def _previous(conn: Connection, account_id: int, ordinal: int) -> int | None:
    row = conn.execute(
        select(
            t.transfers.c.debit_account_id, t.transfers.c.debit_prev, t.transfers.c.credit_prev
        ).where(t.transfers.c.ordinal == ordinal)
    ).first()
    if row is None:
        return None
    prev = row.debit_prev if row.debit_account_id == account_id else row.credit_prev
    return None if prev is None else int(prev)


def history(
    conn: Connection, account_id: int, *, before: int | None = None, limit: int = 100
) -> list[Line]:
    """The account's transfers newest first, starting just before ordinal `before` if given."""
    start = (
        _last_transfer(conn, account_id) if before is None else _previous(conn, account_id, before)
    )
    if start is None or limit <= 0:
        return []
    rows = conn.execute(
        _CHAIN, {"start": start, "after_us": -1, "account": account_id, "limit": limit}
    )
    return [_line(account_id, tuple(r)) for r in rows]


def balance_at(conn: Connection, account: Account, at_us: int) -> tuple[int, int]:
    """(posted balance, held) of `account` as they stood at `at_us` (inclusive)."""
    posted, held = account.balance, account.debits_pending
    start = _last_transfer(conn, account.id)
    if start is None:
        return posted, held
    rows = conn.execute(
        _CHAIN, {"start": start, "after_us": at_us, "account": account.id, "limit": 2**62}
    )
    for row in rows:
        line = _line(account.id, tuple(row))
        posted -= line.posted
        held -= line.held
    return posted, held
