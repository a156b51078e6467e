"""Partial indexes for the position limit and T+1: the allocation transfers (a key emitter's
allocation of a vintage; transfers of any other kind are not indexed), an account's open
orders, and a buyer's unsettled trades; the orders' arrival numbers (max(seq) + 1 is the next
order's); and the trades of a buy order (the buyer fees it has been charged so far).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ALLOCATED = "code IN ('allocate', 'true_up')"
ORDER_OPEN = "status IN ('open', 'partially_filled')"
TRADE_UNSETTLED = "settled_seq IS NULL"
PARTIAL = (
    ("ix_transfers_allocation_credit", "transfers", ["credit_account_id"], ALLOCATED),
    ("ix_transfers_allocation_debit", "transfers", ["debit_account_id"], ALLOCATED),
    ("ix_orders_open_by_account", "orders", ["account", "instrument"], ORDER_OPEN),
    ("ix_trades_unsettled_by_buyer", "trades", ["buyer", "instrument"], TRADE_UNSETTLED),
)


def upgrade() -> None:
    op.create_index("ix_orders_seq", "orders", ["seq"])
    op.create_index("ix_trades_buy_order", "trades", ["buy_order"])
    for name, table, columns, where in PARTIAL:
        op.create_index(
            name,
            table,
            columns,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


def downgrade() -> None:
    for name, table, _, _ in reversed(PARTIAL):
        op.drop_index(name, table)
    op.drop_index("ix_trades_buy_order", "trades")
    op.drop_index("ix_orders_seq", "orders")
