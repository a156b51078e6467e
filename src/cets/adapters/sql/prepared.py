"""Statements compiled once and run on the driver's own connection (the venue's hot path).

SQLAlchemy Core builds, hashes (for its compiled cache) and wraps every statement it runs: about
60 us a statement here, against about 15 us for SQLite itself to run the simple ones the venue
makes for each order (measured with cProfile, bench/order_entry.py). A `Prepared` statement is
written once in Core, compiled once per dialect, and then run straight on the DBAPI connection
of the unit of work (the same transaction, savepoints included), with its parameters by name.

Rows come back as the driver gives them: what SQLAlchemy's types would convert (a `Date` column
on SQLite is text) must be converted by the caller (see `as_date`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql.expression import Executable


class Prepared:
    __slots__ = ("_compiled", "_stmt")

    def __init__(self, stmt: Executable) -> None:
        self._stmt = stmt
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def __call__(self, conn: Connection, **params: Any) -> Any:
        """Run with `params` (every bind by name); returns the driver's cursor."""
        dialect = conn.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            c = self._stmt.compile(dialect=dialect)  # type: ignore[attr-defined]
            order = tuple(c.positiontup) if dialect.positional else None
            compiled = self._compiled[dialect.name] = (c.string, order, dict(c.params))
        sql, order, constants = compiled
        params = constants | params  # the values written into the statement, then the caller's
        args = params if order is None else tuple(params[name] for name in order)
        return conn.connection.driver_connection.execute(sql, args)  # type: ignore[union-attr]


def as_date(value: Any) -> date:
    """A `Date` column as the driver returns it (SQLite: ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(value)
