"""The ledger kernel: assets, holders, accounts, transfers, holds, the journal.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("vintage", sa.Integer()),
        sa.CheckConstraint("kind IN ('unit', 'cash')", name=op.f("ck_assets_kind")),
        sa.PrimaryKeyConstraint("code", name="pk_assets"),
    )
    op.create_table(
        "holders",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("controller", sa.String(64)),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_holders"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("last_transfer", sa.BigInteger()),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 "
            "AND credits_posted >= 0",
            name=op.f("ck_accounts_buckets_not_negative"),
        ),
        sa.CheckConstraint(
            "(flags & 1) = 0 OR credits_posted - debits_posted - debits_pending >= 0",
            name=op.f("ck_accounts_available_not_negative"),
        ),
        sa.ForeignKeyConstraint(["asset"], ["assets.code"], name="fk_accounts_asset_assets"),
        sa.ForeignKeyConstraint(["holder"], ["holders.id"], name="fk_accounts_holder_holders"),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("holder", "purpose", "asset", name="uq_accounts_key"),
    )
    op.create_table(
        "transfers",
        sa.Column("ordinal", Id, autoincrement=False, nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("debit_account_id", Id, nullable=False),
        sa.Column("credit_account_id", Id, nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("pending_id", sa.String(128)),
        sa.Column("ref", sa.String(128)),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("debit_prev", sa.BigInteger()),
        sa.Column("credit_prev", sa.BigInteger()),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_transfers_amount_not_negative")),
        sa.PrimaryKeyConstraint("ordinal", name="pk_transfers"),
        sa.UniqueConstraint("id", name="uq_transfers_id"),
    )
    op.create_table(
        "holds",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("debit_account_id", Id, nullable=False),
        sa.Column("credit_account_id", Id, nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("ref", sa.String(128)),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= amount", name=op.f("ck_holds_remaining_within_amount")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_holds"),
    )
    op.create_index("ix_holds_debit_account_id", "holds", ["debit_account_id"])
    op.create_index("ix_holds_ref", "holds", ["ref"])
    op.create_table(
        "commands",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger()),
        sa.Column("code", sa.String(64)),
        sa.Column("message", sa.Text()),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_commands"),
    )
    op.create_table(
        "journal",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_journal"),
    )
    op.create_table(
        "journal_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("transfers", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_journal_head_single_row")),
        sa.PrimaryKeyConstraint("id", name="pk_journal_head"),
    )
    op.execute(
        "INSERT INTO journal_head (id, seq, hash, transfers) VALUES (1, 0, '" + "0" * 64 + "', 0)"
    )


def downgrade() -> None:
    tables = ("journal_head", "journal", "commands", "holds", "transfers", "accounts", "holders")
    for table in (*tables, "assets"):
        op.drop_table(table)
