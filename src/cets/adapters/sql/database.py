"""Which database, and how to connect to it: SQLite (embedded default) or PostgreSQL (psycopg 3).

`CETS_DATABASE_URL` names the database; without it CETS uses `cets.db` in the user's data
directory. SQLite runs in WAL mode with `synchronous=FULL` (a commit is on disk before it is
acknowledged: the registry record is the legal proof of holdings), foreign keys on, and every
write transaction opened with BEGIN IMMEDIATE so that the read-check-write of a batch is serialised
(the pysqlite driver's own transaction handling is switched off, as SQLAlchemy's docs advise).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ENV_URL = "CETS_DATABASE_URL"
WRITER = "cets_writer"  # execution option marking a connection that will write


def default_url() -> str:
    directory = Path(user_data_dir("cets", appauthor=False))
    return f"sqlite:///{directory / 'cets.db'}"


def database_url(url: str | None = None) -> str:
    """The URL to use: the one given, else `CETS_DATABASE_URL`, else the embedded default."""
    chosen = url or os.environ.get(ENV_URL) or default_url()
    parsed = make_url(chosen)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | None = None, *, durable: bool = True) -> Engine:
    """An engine for `url`; `durable=False` relaxes fsync on SQLite (throwaway scenario files)."""
    resolved = database_url(url)
    parsed = make_url(resolved)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(resolved, durable=durable)
    return create_engine(resolved, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_engine(url: str, *, durable: bool) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, poolclass=NullPool if not database else None)
    synchronous = "FULL" if durable else "OFF"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: index pages stay in memory
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front; readers get a snapshot (WAL) and never block.
        writer = connection.get_execution_options().get(WRITER, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine
