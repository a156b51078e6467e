"""The ledger's hot path in plain DB-API calls: set-based reads and writes for one batch.

SQLAlchemy Core builds a parameter dict per row; at tens of thousands of transfers a second that is
most of the time (measured with bench/ledger.py), so the batch path talks to the driver directly,
inside the same transaction as the SQLAlchemy connection that owns it:

- SQLite: `IN (SELECT value FROM json_each(?))` to read a batch's rows with one parameter, and
  `executemany` of prepared statements with tuples to write;
- PostgreSQL: `= ANY(%s)` to read (rows locked with FOR UPDATE in id order), and one statement per
  table that writes the whole batch from arrays with `unnest`.

Row tuples keep the column order of `ACCOUNT_COLUMNS`, `HOLD_COLUMNS`, `TRANSFER_COLUMNS` and
`JOURNAL_COLUMNS` below.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import orjson

ACCOUNT_COLUMNS = (
    "id, holder, purpose, asset, flags, debits_pending, debits_posted, credits_pending, "
    "credits_posted, last_transfer"
)
HOLD_COLUMNS = (
    "id, debit_account_id, credit_account_id, asset, code, amount, remaining, ref, timestamp"
)
TRANSFER_COLUMNS = (
    "id, debit_account_id, credit_account_id, asset, amount, code, flags, pending_id, ref, "
    "timestamp, seq, ordinal, debit_prev, credit_prev"
)
JOURNAL_COLUMNS = "seq, at_us, kind, actor, body, hash"

Row = tuple[Any, ...]


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch runs.

    A batch allocates tens of thousands of short-lived, acyclic objects (transfers, rows, results);
    each allocation burst triggers collections that walk every live object of the process, which
    measured at about 40% of a batch's time. Reference counting frees them all the same; the
    collector runs again as soon as the batch is written.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class BatchIO(Protocol):
    def accounts(self, ids: Sequence[int], *, lock: bool) -> list[Row]: ...

    def holds(self, ids: Sequence[str], *, lock: bool) -> list[Row]: ...

    def transfers(self, ids: Sequence[str]) -> list[Row]: ...

    def insert_transfers(self, rows: list[Row]) -> None: ...

    def insert_holds(self, rows: list[Row]) -> None: ...

    def update_holds(self, rows: list[Row]) -> None: ...  # (remaining, id)

    def update_accounts(self, rows: list[Row]) -> None: ...  # (dpe, dpo, cpe, cpo, last, id)

    def insert_journal(self, rows: list[Row]) -> None: ...


def _qualified(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{column.strip()}" for column in columns.split(","))


def _placeholders(columns: str, mark: str) -> str:
    return ", ".join(mark for _ in columns.split(","))


class _Inserts:
    """The appends both databases share; `_insert` is each driver's multi-row statement."""

    def _insert(self, table: str, columns: str, rows: list[Row]) -> None:
        raise NotImplementedError

    def insert_transfers(self, rows: list[Row]) -> None:
        self._insert("transfers", TRANSFER_COLUMNS, rows)

    def insert_holds(self, rows: list[Row]) -> None:
        self._insert("holds", HOLD_COLUMNS, rows)

    def insert_journal(self, rows: list[Row]) -> None:
        self._insert("journal", JOURNAL_COLUMNS, rows)


class SqliteBatchIO(_Inserts):
    def __init__(self, dbapi_connection: Any) -> None:
        self.cur = dbapi_connection.cursor()

    def _select(self, sql: str, ids: Sequence[Any]) -> list[Row]:
        if not ids:
            return []
        rows: list[Row] = self.cur.execute(sql, (orjson.dumps(list(ids)).decode(),)).fetchall()
        return rows

    def accounts(self, ids: Sequence[int], *, lock: bool) -> list[Row]:
        # BEGIN IMMEDIATE already holds the database's write lock.
        # A join from the id list probes the primary key once per id; `IN (...) ORDER BY id`
        # makes SQLite scan the whole table in rowid order instead (measured: 4 us a transfer).
        return self._select(
            f"SELECT {_qualified('a', ACCOUNT_COLUMNS)} FROM json_each(?) AS j "
            "CROSS JOIN accounts AS a ON a.id = j.value",
            ids,
        )

    def holds(self, ids: Sequence[str], *, lock: bool) -> list[Row]:
        return self._select(
            f"SELECT {HOLD_COLUMNS} FROM holds WHERE id IN (SELECT value FROM json_each(?))", ids
        )

    def transfers(self, ids: Sequence[str]) -> list[Row]:
        return self._select(
            f"SELECT {TRANSFER_COLUMNS} FROM transfers "
            "WHERE id IN (SELECT value FROM json_each(?))",
            ids,
        )

    def _insert(self, table: str, columns: str, rows: list[Row]) -> None:
        if rows:
            marks = _placeholders(columns, "?")
            self.cur.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

    def update_holds(self, rows: list[Row]) -> None:
        if rows:
            self.cur.executemany("UPDATE holds SET remaining = ? WHERE id = ?", rows)

    def update_accounts(self, rows: list[Row]) -> None:
        if rows:
            self.cur.executemany(
                "UPDATE accounts SET debits_pending = ?, debits_posted = ?, "
                "credits_pending = ?, credits_posted = ?, last_transfer = ? WHERE id = ?",
                rows,
            )


_PG_TYPES = {
    "transfers": "text bigint bigint text bigint text int text text bigint bigint bigint bigint "
    "bigint",
    "holds": "text bigint bigint text text bigint bigint text bigint",
    "journal": "bigint bigint text text text text",
}


class PostgresBatchIO(_Inserts):
    def __init__(self, dbapi_connection: Any) -> None:
        self.cur = dbapi_connection.cursor()

    def _select(self, sql: str, ids: Sequence[Any]) -> list[Row]:
        if not ids:
            return []
        rows: list[Row] = self.cur.execute(sql, (list(ids),)).fetchall()
        return rows

    def accounts(self, ids: Sequence[int], *, lock: bool) -> list[Row]:
        return self._select(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ANY(%b::bigint[]) ORDER BY id"
            + (" FOR UPDATE" if lock else ""),
            ids,
        )

    def holds(self, ids: Sequence[str], *, lock: bool) -> list[Row]:
        return self._select(
            f"SELECT {HOLD_COLUMNS} FROM holds WHERE id = ANY(%b::text[]) ORDER BY id"
            + (" FOR UPDATE" if lock else ""),
            ids,
        )

    def transfers(self, ids: Sequence[str]) -> list[Row]:
        return self._select(
            f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id = ANY(%b::text[])", ids
        )

    def _insert(self, table: str, columns: str, rows: list[Row]) -> None:
        if not rows:
            return
        types = _PG_TYPES[table].split()
        arrays = ", ".join(f"%b::{ty}[]" for ty in types)
        self.cur.execute(
            f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})",
            [list(column) for column in zip(*rows, strict=True)],
        )

    def update_holds(self, rows: list[Row]) -> None:
        if rows:
            remaining, ids = zip(*rows, strict=True)
            self.cur.execute(
                "UPDATE holds AS h SET remaining = v.remaining FROM unnest(%b::bigint[], "
                "%b::text[]) AS v(remaining, id) WHERE h.id = v.id",
                [list(remaining), list(ids)],
            )

    def update_accounts(self, rows: list[Row]) -> None:
        if rows:
            columns = [list(c) for c in zip(*rows, strict=True)]
            self.cur.execute(
                "UPDATE accounts AS a SET debits_pending = v.dpe, debits_posted = v.dpo, "
                "credits_pending = v.cpe, credits_posted = v.cpo, last_transfer = v.last "
                "FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], "
                "%b::bigint[], %b::bigint[]) AS v(dpe, dpo, cpe, cpo, last, id) "
                "WHERE a.id = v.id",
                columns,
            )


def batch_io(dialect: str, dbapi_connection: Any) -> BatchIO:
    if dialect == "postgresql":
        return PostgresBatchIO(dbapi_connection)
    assert dialect == "sqlite", f"no batch path for {dialect}"
    return SqliteBatchIO(dbapi_connection)
