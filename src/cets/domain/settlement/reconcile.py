"""Reconciliation: the exchange's trades, the registry's unit movements, the fund movements and
the banks' statements must agree to the tonne and the fen. Every difference is a `Break`, listed
with both amounts; none is fixed silently, and a run with breaks is confirmed only by a person
who writes down why (`confirm_run(..., accept_breaks=...)`).

What is compared (the queries are the store's, set-based; only the differences come back):

- before delivery, each order's hold against what its trades in the run need (`hold_short`), and
  each trade's advance of proceeds against its value less the seller's fee (`proceeds_mismatch`);
- after delivery, each trade's legs against the trade: units delivered (`units_mismatch`), money
  taken from the buyer (`funds_mismatch`), paid to the clearing account (`payment_mismatch`),
  each fee (`fee_mismatch`); a trade left unsettled (`trade_not_settled`); an order whose hold
  still has something left when all its trades are settled (`hold_left`);
- on the run's day, each bank's statement lines against the ledger's deposits and withdrawals at
  that bank (`missing_in_ledger`, `missing_on_statement`, `amount_mismatch`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Break:
    kind: str
    ref: str  # the trade, order or bank reference it is about
    account: str | None  # the holder concerned, when there is one
    asset: str
    expected: int | None  # what the exchange's trades (or the bank) say
    actual: int | None  # what the ledger shows (None: nothing there)
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "ref": self.ref,
            "account": self.account,
            "asset": self.asset,
            "expected": self.expected,
            "actual": self.actual,
            "detail": self.detail,
        }
