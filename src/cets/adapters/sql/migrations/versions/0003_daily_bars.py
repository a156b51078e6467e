"""Daily bars: one row per instrument and trading day (imported history, later the engine's days).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_bars",
        sa.Column("instrument", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("open_fen", sa.BigInteger()),
        sa.Column("high_fen", sa.BigInteger()),
        sa.Column("low_fen", sa.BigInteger()),
        sa.Column("close_fen", sa.BigInteger(), nullable=False),
        sa.Column("volume_t", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("block_volume_t", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("block_amount_fen", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("source", sa.String(64), nullable=False),
        sa.CheckConstraint(
            "close_fen > 0 AND volume_t >= 0 AND amount_fen >= 0 AND block_volume_t >= 0 "
            "AND block_amount_fen >= 0",
            name=op.f("ck_daily_bars_values_not_negative"),
        ),
        sa.CheckConstraint(
            "(open_fen IS NULL AND high_fen IS NULL AND low_fen IS NULL) OR "
            "(open_fen IS NOT NULL AND high_fen IS NOT NULL AND low_fen IS NOT NULL "
            "AND low_fen > 0 AND low_fen <= open_fen AND open_fen <= high_fen "
            "AND low_fen <= close_fen AND close_fen <= high_fen)",
            name=op.f("ck_daily_bars_range_holds_open_and_close"),
        ),
        sa.PrimaryKeyConstraint("instrument", "day", name="pk_daily_bars"),
    )


def downgrade() -> None:
    op.drop_table("daily_bars")
