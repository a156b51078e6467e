"""`cets audit verify` on a live database: the hash chain, then every ledger invariant.

Heavy parts are set-based: per-account buckets are recomputed from the transfer log with GROUP BY,
the history chains (each transfer's link to its accounts' previous transfer) with a window function,
and only aggregates reach Python, where the domain's validator compares them with the stored rows.
The journal is streamed in sequence order, merged with the transfers each entry made (ordinals are
assigned in journal order, so one ordered scan of each table suffices).
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, Engine, and_, case, func, select, text

from cets.adapters.sql import compliance_tables
from cets.adapters.sql import tables as t
from cets.domain.ids import TransferId
from cets.domain.journal import JournalEntry, first_break, transfer_line
from cets.domain.ledger.invariants import Buckets, Violation, validate
from cets.domain.ledger.model import Account, Hold, Purpose
from cets.domain.registry.holders import AUTHORITY
from cets.service.ports import AuditReport

_TRANSFER_LINE_COLUMNS = (
    t.transfers.c.seq,
    t.transfers.c.id,
    t.transfers.c.debit_account_id,
    t.transfers.c.credit_account_id,
    t.transfers.c.asset,
    t.transfers.c.amount,
    t.transfers.c.code,
    t.transfers.c.flags,
    t.transfers.c.pending_id,
    t.transfers.c.ref,
    t.transfers.c.timestamp,
)
# Each leg's recorded link to the previous transfer of its account vs the one the log implies.
_BROKEN_LINKS = text("""
    WITH legs AS (
        SELECT debit_account_id AS account_id, ordinal, debit_prev AS prev FROM transfers
        UNION ALL
        SELECT credit_account_id, ordinal, credit_prev FROM transfers
    ), linked AS (
        SELECT account_id, ordinal, prev,
               LAG(ordinal) OVER (PARTITION BY account_id ORDER BY ordinal) AS expected
        FROM legs
    )
    SELECT account_id, ordinal, prev, expected FROM linked
    WHERE prev IS DISTINCT FROM expected ORDER BY account_id, ordinal LIMIT 100
""")
_LAST_LINKS = text("""
    SELECT a.id, a.last_transfer, m.last FROM accounts a LEFT JOIN (
        SELECT account_id, MAX(ordinal) AS last FROM (
            SELECT debit_account_id AS account_id, ordinal FROM transfers
            UNION ALL SELECT credit_account_id, ordinal FROM transfers
        ) legs GROUP BY account_id
    ) m ON m.account_id = a.id
    WHERE a.last_transfer IS DISTINCT FROM m.last ORDER BY a.id LIMIT 100
""")


def journal_entries(conn: Connection) -> Iterator[JournalEntry]:
    """Every journal entry in order, with the canonical lines of the transfers it made."""
    entries = conn.execution_options(yield_per=10_000).execute(
        select(t.journal).order_by(t.journal.c.seq)
    )
    legs = conn.execution_options(yield_per=10_000).execute(
        select(*_TRANSFER_LINE_COLUMNS).order_by(t.transfers.c.ordinal)
    )
    leg = next(legs, None)
    for r in entries:
        lines = []
        while leg is not None and leg[0] <= r.seq:
            if leg[0] == r.seq:
                lines.append(transfer_line(*leg[1:]))
            leg = next(legs, None)
        yield JournalEntry(r.seq, r.at_us, r.kind, r.actor, r.body, r.hash, tuple(lines))


def audit(engine: Engine) -> AuditReport:
    """The whole check on one consistent snapshot of the database."""
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**options) as conn:
        entries = 0

        def counted() -> Iterator[JournalEntry]:
            nonlocal entries
            for entry in journal_entries(conn):
                entries += 1
                yield entry

        head = conn.execute(select(t.journal_head.c.seq, t.journal_head.c.hash)).one()
        chain_break = first_break(counted(), (head[0], head[1]))
        accounts = [
            Account(*row)
            for row in conn.execute(select(*t.ACCOUNT_FIELDS).order_by(t.accounts.c.id))
        ]
        holds = [Hold(*row) for row in conn.execute(select(*t.HOLD_FIELDS))]
        movements, consumed, pending = _movements(conn)
        violations = validate(accounts, holds, movements, consumed)
        violations.extend(_pending_hold_violations(pending, holds))
        violations.extend(_history_violations(conn))
        violations.extend(_surrender_violations(conn, accounts))
    return AuditReport(chain_break, violations, entries)


def _movements(
    conn: Connection,
) -> tuple[dict[int, Buckets], dict[str, int], dict[TransferId, int]]:
    """Per-account buckets, per-hold consumed amounts and pending amounts, from the log."""
    tr = t.transfers
    is_pending = tr.c.flags.op("&")(2) != 0
    is_two_phase = tr.c.flags.op("&")(12) != 0
    is_posted = tr.c.flags.op("&")(10) == 0  # plain or post_pending
    pending_delta = func.sum(case((is_pending, tr.c.amount), (is_two_phase, -tr.c.amount), else_=0))
    posted = func.sum(case((is_posted, tr.c.amount), else_=0))
    buckets: dict[int, list[int]] = {}
    for side, offset in ((tr.c.debit_account_id, 0), (tr.c.credit_account_id, 2)):
        for acc_id, pend, post in conn.execute(select(side, pending_delta, posted).group_by(side)):
            b = buckets.setdefault(acc_id, [0, 0, 0, 0])
            b[offset], b[offset + 1] = int(pend), int(post)
    consumed = {
        pid: int(total)
        for pid, total in conn.execute(
            select(tr.c.pending_id, func.sum(tr.c.amount))
            .where(and_(is_two_phase, tr.c.pending_id.is_not(None)))
            .group_by(tr.c.pending_id)
        )
    }
    pending = {
        row[0]: int(row[1]) for row in conn.execute(select(tr.c.id, tr.c.amount).where(is_pending))
    }
    return {k: (v[0], v[1], v[2], v[3]) for k, v in buckets.items()}, consumed, pending


def _pending_hold_violations(pending: dict[TransferId, int], holds: list[Hold]) -> list[Violation]:
    out = []
    by_id = {h.id: h for h in holds}
    for transfer_id, amount in sorted(pending.items()):
        hold = by_id.get(transfer_id)
        if hold is None or hold.amount != amount:
            found = "no hold" if hold is None else f"a hold of {hold.amount}"
            out.append(
                Violation(
                    "hold_for_every_pending_transfer",
                    f"pending transfer {transfer_id!r} of {amount} has {found}",
                )
            )
    out.extend(
        Violation("hold_for_every_pending_transfer", f"hold {hold_id!r} has no pending transfer")
        for hold_id in sorted(set(by_id) - set(pending))
    )
    return out


def _surrender_violations(conn: Connection, accounts: list[Account]) -> list[Violation]:
    """The authority's surrender account of each asset holds exactly the surrenders recorded as
    used, and has pending exactly the CCER offsets recorded as pending (compliance counts the
    records, the ledger holds the units: they must agree)."""
    s = compliance_tables.surrenders.c
    recorded: dict[tuple[str, str], int] = {}
    stmt = (
        select(s.asset, s.state, func.sum(s.quantity))
        .where(s.state.in_(("used", "pending")))
        .group_by(s.asset, s.state)
    )
    for asset, state, quantity in conn.execute(stmt):
        recorded[(asset, state)] = int(quantity)
    held: dict[tuple[str, str], int] = {}
    for a in accounts:
        if a.holder == AUTHORITY and a.purpose == Purpose.surrender:
            held[(a.asset, "used")] = a.balance
            held[(a.asset, "pending")] = a.credits_pending
    out = []
    for key in sorted(set(recorded) | set(held)):
        if recorded.get(key, 0) != held.get(key, 0):
            asset, state = key
            out.append(
                Violation(
                    "surrenders_match_the_surrender_account",
                    f"{asset}: surrenders recorded {state} {recorded.get(key, 0)}, "
                    f"the surrender account has {held.get(key, 0)}",
                )
            )
    return out


def _history_violations(conn: Connection) -> list[Violation]:
    """Each account's history chain links exactly its transfers, newest first."""
    broken = conn.execute(_BROKEN_LINKS).all()
    last = conn.execute(_LAST_LINKS).all()
    out = [
        Violation(
            "history_chain",
            f"account {acc}: transfer {ordinal} links to {prev}, the "
            f"previous transfer of the account is {expected}",
        )
        for acc, ordinal, prev, expected in broken
    ]
    out.extend(
        Violation(
            "history_chain",
            f"account {acc}: latest transfer recorded as {recorded}, the log says {actual}",
        )
        for acc, recorded, actual in last
    )
    return out
