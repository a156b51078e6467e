"""Rows of funds at settlement banks (see `tables`: fund accounts, withdrawal requests, bank
statement lines) and the trades T+1 looks at.

`FundRows` is mixed into the unit of work, so these writes share the transaction of the transfers
and journal entries they go with. The T+1 sums read through `ix_trades_seller_day` and
`ix_trades_buyer_day`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select, update

from cets.adapters.sql import tables as t
from cets.domain.registry.bank_files import StatementLine
from cets.domain.registry.funds import FundAccount, Withdrawal

_W = t.withdrawals.c
_WITHDRAWAL_COLUMNS = (
    _W.id,
    _W.holder,
    _W.bank,
    _W.amount_fen,
    _W.status,
    _W.reason,
    _W.requested_at,
    _W.requested_by,
    _W.settled_at,
)
_F = t.fund_accounts.c
_S = t.bank_statement_lines.c


def _fund_account(row: Any) -> FundAccount | None:
    return None if row is None else FundAccount(row.holder, row.bank, row.number, row.opened_at)


class FundRows:
    """Fund accounts, withdrawals, statement lines and T+1 sums inside the transaction."""

    conn: Connection

    def fund_account(self, holder: str) -> FundAccount | None:
        return _fund_account(
            self.conn.execute(select(t.fund_accounts).where(_F.holder == holder)).first()
        )

    def fund_account_by_number(self, bank: str, number: str) -> FundAccount | None:
        stmt = select(t.fund_accounts).where(_F.bank == bank, _F.number == number)
        return _fund_account(self.conn.execute(stmt).first())

    def insert_fund_account(self, f: FundAccount) -> None:
        self.conn.execute(
            t.fund_accounts.insert().values(
                holder=f.holder, bank=f.bank, number=f.number, opened_at=f.opened_at
            )
        )

    def withdrawal(self, withdrawal_id: str) -> Withdrawal | None:
        row = self.conn.execute(select(*_WITHDRAWAL_COLUMNS).where(_W.id == withdrawal_id)).first()
        return None if row is None else Withdrawal(*row)

    def withdrawals(
        self,
        *,
        bank: str | None = None,
        status: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[Withdrawal]:
        """Withdrawal requests in id order, from just after `after` (keyset pagination)."""
        stmt = select(*_WITHDRAWAL_COLUMNS).order_by(_W.id).limit(limit)
        if bank is not None:
            stmt = stmt.where(_W.bank == bank)
        if status is not None:
            stmt = stmt.where(_W.status == status)
        if after is not None:
            stmt = stmt.where(_W.id > after)
        return [Withdrawal(*row) for row in self.conn.execute(stmt)]

    def insert_withdrawal(self, w: Withdrawal) -> None:
        self.conn.execute(
            t.withdrawals.insert().values(
                id=w.id,
                holder=w.holder,
                bank=w.bank,
                amount_fen=w.amount_fen,
                status=w.status,
                reason=w.reason,
                requested_at=w.requested_at,
                requested_by=w.requested_by,
                settled_at=w.settled_at,
            )
        )

    def settle_withdrawal(
        self, withdrawal_id: str, status: str, reason: str | None, at_us: int
    ) -> None:
        self.conn.execute(
            update(t.withdrawals)
            .where(_W.id == withdrawal_id)
            .values(status=status, reason=reason, settled_at=at_us)
        )

    def statement_line(self, bank: str, reference: str) -> StatementLine | None:
        row = self.conn.execute(
            select(_S.day, _S.reference, _S.account, _S.type, _S.amount_fen).where(
                _S.bank == bank, _S.reference == reference
            )
        ).first()
        return None if row is None else StatementLine(0, *row)

    def insert_statement_lines(
        self, bank: str, lines: Sequence[StatementLine], imported_at: int
    ) -> None:
        if not lines:
            return
        self.conn.execute(
            t.bank_statement_lines.insert(),
            [
                {
                    "bank": bank,
                    "reference": x.reference,
                    "day": x.day,
                    "account": x.account,
                    "type": x.type,
                    "amount_fen": x.amount_fen,
                    "imported_at": imported_at,
                }
                for x in lines
            ],
        )

    def sale_proceeds_since(self, seller: str, day: date) -> int:
        """Net proceeds (value less the seller's fee) of `seller`'s trades on or after `day`."""
        tr = t.trades.c
        net = func.coalesce(func.sum(tr.price_fen * tr.quantity_t - tr.seller_fee_fen), 0)
        stmt = select(net).where(tr.seller == seller, tr.day >= day)
        return int(self.conn.execute(stmt).scalar_one())

    def delivered_purchases_since(self, buyer: str, instrument: str, day: date) -> int:
        """Tonnes of `instrument` bought by `buyer` on or after `day` and already delivered."""
        tr = t.trades.c
        stmt = select(func.coalesce(func.sum(tr.quantity_t), 0)).where(
            tr.buyer == buyer,
            tr.instrument == instrument,
            tr.day >= day,
            tr.settled_seq.is_not(None),
        )
        return int(self.conn.execute(stmt).scalar_one())
