"""Block agreement negotiation: inquiries, and a block quote's addressee and what it answers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "block_inquiries",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("instrument", sa.String(16), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity_t", sa.BigInteger(), nullable=False),
        sa.Column("price_fen", sa.BigInteger()),
        sa.Column("to_account", sa.String(64)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "quantity_t > 0 AND (price_fen IS NULL OR price_fen > 0)",
            name=op.f("ck_block_inquiries_amounts_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_block_inquiries"),
    )
    op.create_index("ix_block_inquiries_status", "block_inquiries", ["status"])
    op.create_table(
        "block_offers",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("thread", sa.String(100), nullable=False),
        sa.Column("reply_to", sa.String(100)),
        sa.Column("to_account", sa.String(64)),
        sa.ForeignKeyConstraint(["id"], ["orders.id"], name="fk_block_offers_id_orders"),
        sa.PrimaryKeyConstraint("id", name="pk_block_offers"),
    )
    op.create_index("ix_block_offers_thread", "block_offers", ["thread"])


def downgrade() -> None:
    op.drop_table("block_offers")
    op.drop_table("block_inquiries")
