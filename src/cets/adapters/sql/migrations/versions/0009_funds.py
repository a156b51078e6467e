"""Funds at settlement banks: each holder's fund account binding to one bank, withdrawal
requests, and the lines of the banks' statements.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fund_accounts",
        sa.Column("holder", sa.String(64), sa.ForeignKey("holders.id"), primary_key=True),
        sa.Column("bank", sa.String(64), sa.ForeignKey("holders.id"), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("opened_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("bank", "number", name="uq_fund_accounts_bank_number"),
    )
    op.create_table(
        "withdrawals",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("bank", sa.String(64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("requested_at", sa.BigInteger, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("settled_at", sa.BigInteger),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("status IN ('requested', 'paid', 'rejected')", name="status"),
    )
    op.create_index("ix_withdrawals_bank_status", "withdrawals", ["bank", "status"])
    op.create_table(
        "bank_statement_lines",
        sa.Column("bank", sa.String(64), primary_key=True),
        sa.Column("reference", sa.String(100), primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("type", sa.String(12), nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("imported_at", sa.BigInteger, nullable=False),
        sa.CheckConstraint("type IN ('deposit', 'withdrawal')", name="type"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    )


def downgrade() -> None:
    op.drop_table("bank_statement_lines")
    op.drop_index("ix_withdrawals_bank_status", "withdrawals")
    op.drop_table("withdrawals")
    op.drop_table("fund_accounts")
