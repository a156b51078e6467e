"""Compliance tables (migration 0010), on the one `tables.metadata`.

- `compliance_periods`: the periods the authority opened (or that a year got by default), with
  their rules as canonical JSON; `compliance_closes`: each status label closed after its deadline.
- `compliance_entities`: an entity's first and last year of operation, when known.
- `emissions`: the verified emissions in force per entity and year (tonnes, or excluded);
  `emission_entries`: every entry and correction, with the value it replaced, kept forever.
- `allocation_lines`: the benchmark plan per year, entity and output line;
  `compliance_allocations`: what the plan allocated (pre, final true-up) and what was deducted
  from it (a shortfall, borrowed units).
- `surrenders`: every surrender to a period (CEA, CCER offsets pending then used, borrowed units,
  forced surrenders); the units themselves sit in the authority's surrender account for ever.
- `compliance_status`: the status table recorded when a label is closed, with shortfalls and
  penalties.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from cets.adapters.sql.tables import Id, metadata

compliance_periods = Table(
    "compliance_periods",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("first_year", Integer, nullable=False),
    Column("last_year", Integer, nullable=False),
    Column("deadline", Date, nullable=False),
    Column("cumulative", Boolean, nullable=False),
    Column("rules", Text, nullable=False),
    Column("opened_at", BigInteger, nullable=False),
    Column("opened_by", String(64), nullable=False),
    CheckConstraint("first_year <= last_year", name="years_ordered"),
)

compliance_closes = Table(
    "compliance_closes",
    metadata,
    Column("period", String(32), primary_key=True),
    Column("label", String(32), primary_key=True),
    Column("closed_at", BigInteger, nullable=False),
    Column("closed_by", String(64), nullable=False),
)

compliance_entities = Table(
    "compliance_entities",
    metadata,
    Column("holder", String(64), primary_key=True),
    Column("first_year", Integer),
    Column("last_year", Integer),
)

emissions = Table(
    "emissions",
    metadata,
    Column("holder", String(64), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("tonnes", BigInteger),  # NULL when the year is excluded
    Column("excluded", Boolean, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("entered_at", BigInteger, nullable=False),
    Column("entered_by", String(64), nullable=False),
    CheckConstraint("tonnes >= 0", name="tonnes_not_negative"),
    CheckConstraint(
        "(excluded AND tonnes IS NULL) OR (NOT excluded AND tonnes IS NOT NULL)",
        name="tonnes_or_excluded",
    ),
    Index("ix_emissions_year", "year"),
)

emission_entries = Table(
    "emission_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("holder", String(64), nullable=False),
    Column("year", Integer, nullable=False),
    Column("tonnes", BigInteger),
    Column("excluded", Boolean, nullable=False),
    Column("revision", Integer, nullable=False),  # 1: the first entry; more: corrections
    Column("previous_tonnes", BigInteger),
    Column("previous_excluded", Boolean),
    Column("reason", Text),
    Column("command", String(128), nullable=False),
    Column("entered_at", BigInteger, nullable=False),
    Column("entered_by", String(64), nullable=False),
    Index("ix_emission_entries_holder_year", "holder", "year"),
)

allocation_lines = Table(
    "allocation_lines",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("holder", String(64), primary_key=True),
    Column("line", String(64), primary_key=True),
    Column("benchmark", String(40), nullable=False),  # decimal text
    Column("factors", String(400), nullable=False),  # decimal texts, space-separated
    Column("previous_output", BigInteger, nullable=False),
    Column("verified_output", BigInteger),
    CheckConstraint("previous_output >= 0", name="previous_output_not_negative"),
    CheckConstraint("verified_output >= 0", name="verified_output_not_negative"),
)

compliance_allocations = Table(
    "compliance_allocations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("holder", String(64), nullable=False),
    Column("year", Integer, nullable=False),
    # pre | final (signed: a top-up or a recovery) | shortfall_deduction | borrow_deduction
    Column("kind", String(24), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("ref", String(64)),
    Column("command", String(128), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_compliance_allocations_year_holder", "year", "holder"),
    Index("ix_compliance_allocations_holder_kind", "holder", "kind"),
)

surrenders = Table(
    "surrenders",
    metadata,
    Column("id", String(128), primary_key=True),  # the command's client id
    Column("holder", String(64), nullable=False),
    Column("period", String(32), nullable=False),
    Column("asset", String(16), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("kind", String(12), nullable=False),  # surrender | offset | borrow | forced
    Column("state", String(12), nullable=False),  # pending | used | rejected | lapsed
    Column("at", BigInteger, nullable=False),
    Column("decided_at", BigInteger),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("kind IN ('surrender', 'offset', 'borrow', 'forced')", name="kind"),
    CheckConstraint("state IN ('pending', 'used', 'rejected', 'lapsed')", name="state"),
    Index("ix_surrenders_period_holder", "period", "holder"),
)

compliance_status = Table(
    "compliance_status",
    metadata,
    Column("period", String(32), primary_key=True),
    Column("label", String(32), primary_key=True),
    Column("holder", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("obligation", BigInteger, nullable=False),
    Column("surrendered", BigInteger, nullable=False),
    Column("offset_used", BigInteger, nullable=False),
    Column("borrowed", BigInteger, nullable=False),
    Column("shortfall", BigInteger, nullable=False),
    Column("penalty_fen", BigInteger, nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("closed_at", BigInteger, nullable=False),
    Index("ix_compliance_status_holder", "holder"),
)
