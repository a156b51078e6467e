"""Reconciliation's queries (see `cets.domain.settlement.reconcile`): set-based, returning only
what disagrees. A trade's legs are found by their ids (`settle:<trade>/<leg>`, `proceeds:<trade>`)
through the transfers' unique index, so a run of a million trades is a few index probes each."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Connection, text

from cets.domain.settlement.reconcile import Break
from cets.domain.settlement.runs import Run, RunKind, RunStatus
from cets.domain.units import CASH
from cets.service.clock import SHANGHAI

_LEGS = text(
    "SELECT t.id, t.buyer, t.seller, t.instrument, t.price_fen * t.quantity_t, t.quantity_t, "
    "t.buyer_fee_fen, t.seller_fee_fen, t.settled_seq, "
    "(SELECT amount FROM transfers WHERE id = 'proceeds:' || t.id), "
    "(SELECT amount FROM transfers WHERE id = 'settle:' || t.id || '/deliver'), "
    "(SELECT amount FROM transfers WHERE id = 'settle:' || t.id || '/funds'), "
    "(SELECT amount FROM transfers WHERE id = 'settle:' || t.id || '/pay'), "
    "(SELECT amount FROM transfers WHERE id = 'settle:' || t.id || '/buyer-fee'), "
    "(SELECT amount FROM transfers WHERE id = 'settle:' || t.id || '/seller-fee') "
    "FROM trades AS t WHERE t.run = :run ORDER BY t.ordinal"
)
_NEEDS = text(
    "SELECT 'order:' || sell_order, SUM(quantity_t) FROM trades "
    "WHERE run = :run AND settled_seq IS NULL GROUP BY sell_order "
    "UNION ALL "
    "SELECT 'order:' || buy_order, SUM(price_fen * quantity_t + buyer_fee_fen) FROM trades "
    "WHERE run = :run AND settled_seq IS NULL GROUP BY buy_order"
)
_HOLDS_LEFT = text(
    "SELECT h.id, h.remaining, h.asset FROM holds AS h WHERE h.code = 'order' AND h.remaining > 0 "
    "AND h.id IN (SELECT 'order:' || sell_order FROM trades WHERE run = :run "
    "UNION SELECT 'order:' || buy_order FROM trades WHERE run = :run)"
)


def run_breaks(conn: Connection, run: Run) -> list[Break]:
    """Every break of `run` (a daily run's trades against the ledger; see the domain module)."""
    if run.kind != RunKind.daily:
        return []
    breaks = _hold_breaks(conn, run.id) if run.status != RunStatus.delivered else []
    breaks += _leg_breaks(conn, run)
    breaks += bank_breaks(conn, run.day)
    if run.status == RunStatus.delivered:
        breaks += [
            Break("hold_left", hold_id, None, asset, 0, remaining, "the order's trades are settled")
            for hold_id, remaining, asset in conn.execute(_HOLDS_LEFT, {"run": run.id})
        ]
    return breaks


def _hold_breaks(conn: Connection, run_id: str) -> list[Break]:
    needs = {hold_id: int(need) for hold_id, need in conn.execute(_NEEDS, {"run": run_id})}
    if not needs:
        return []
    held = {}
    ids = sorted(needs)
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ", ".join(f":h{i}" for i in range(len(part)))
        rows = conn.execute(
            text(f"SELECT id, remaining, asset FROM holds WHERE id IN ({marks})"),
            {f"h{i}": hold_id for i, hold_id in enumerate(part)},
        )
        held.update({hold_id: (remaining, asset) for hold_id, remaining, asset in rows})
    breaks = []
    for hold_id, need in needs.items():
        remaining, asset = held.get(hold_id, (None, ""))
        if remaining is None or remaining < need:
            breaks.append(
                Break("hold_short", hold_id, None, asset, need, remaining, "what its trades need")
            )
    return breaks


def _leg_breaks(conn: Connection, run: Run) -> list[Break]:
    delivered = run.status == RunStatus.delivered
    breaks: list[Break] = []
    for row in conn.execute(_LEGS, {"run": run.id}):
        tid, buyer, seller, instrument, value, qty, bf, sf, settled = row[:9]
        proceeds, deliver, funds, pay, buyer_fee, seller_fee = row[9:]
        net = value - sf
        if (proceeds or 0) != net:
            breaks.append(Break("proceeds_mismatch", tid, seller, CASH, net, proceeds))
        if not delivered:
            continue
        if settled is None:
            breaks.append(Break("trade_not_settled", tid, buyer, instrument, qty, None))
            continue
        expected = (
            ("units_mismatch", buyer, instrument, qty, deliver),
            ("funds_mismatch", buyer, CASH, value + bf, funds),
            ("payment_mismatch", seller, CASH, net, pay),
            ("fee_mismatch", buyer, CASH, bf, buyer_fee),
            ("fee_mismatch", seller, CASH, sf, seller_fee),
        )
        breaks += [
            Break(kind, tid, holder, asset, want, got)
            for kind, holder, asset, want, got in expected
            if (got or 0) != want
        ]
    return breaks


def run_parties(conn: Connection, run_id: str) -> set[str]:
    rows = conn.execute(
        text(
            "SELECT buyer FROM trades WHERE run = :run "
            "UNION SELECT seller FROM trades WHERE run = :run"
        ),
        {"run": run_id},
    )
    return {row[0] for row in rows}


_BANK_MONEY = text(
    "SELECT t.id, t.code, t.flags, t.amount, d.holder, d.purpose, c.holder, c.purpose "
    "FROM transfers AS t JOIN accounts AS d ON d.id = t.debit_account_id "
    "JOIN accounts AS c ON c.id = t.credit_account_id "
    "WHERE t.code IN ('deposit', 'withdraw') AND t.timestamp >= :start AND t.timestamp < :end"
)


def bank_breaks(conn: Connection, day: date) -> list[Break]:
    """The banks' statements against the ledger's money in and out for `day` (see the domain
    module): only banks that sent a statement for that day are compared."""
    lines = {
        (bank, reference): (kind, account, amount)
        for bank, reference, kind, account, amount in conn.execute(
            text(
                "SELECT bank, reference, type, account, amount_fen FROM bank_statement_lines "
                "WHERE day = :day"
            ),
            {"day": day},
        )
    }
    if not lines:
        return []
    banks = {bank for bank, _ in lines}
    start = int(datetime.combine(day, time(0), SHANGHAI).timestamp() * 1_000_000)
    end = start + 86_400_000_000
    moved: dict[tuple[str, str], tuple[str, str, int]] = {}
    for row in conn.execute(_BANK_MONEY, {"start": start, "end": end}):
        movement = _bank_movement(*row)
        if movement is not None and movement[0] in banks:
            bank, reference, kind, holder, amount = movement
            moved[bank, reference] = (kind, holder, amount)
    # A statement line of the day may be booked on another day (the file came late): look it up.
    for bank, reference in set(lines) - set(moved):
        for row in conn.execute(
            text(
                "SELECT t.id, t.code, t.flags, t.amount, d.holder, d.purpose, c.holder, "
                "c.purpose FROM transfers AS t JOIN accounts AS d ON d.id = t.debit_account_id "
                "JOIN accounts AS c ON c.id = t.credit_account_id WHERE t.id IN (:a, :b)"
            ),
            {"a": reference, "b": f"withdrawal:{reference}/paid"},
        ):
            movement = _bank_movement(*row)
            if movement is not None and movement[0] == bank:
                moved[bank, reference] = movement[2:]
    breaks = []
    for key in sorted(set(lines) | set(moved)):
        bank, reference = key
        said, booked = lines.get(key), moved.get(key)
        if booked is None:
            assert said is not None
            breaks.append(
                Break(
                    "missing_in_ledger",
                    reference,
                    said[1],
                    CASH,
                    said[2],
                    None,
                    f"on {bank}'s statement, not in the ledger",
                )
            )
        elif said is None:
            breaks.append(
                Break(
                    "missing_on_statement",
                    reference,
                    booked[1],
                    CASH,
                    None,
                    booked[2],
                    f"in the ledger, not on {bank}'s statement",
                )
            )
        elif (said[0], said[2]) != (booked[0], booked[2]):
            breaks.append(
                Break(
                    "amount_mismatch",
                    reference,
                    booked[1],
                    CASH,
                    said[2],
                    booked[2],
                    f"{bank}: statement {said[0]}, ledger {booked[0]}",
                )
            )
    return breaks


def _bank_movement(
    transfer_id: str,
    code: str,
    flags: int,
    amount: int,
    debit: str,
    debit_purpose: str,
    credit: str,
    credit_purpose: str,
) -> tuple[str, str, str, str, int] | None:
    """(bank, reference, type, holder, amount) of a deposit or a withdrawal paid; None for a
    withdrawal request's hold or its release (no money moved)."""
    if code == "deposit" and debit_purpose == "bank":
        return debit, transfer_id, "deposit", credit, amount
    if code != "withdraw" or credit_purpose != "bank" or flags & (2 | 8):  # PENDING, VOID
        return None
    reference = transfer_id
    if transfer_id.startswith("withdrawal:") and transfer_id.endswith("/paid"):
        reference = transfer_id[len("withdrawal:") : -len("/paid")]
    return credit, reference, "withdrawal", debit, amount
