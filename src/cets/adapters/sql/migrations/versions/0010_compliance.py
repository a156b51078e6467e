"""Compliance: periods and their closes, entities' years of operation, verified emissions and
their corrections, allocation plans and what they allocated, surrenders, the recorded status.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "compliance_periods",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("first_year", sa.Integer, nullable=False),
        sa.Column("last_year", sa.Integer, nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("cumulative", sa.Boolean, nullable=False),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("opened_at", sa.BigInteger, nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.CheckConstraint("first_year <= last_year", name="years_ordered"),
    )
    op.create_table(
        "compliance_closes",
        sa.Column("period", sa.String(32), primary_key=True),
        sa.Column("label", sa.String(32), primary_key=True),
        sa.Column("closed_at", sa.BigInteger, nullable=False),
        sa.Column("closed_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "compliance_entities",
        sa.Column("holder", sa.String(64), primary_key=True),
        sa.Column("first_year", sa.Integer),
        sa.Column("last_year", sa.Integer),
    )
    _emissions()
    _allocations()
    op.create_table(
        "surrenders",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("decided_at", sa.BigInteger),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("kind IN ('surrender', 'offset', 'borrow', 'forced')", name="kind"),
        sa.CheckConstraint("state IN ('pending', 'used', 'rejected', 'lapsed')", name="state"),
    )
    op.create_index("ix_surrenders_period_holder", "surrenders", ["period", "holder"])
    op.create_table(
        "compliance_status",
        sa.Column("period", sa.String(32), primary_key=True),
        sa.Column("label", sa.String(32), primary_key=True),
        sa.Column("holder", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("obligation", sa.BigInteger, nullable=False),
        sa.Column("surrendered", sa.BigInteger, nullable=False),
        sa.Column("offset_used", sa.BigInteger, nullable=False),
        sa.Column("borrowed", sa.BigInteger, nullable=False),
        sa.Column("shortfall", sa.BigInteger, nullable=False),
        sa.Column("penalty_fen", sa.BigInteger, nullable=False),
        sa.Column("price_fen", sa.BigInteger, nullable=False),
        sa.Column("closed_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_compliance_status_holder", "compliance_status", ["holder"])


def _emissions() -> None:
    op.create_table(
        "emissions",
        sa.Column("holder", sa.String(64), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("tonnes", sa.BigInteger),
        sa.Column("excluded", sa.Boolean, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("entered_at", sa.BigInteger, nullable=False),
        sa.Column("entered_by", sa.String(64), nullable=False),
        sa.CheckConstraint("tonnes >= 0", name="tonnes_not_negative"),
        sa.CheckConstraint(
            "(excluded AND tonnes IS NULL) OR (NOT excluded AND tonnes IS NOT NULL)",
            name="tonnes_or_excluded",
        ),
    )
    op.create_index("ix_emissions_year", "emissions", ["year"])
    op.create_table(
        "emission_entries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("tonnes", sa.BigInteger),
        sa.Column("excluded", sa.Boolean, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("previous_tonnes", sa.BigInteger),
        sa.Column("previous_excluded", sa.Boolean),
        sa.Column("reason", sa.Text),
        sa.Column("command", sa.String(128), nullable=False),
        sa.Column("entered_at", sa.BigInteger, nullable=False),
        sa.Column("entered_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_emission_entries_holder_year", "emission_entries", ["holder", "year"])


def _allocations() -> None:
    op.create_table(
        "allocation_lines",
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("holder", sa.String(64), primary_key=True),
        sa.Column("line", sa.String(64), primary_key=True),
        sa.Column("benchmark", sa.String(40), nullable=False),
        sa.Column("factors", sa.String(400), nullable=False),
        sa.Column("previous_output", sa.BigInteger, nullable=False),
        sa.Column("verified_output", sa.BigInteger),
        sa.CheckConstraint("previous_output >= 0", name="previous_output_not_negative"),
        sa.CheckConstraint("verified_output >= 0", name="verified_output_not_negative"),
    )
    op.create_table(
        "compliance_allocations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("ref", sa.String(64)),
        sa.Column("command", sa.String(128), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_compliance_allocations_year_holder", "compliance_allocations", ["year", "holder"]
    )
    op.create_index(
        "ix_compliance_allocations_holder_kind", "compliance_allocations", ["holder", "kind"]
    )


def downgrade() -> None:
    for table in (
        "compliance_status",
        "surrenders",
        "compliance_allocations",
        "allocation_lines",
        "emission_entries",
        "emissions",
        "compliance_entities",
        "compliance_closes",
        "compliance_periods",
    ):
        op.drop_table(table)
