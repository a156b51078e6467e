"""Supervision tables (migration 0011), on the one `tables.metadata`.

- `alerts`: every alert a detector raised, once per `key`, with its `topic` (the detector's
  key: what it is about, type, instrument, day, accounts; a topic raised again after its alert
  was taken up gets a new alert, keyed `<topic>#2`, `#3`...), its evidence (account, order and
  trade ids as JSON lists), severity, plain-language explanation, and where the supervisor's
  workflow has it (open, investigating, closed with a resolution).
- `alert_actions`: the alert's history, one row per event: raised, evidence updated, state
  changed, measure taken (risk warning letter, restrict account, freeze, report to the
  authority), note; each names who, when and the journal entry that holds it.
- `large_holder_reports`: a report each time a holder's units of an asset cross the reporting
  threshold (a share of its position limit), with the transfer that crossed it and the
  holder's daily position history up to then.
- `supervision_marks`: how far a scan has read (the large-holder scan: the last transfer
  ordinal it covered), so the next one reads only what came after.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cets.adapters.sql.tables import Id, metadata

alerts = Table(
    "alerts",
    metadata,
    Column("ordinal", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(32), nullable=False),
    Column("key", String(400), nullable=False),
    Column("topic", String(400), nullable=False),  # the detector's key
    Column("type", String(32), nullable=False),
    Column("severity", Integer, nullable=False),
    Column("instrument", String(16)),
    Column("day", Date),
    Column("accounts", Text, nullable=False),  # JSON list of holder ids
    Column("orders", Text, nullable=False),  # JSON list of order ids
    Column("trades", Text, nullable=False),  # JSON list of trade ids
    Column("explanation", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("resolution", String(32)),
    Column("detected_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("id", name="uq_alerts_id"),
    UniqueConstraint("key", name="uq_alerts_key"),
    CheckConstraint("severity BETWEEN 1 AND 3", name="severity"),
    CheckConstraint("state IN ('open', 'investigating', 'closed')", name="state"),
    CheckConstraint("(state = 'closed') = (resolution IS NOT NULL)", name="closed_resolved"),
    Index("ix_alerts_state", "state"),
    Index("ix_alerts_day", "day"),
    Index("ix_alerts_topic", "topic", "ordinal"),
)

alert_actions = Table(
    "alert_actions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("alert", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("state", String(16), nullable=False),  # the alert's state after the action
    Column("measure", String(32)),
    Column("account", String(64)),
    Column("text", Text),
    Column("command", String(128)),  # the client id of the command, when one did it
    Column("actor", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("seq", BigInteger),  # the journal entry of a scan (a command's: see `command`)
    Index("ix_alert_actions_alert", "alert", "id"),
)

large_holder_reports = Table(
    "large_holder_reports",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("asset", String(16), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("threshold", BigInteger, nullable=False),
    Column("limit_t", BigInteger, nullable=False),
    Column("transfer", String(128), nullable=False),  # the transfer that crossed the threshold
    Column("transfer_ordinal", BigInteger, nullable=False),
    Column("crossed_at", BigInteger, nullable=False),
    Column("history", Text, nullable=False),  # JSON [[day, position at its end, change], ...]
    Column("alert", String(32), nullable=False),
    Column("at", BigInteger, nullable=False),
    UniqueConstraint("holder", "asset", "transfer_ordinal", name="uq_large_holder_crossing"),
    Index("ix_large_holder_reports_holder", "holder"),
)

supervision_marks = Table(
    "supervision_marks",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
