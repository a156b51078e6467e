"""Alembic environment: runs migrations on the engine handed over in `config.attributes`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from cets.adapters.sql.database import database_url
from cets.adapters.sql.tables import metadata

config = context.config
engine = config.attributes.get("engine") or create_engine(database_url())

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
