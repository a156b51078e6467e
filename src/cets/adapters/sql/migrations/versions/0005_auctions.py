"""One-way auctions: each auction's parameters and state, and which bids belong to it.

The auction's units and the bids' funds live in the `orders` rows (mode `auction`; the auction's
own sell order has the auction's id), so holds, trades and settlement are the venue's own.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auctions",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("instrument", sa.String(16), nullable=False),
        sa.Column("seller", sa.String(64), nullable=False),
        sa.Column("quantity_t", sa.BigInteger(), nullable=False),
        sa.Column("reserve_fen", sa.BigInteger(), nullable=False),
        sa.Column("pricing", sa.String(12), nullable=False),
        sa.Column("opens_us", sa.BigInteger()),
        sa.Column("closes_us", sa.BigInteger()),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("opened_us", sa.BigInteger(), nullable=False),
        sa.Column("closed_us", sa.BigInteger()),
        sa.Column("clearing_fen", sa.BigInteger()),
        sa.CheckConstraint(
            "quantity_t > 0 AND reserve_fen > 0", name=op.f("ck_auctions_amounts_positive")
        ),
        sa.CheckConstraint(
            "pricing IN ('uniform', 'pay_as_bid')", name=op.f("ck_auctions_pricing_known")
        ),
        sa.CheckConstraint("state IN ('open', 'closed')", name=op.f("ck_auctions_state_known")),
        sa.CheckConstraint(
            "opens_us IS NULL OR closes_us IS NULL OR opens_us < closes_us",
            name=op.f("ck_auctions_window_ordered"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_auctions"),
    )
    op.create_index("ix_auctions_state", "auctions", ["state"])
    op.create_table(
        "auction_bids",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("auction", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["auction"], ["auctions.id"], name="fk_auction_bids_auction_auctions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_auction_bids"),
    )
    op.create_index("ix_auction_bids_auction", "auction_bids", ["auction"])


def downgrade() -> None:
    op.drop_table("auction_bids")
    op.drop_table("auctions")
