"""Settlement runs: the run a trade is cleared in (`trades.run`), the runs, objections and the
legs of correction runs; indexes for delivering a run in chunks, for T+1 (a holder's sales and
purchases of a day) and for reconciling the banks' statements (deposits and withdrawals by time).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BANK_MONEY = "code IN ('deposit', 'withdraw')"


def upgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.add_column(sa.Column("run", sa.String(40)))
    op.create_index("ix_trades_run", "trades", ["run", "ordinal"])
    op.create_index("ix_trades_seller_day", "trades", ["seller", "day"])
    op.create_index("ix_trades_buyer_day", "trades", ["buyer", "instrument", "day"])
    op.create_index(
        "ix_transfers_bank_money",
        "transfers",
        ["timestamp"],
        sqlite_where=sa.text(BANK_MONEY),
        postgresql_where=sa.text(BANK_MONEY),
    )
    op.create_table(
        "settlement_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("corrects", sa.String(40)),
        sa.Column("reason", sa.Text),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("trades", sa.BigInteger, nullable=False),
        sa.Column("prepared_at", sa.BigInteger, nullable=False),
        sa.Column("prepared_by", sa.String(64), nullable=False),
        sa.Column("confirmed_at", sa.BigInteger),
        sa.Column("confirmed_by", sa.String(64)),
        sa.Column("breaks_accepted", sa.Text),
        sa.Column("delivered_at", sa.BigInteger),
        sa.Column("objections_until", sa.BigInteger, nullable=False),
        sa.CheckConstraint("kind IN ('daily', 'correction')", name="kind"),
        sa.CheckConstraint("status IN ('prepared', 'confirmed', 'delivered')", name="status"),
    )
    op.create_index("ix_settlement_runs_day", "settlement_runs", ["day"])
    op.create_table(
        "settlement_objections",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("run", sa.String(40), sa.ForeignKey("settlement_runs.id"), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("trade", sa.String(32)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("resolution", sa.String(40)),
    )
    op.create_index("ix_settlement_objections_run", "settlement_objections", ["run"])
    op.create_table(
        "correction_legs",
        sa.Column("run", sa.String(40), sa.ForeignKey("settlement_runs.id"), primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("from_holder", sa.String(64), nullable=False),
        sa.Column("from_purpose", sa.String(20), nullable=False),
        sa.Column("to_holder", sa.String(64), nullable=False),
        sa.Column("to_purpose", sa.String(20), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("trade", sa.String(32)),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )


def downgrade() -> None:
    op.drop_table("correction_legs")
    op.drop_index("ix_settlement_objections_run", "settlement_objections")
    op.drop_table("settlement_objections")
    op.drop_index("ix_settlement_runs_day", "settlement_runs")
    op.drop_table("settlement_runs")
    op.drop_index("ix_transfers_bank_money", "transfers")
    op.drop_index("ix_trades_buyer_day", "trades")
    op.drop_index("ix_trades_seller_day", "trades")
    op.drop_index("ix_trades_run", "trades")
    with op.batch_alter_table("trades") as batch:
        batch.drop_column("run")
