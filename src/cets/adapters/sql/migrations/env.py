"""Alembic environment: runs migrations on the engine handed over in `config.attributes`."""

from __future__ import annotations

from alembic import context

from cets.adapters.sql.database import WRITER, make_engine
from cets.adapters.sql.tables import metadata

MIGRATION_LOCK = 7_271_001  # any fixed key, the same in every CETS process
config = context.config
engine = config.attributes.get("engine") or make_engine()

# Several processes may start on a fresh database at once (API workers): migrations run one at
# a time. SQLite: a writer connection (BEGIN IMMEDIATE); PostgreSQL: a transaction-level advisory
# lock. Either lock lasts as long as the transaction, so every migration runs in one transaction
# (`transactional_ddl`: SQLite has transactional DDL, but Alembic assumes it has not and would
# commit after each migration, letting a second process that read the old version in between run
# the same migrations again: "duplicate column").
with engine.connect().execution_options(**{WRITER: True}) as connection:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
