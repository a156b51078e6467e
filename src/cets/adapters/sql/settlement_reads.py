"""Settlement's reads for the store (no locks): runs, their reconciliation, objections, and the
reports per run and per account (DOMAIN.md: "each settlement run produces a report per account
and a run total").

A daily run's report is the exchange's view of what the run moves, computed from its trades:
per account and instrument, units in (bought) and out (sold), funds in (the value of its sales)
and out (the value of its purchases) and the fees it paid; the run's totals; its objections and
its reconciliation breaks (the ledger's view, compared). A correction run's report is its legs,
summed the same way per account and asset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, text

from cets.adapters.sql import settlement_rows as rows
from cets.adapters.sql.reconcile_reads import run_breaks
from cets.domain.ledger.model import Purpose
from cets.domain.settlement.reconcile import Break
from cets.domain.settlement.runs import Objection, Run, RunKind
from cets.domain.units import CASH

_ACCOUNT_ROWS = text(
    "SELECT account, instrument, SUM(units_in), SUM(units_out), SUM(funds_in), SUM(funds_out), "
    "SUM(fees), COUNT(*) FROM ("
    "SELECT buyer AS account, instrument, quantity_t AS units_in, 0 AS units_out, "
    "0 AS funds_in, price_fen * quantity_t AS funds_out, buyer_fee_fen AS fees "
    "FROM trades WHERE run = :run "
    "UNION ALL "
    "SELECT seller, instrument, 0, quantity_t, price_fen * quantity_t, 0, seller_fee_fen "
    "FROM trades WHERE run = :run"
    ") AS sides GROUP BY account, instrument ORDER BY account, instrument"
)
_ACCOUNT_TRADES = text(
    "SELECT id, instrument, buyer, seller, price_fen, quantity_t, buyer_fee_fen, seller_fee_fen, "
    "settled_seq FROM trades WHERE run = :run AND (buyer = :account OR seller = :account) "
    "ORDER BY ordinal"
)


@dataclass(frozen=True, slots=True)
class AccountLine:
    """What one run moves for one account in one asset (units in tonnes, money in fen)."""

    account: str
    asset: str
    units_in: int
    units_out: int
    funds_in: int
    funds_out: int
    fees: int
    trades: int

    @property
    def funds_net(self) -> int:
        return self.funds_in - self.funds_out - self.fees


class SettlementReads:
    """Mixed into `SqlStore`."""

    engine: Engine

    def settlement_runs(
        self, *, day: date | None = None, status: str | None = None, limit: int = 100
    ) -> list[Run]:
        """Runs, newest first."""
        with self.engine.connect() as conn:
            return rows.runs(conn, day=day, status=status, limit=limit)

    def settlement_run(self, run_id: str) -> Run | None:
        with self.engine.connect() as conn:
            return rows.run_row(conn, run_id)

    def settlement_breaks(self, run: Run) -> list[Break]:
        with self.engine.connect() as conn:
            return run_breaks(conn, run)

    def settlement_objections(self, run_id: str) -> list[Objection]:
        with self.engine.connect() as conn:
            return rows.objections(conn, run_id)

    def settlement_lines(self, run: Run) -> list[AccountLine]:
        """Per account and asset, what `run` moves (see the module doc)."""
        with self.engine.connect() as conn:
            if run.kind == RunKind.daily:
                return [
                    AccountLine(*(r[:2]), *(int(v) for v in r[2:]))
                    for r in conn.execute(_ACCOUNT_ROWS, {"run": run.id})
                ]
            return _correction_lines(rows.correction_legs(conn, run.id))

    def settlement_account_trades(self, run_id: str, account: str) -> list[dict[str, Any]]:
        """The trades of `run_id` that `account` is a party to, with its side and its fee."""
        with self.engine.connect() as conn:
            found = conn.execute(_ACCOUNT_TRADES, {"run": run_id, "account": account}).all()
        out = []
        for tid, instrument, buyer, _seller, price, qty, bf, sf, settled in found:
            buying = buyer == account
            out.append(
                {
                    "trade": tid,
                    "instrument": instrument,
                    "side": "buy" if buying else "sell",
                    "price": price,
                    "quantity": qty,
                    "value": price * qty,
                    "fee": bf if buying else sf,
                    "settled": settled is not None,
                }
            )
        return out


def _correction_lines(legs: list[Any]) -> list[AccountLine]:
    """A correction's legs per holder and asset; a leg from or to the fee account is a fee
    refunded (negative) or charged, on the holder's line (the `trades` column counts legs)."""
    sums: dict[tuple[str, str], list[int]] = {}
    for leg in legs:
        if Purpose.fees in (leg.from_purpose, leg.to_purpose):
            refund = leg.from_purpose == Purpose.fees
            holder = leg.to_holder if refund else leg.from_holder
            line = sums.setdefault((holder, leg.asset), [0, 0, 0, 0, 0, 0])
            line[4] += -leg.amount if refund else leg.amount
            line[5] += 1
            continue
        cash = leg.asset == CASH
        for holder, incoming in ((leg.from_holder, False), (leg.to_holder, True)):
            line = sums.setdefault((holder, leg.asset), [0, 0, 0, 0, 0, 0])
            slot = (2 if incoming else 3) if cash else (0 if incoming else 1)
            line[slot] += leg.amount
            line[5] += 1
    return [AccountLine(holder, asset, *values) for (holder, asset), values in sorted(sums.items())]
