"""Supervision: when each order was cancelled or expired (backfilled from the voids of its
hold), the previous close each engine day's band was measured from, alerts with their evidence
and workflow history, large-holder reports.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
VOID_PENDING = 8


def upgrade() -> None:
    op.add_column("orders", sa.Column("closed_us", sa.BigInteger))
    op.add_column("daily_bars", sa.Column("prev_close_fen", sa.BigInteger))
    # An order cancelled or expired before this revision: the first void of its hold.
    op.execute(
        "UPDATE orders SET closed_us = (SELECT min(x.timestamp) FROM transfers x "
        f"WHERE x.pending_id = 'order:' || orders.id AND (x.flags & {VOID_PENDING}) != 0) "
        "WHERE status IN ('cancelled', 'expired')"
    )
    op.create_table(
        "alerts",
        sa.Column("ordinal", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("topic", sa.String(400), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("instrument", sa.String(16)),
        sa.Column("day", sa.Date),
        sa.Column("accounts", sa.Text, nullable=False),
        sa.Column("orders", sa.Text, nullable=False),
        sa.Column("trades", sa.Text, nullable=False),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("resolution", sa.String(32)),
        sa.Column("detected_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("id", name="uq_alerts_id"),
        sa.UniqueConstraint("key", name="uq_alerts_key"),
        sa.CheckConstraint("severity BETWEEN 1 AND 3", name="severity"),
        sa.CheckConstraint("state IN ('open', 'investigating', 'closed')", name="state"),
        sa.CheckConstraint("(state = 'closed') = (resolution IS NOT NULL)", name="closed_resolved"),
    )
    op.create_index("ix_alerts_state", "alerts", ["state"])
    op.create_index("ix_alerts_day", "alerts", ["day"])
    op.create_index("ix_alerts_topic", "alerts", ["topic", "ordinal"])
    op.create_table(
        "alert_actions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("alert", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("measure", sa.String(32)),
        sa.Column("account", sa.String(64)),
        sa.Column("text", sa.Text),
        sa.Column("command", sa.String(128)),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.BigInteger),
    )
    op.create_index("ix_alert_actions_alert", "alert_actions", ["alert", "id"])
    op.create_table(
        "large_holder_reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("threshold", sa.BigInteger, nullable=False),
        sa.Column("limit_t", sa.BigInteger, nullable=False),
        sa.Column("transfer", sa.String(128), nullable=False),
        sa.Column("transfer_ordinal", sa.BigInteger, nullable=False),
        sa.Column("crossed_at", sa.BigInteger, nullable=False),
        sa.Column("history", sa.Text, nullable=False),
        sa.Column("alert", sa.String(32), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("holder", "asset", "transfer_ordinal", name="uq_large_holder_crossing"),
    )
    op.create_index("ix_large_holder_reports_holder", "large_holder_reports", ["holder"])
    op.create_table(
        "supervision_marks",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_orders_day", "orders", ["day"])


def downgrade() -> None:
    op.drop_index("ix_orders_day", "orders")
    op.drop_table("supervision_marks")
    op.drop_table("large_holder_reports")
    op.drop_table("alert_actions")
    op.drop_table("alerts")
    op.drop_column("daily_bars", "prev_close_fen")
    op.drop_column("orders", "closed_us")
