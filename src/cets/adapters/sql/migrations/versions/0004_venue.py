"""The trading venue: the venue row, instruments, orders and trades.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "venue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("halted", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_venue_single_row")),
        sa.PrimaryKeyConstraint("id", name="pk_venue"),
    )
    op.execute("INSERT INTO venue (id, version, halted) VALUES (1, 0, 0)")
    op.create_table(
        "instruments",
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("prev_close_fen", sa.BigInteger(), nullable=False),
        sa.Column("halted", sa.Integer(), nullable=False),
        sa.CheckConstraint("prev_close_fen > 0", name=op.f("ck_instruments_prev_close_positive")),
        sa.PrimaryKeyConstraint("symbol", name="pk_instruments"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("instrument", sa.String(16), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity_t", sa.BigInteger(), nullable=False),
        sa.Column("filled_t", sa.BigInteger(), nullable=False),
        sa.Column("cancelled_t", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "filled_t >= 0 AND cancelled_t >= 0 AND filled_t + cancelled_t <= quantity_t",
            name=op.f("ck_orders_filled_within_quantity"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
    )
    op.create_index("ix_orders_status", "orders", ["status"])
    op.create_table(
        "trades",
        sa.Column("ordinal", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("instrument", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("buy_order", sa.String(100), nullable=False),
        sa.Column("sell_order", sa.String(100), nullable=False),
        sa.Column("buyer", sa.String(64), nullable=False),
        sa.Column("seller", sa.String(64), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity_t", sa.BigInteger(), nullable=False),
        sa.Column("buyer_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("seller_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("settled_seq", sa.BigInteger()),
        sa.PrimaryKeyConstraint("ordinal", name="pk_trades"),
        sa.UniqueConstraint("id", name="uq_trades_id"),
    )
    op.create_index("ix_trades_day", "trades", ["day"])


def downgrade() -> None:
    op.drop_table("trades")
    op.drop_table("orders")
    op.drop_table("instruments")
    op.drop_table("venue")
