"""The SQL store: the ledger kernel's state in SQLite or PostgreSQL, one transaction per batch.

A write transaction first locks the journal head (PostgreSQL: `SELECT ... FOR UPDATE`; SQLite:
`BEGIN IMMEDIATE` already serialises writers), so the journal stays one gapless hash chain however
many processes write; the accounts a batch touches are then locked in id order. `submit` is the hot
path and stays set-based: one SELECT each for the batch's accounts, holds and already-used ids, the
kernel in memory, then one multi-row statement each for transfers, holds, accounts and journal.
Nothing is acknowledged before the transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, String, bindparam, inspect, select, update
from sqlalchemy.engine import make_url

from cets.adapters.sql import tables as t
from cets.adapters.sql.access import AccessRows
from cets.adapters.sql.auction_rows import AuctionRows
from cets.adapters.sql.audit import audit, journal_entries
from cets.adapters.sql.batch import BatchRows, Head, as_chains
from cets.adapters.sql.compliance_rows import ComplianceRows
from cets.adapters.sql.database import WRITER, database_url, make_engine
from cets.adapters.sql.fund_rows import FundRows
from cets.adapters.sql.hotpath import BatchIO, Row, batch_io, gc_paused
from cets.adapters.sql.migrate import upgrade
from cets.adapters.sql.prepared import Prepared
from cets.adapters.sql.reads import StoreReads, command_record
from cets.adapters.sql.settlement_reads import SettlementReads
from cets.adapters.sql.settlement_rows import SettlementRows
from cets.adapters.sql.supervision_rows import SupervisionRows
from cets.adapters.sql.venue import VenueRows
from cets.domain.journal import JournalEntry, chain_hash
from cets.domain.ledger.kernel import LedgerState, apply_transfers
from cets.domain.ledger.model import Account, Hold, Transfer
from cets.domain.registry.holders import SYSTEM_HOLDERS, Holder
from cets.domain.units import is_cash, parse_asset, vintage
from cets.service.canonical import canonical_json
from cets.service.ports import (
    AccountKey,
    AccountSpec,
    AuditReport,
    Command,
    CommandRecord,
    CommandResult,
)

_HOLDER_BY_ID = Prepared(
    select(
        t.holders.c.id,
        t.holders.c.kind,
        t.holders.c.name,
        t.holders.c.controller,
        t.holders.c.state,
        t.holders.c.code,
    ).where(t.holders.c.id == bindparam("id", type_=String))
)
_ACCOUNT_BY_KEY = Prepared(
    select(*t.ACCOUNT_FIELDS).where(
        t.accounts.c.holder == bindparam("holder", type_=String),
        t.accounts.c.purpose == bindparam("purpose", type_=String),
        t.accounts.c.asset == bindparam("asset", type_=String),
    )
)
_HOLD_BY_ID = Prepared(select(*t.HOLD_FIELDS).where(t.holds.c.id == bindparam("id")))


class SqlUnitOfWork(
    AccessRows, VenueRows, AuctionRows, SettlementRows, FundRows, ComplianceRows, SupervisionRows
):
    """One transaction on one connection. Writes lock the journal head first (see module doc)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self._head: Head | None = None
        self._head_moved = False
        self._known_assets: set[str] = set()
        # Kept for the transaction (a group-committed batch reads them again and again): the
        # accounts' identities (not their balances) and the holders.
        self._account_ids: dict[AccountKey, Account] = {}
        self._holders: dict[str, Holder | None] = {}
        self._io: BatchIO | None = None

    # -- the journal -------------------------------------------------------------------------

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A command inside a larger transaction (group commit): if it raises, everything it
        wrote is rolled back, and so is what this unit of work remembers (the journal head, the
        assets known, the venue rows kept), while the transaction and the commands before it
        go on."""
        head, moved, assets = self._head, self._head_moved, set(self._known_assets)
        accounts, holders = dict(self._account_ids), dict(self._holders)
        cached = {name: getattr(self, name) for name in self.CACHED}
        self.conn.exec_driver_sql("SAVEPOINT command")
        try:
            yield
        except BaseException:
            self.conn.exec_driver_sql("ROLLBACK TO SAVEPOINT command")
            self.conn.exec_driver_sql("RELEASE SAVEPOINT command")
            self._head, self._head_moved, self._known_assets = head, moved, assets
            self._account_ids, self._holders = accounts, holders
            for name, value in cached.items():
                setattr(self, name, value)
            raise
        self.conn.exec_driver_sql("RELEASE SAVEPOINT command")

    def lock(self) -> None:
        """Take the writers' lock now (the journal head), before reading what a write depends on."""
        self._lock_head()

    def _lock_head(self) -> Head:
        if self._head is None:
            stmt = select(
                t.journal_head.c.seq, t.journal_head.c.hash, t.journal_head.c.transfers
            ).where(t.journal_head.c.id == 1)
            if self.postgres:
                stmt = stmt.with_for_update()
            seq, digest, transfers = self.conn.execute(stmt).one()
            self._head = Head(seq, digest, transfers)
        return self._head

    def _append(self, entries: list[tuple[str, str, str]], now_us: int) -> list[int]:
        """Append (kind, actor, canonical body) entries that made no transfers."""
        head = self._lock_head()
        seq, digest = head.seq, head.hash
        rows: list[Row] = []
        for kind, actor, body in entries:
            seq += 1
            digest = chain_hash(digest, seq, now_us, kind, actor, body)
            rows.append((seq, now_us, kind, actor, body, digest))
        if rows:
            self.io.insert_journal(rows)
            self._set_head(Head(seq, digest, head.transfers))
        return [row[0] for row in rows]

    def _set_head(self, head: Head) -> None:
        """Move the head; its row is written once, at the commit (a batch may append often)."""
        self._head = head
        self._head_moved = True

    def _write_head(self) -> None:
        head = self._head
        if self._head_moved and head is not None:
            self.conn.execute(
                update(t.journal_head)
                .where(t.journal_head.c.id == 1)
                .values(seq=head.seq, hash=head.hash, transfers=head.transfers)
            )
            self._head_moved = False

    def journal(self, kind: str, actor: str, body: Any, now_us: int) -> int:
        """Journal a command that moves nothing (e.g. a holder's state change)."""
        return self._append([(kind, actor, canonical_json(body))], now_us)[0]

    # -- holders and accounts ---------------------------------------------------------------

    def open_holders(self, holders: Sequence[Holder], *, actor: str, now_us: int) -> None:
        self._lock_head()
        for h in holders:
            self._holders.pop(h.id, None)
        self.conn.execute(
            t.holders.insert(),
            [
                {
                    "id": h.id,
                    "kind": h.kind,
                    "name": h.name,
                    "controller": h.controller,
                    "state": h.state,
                    "code": h.code,
                    "created_at": now_us,
                }
                for h in holders
            ],
        )
        body = {"holders": [[h.id, h.kind, h.name, h.controller, h.state, h.code] for h in holders]}
        self.journal("open_holders", actor, body, now_us)

    def holder(self, holder_id: str) -> Holder | None:
        if holder_id not in self._holders:
            row = _HOLDER_BY_ID(self.conn, id=holder_id).fetchone()
            self._holders[holder_id] = None if row is None else Holder(*row)
        return self._holders[holder_id]

    def holder_by_code(self, code: str) -> Holder | None:
        row = self.conn.execute(select(t.holders.c.id).where(t.holders.c.code == code)).first()
        return None if row is None else self.holder(row.id)

    def set_holder_state(self, holder_id: str, state: str) -> None:
        """Change a holder's state; the command that does it is journaled by `submit`."""
        self._lock_head()
        self.conn.execute(update(t.holders).where(t.holders.c.id == holder_id).values(state=state))
        self._holders.pop(holder_id, None)

    def holder_accounts(self, holder_id: str) -> list[Account]:
        rows = self.conn.execute(
            select(*t.ACCOUNT_FIELDS)
            .where(t.accounts.c.holder == holder_id)
            .order_by(t.accounts.c.id)
        )
        return [Account(*row) for row in rows]

    def account_by_id(self, account_id: int) -> Account:
        row = self.conn.execute(
            select(*t.ACCOUNT_FIELDS).where(t.accounts.c.id == account_id)
        ).one()
        return Account(*row)

    def accounts(self, keys: Sequence[AccountKey]) -> dict[AccountKey, Account]:
        if not keys:
            return {}
        holders = {k.holder for k in keys}
        rows = self.conn.execute(
            select(*t.ACCOUNT_FIELDS).where(t.accounts.c.holder.in_(holders))
        ).all()
        wanted = set(keys)
        found = {}
        for row in rows:
            key = AccountKey(row.holder, row.purpose, row.asset)
            if key in wanted:
                found[key] = Account(*row)
        return found

    def account_of(self, key: AccountKey) -> Account | None:
        account = self._account_ids.get(key)
        if account is None:
            row = _ACCOUNT_BY_KEY(
                self.conn, holder=key.holder, purpose=key.purpose, asset=key.asset
            ).fetchone()
            if row is not None:
                account = self._account_ids[key] = Account(*row)
        return account

    def open_accounts(
        self, specs: Sequence[AccountSpec], *, actor: str, now_us: int
    ) -> dict[AccountKey, Account]:
        """Get or open the accounts; opening is journaled. Assets are registered on first use.

        The journal head is locked before looking: two transactions opening the same new account
        at once then take turns, and the second finds the first's account instead of colliding
        with it on the unique key.
        """
        self._lock_head()
        known = self._account_ids
        found = {s.key: known[s.key] for s in specs if s.key in known}
        if len(found) < len(specs):
            found.update(self.accounts([s.key for s in specs if s.key not in found]))
            known.update(found)
        missing = [s for s in dict.fromkeys(specs) if s.key not in found]
        if not missing:
            return found
        self._ensure_assets({s.key.asset for s in missing})
        self.conn.execute(
            t.accounts.insert(),
            [
                {
                    "holder": s.key.holder,
                    "purpose": s.key.purpose,
                    "asset": s.key.asset,
                    "flags": s.flags,
                    "debits_pending": 0,
                    "debits_posted": 0,
                    "credits_pending": 0,
                    "credits_posted": 0,
                    "created_at": now_us,
                }
                for s in missing
            ],
        )
        opened = self.accounts([s.key for s in missing])
        known.update(opened)
        body = {
            "accounts": sorted(
                [a.id, a.holder, a.purpose, a.asset, a.flags] for a in opened.values()
            )
        }
        self.journal("open_accounts", actor, body, now_us)
        found.update(opened)
        return found

    def _ensure_assets(self, codes: set[str]) -> None:
        codes = codes - self._known_assets
        if not codes:
            return
        existing = set(self.conn.scalars(select(t.assets.c.code).where(t.assets.c.code.in_(codes))))
        new = sorted(codes - existing)
        if new:
            self.conn.execute(
                t.assets.insert(),
                [
                    {
                        "code": parse_asset(c),
                        "kind": "cash" if is_cash(c) else "unit",
                        "vintage": vintage(c),
                    }
                    for c in new
                ],
            )
        self._known_assets |= codes

    # -- command-level idempotency ----------------------------------------------------------

    def command(self, command_id: str) -> CommandRecord | None:
        return command_record(self.conn, command_id)

    def record_command(self, record: CommandRecord, now_us: int) -> None:
        self._lock_head()  # serialises writers, so two racing refusals cannot both insert
        self.conn.execute(
            t.commands.insert().values(
                id=record.id,
                kind=record.kind,
                body=record.body,
                seq=record.seq,
                code=record.code,
                message=record.message,
                at_us=now_us,
            )
        )

    def transfers_of(self, seq: int) -> tuple[Transfer, ...]:
        rows = self.conn.execute(
            select(*t.TRANSFER_FIELDS)
            .where(t.transfers.c.seq == seq)
            .order_by(t.transfers.c.ordinal)
        )
        return tuple(Transfer(*row) for row in rows)

    def hold(self, hold_id: str) -> Hold | None:
        row = _HOLD_BY_ID(self.conn, id=hold_id).fetchone()
        return None if row is None else Hold(*row)

    # -- the hot path ----------------------------------------------------------------------

    @property
    def io(self) -> BatchIO:
        if self._io is None:
            self._io = batch_io(self.conn.dialect.name, self.conn.connection.driver_connection)
        return self._io

    def submit(self, commands: Sequence[Command], now_us: int) -> list[CommandResult]:
        """Evaluate and store a group of commands; each is all-or-nothing, independent of others."""
        with gc_paused():
            return self._submit(commands, now_us)

    def _submit(self, commands: Sequence[Command], now_us: int) -> list[CommandResult]:
        head = self._lock_head()  # first, always: every writer takes its locks in one order
        batch, spans = as_chains(commands)
        state, last_transfer = self._load_state(batch)
        outcome = apply_transfers(batch, state, now_us)
        rows = BatchRows(head, now_us, last_transfer)
        results = [
            rows.command(cmd, outcome, s, e) for cmd, (s, e) in zip(commands, spans, strict=True)
        ]
        io = self.io
        io.insert_transfers(rows.transfers)
        self._write_holds(state, outcome.created_holds, outcome.touched_holds)
        accounts = state.accounts
        io.update_accounts(
            [
                (
                    a.debits_pending,
                    a.debits_posted,
                    a.credits_pending,
                    a.credits_posted,
                    last_transfer.get(a.id),
                    a.id,
                )
                for a in (accounts[i] for i in sorted(outcome.touched_accounts))
            ]
        )
        if rows.journal:
            io.insert_journal(rows.journal)
            self._set_head(Head(rows.seq, rows.digest, rows.ordinal))
        return results

    def _load_state(self, batch: list[Transfer]) -> tuple[LedgerState, dict[int, int | None]]:
        """The batch's accounts (locked), holds and already-used ids; each account's latest
        transfer ordinal (the head of its history chain)."""
        io, lock = self.io, self.postgres
        account_ids = sorted(
            {tr.debit_account_id for tr in batch} | {tr.credit_account_id for tr in batch}
        )
        accounts, last_transfer = {}, {}
        for row in io.accounts(account_ids, lock=lock):
            accounts[row[0]] = Account(*row[:9])
            last_transfer[row[0]] = row[9]
        pending_ids = sorted({tr.pending_id for tr in batch if tr.pending_id})
        holds = {row[0]: Hold(*row) for row in io.holds(pending_ids, lock=lock)}
        transfers = {row[0]: Transfer(*row[:10]) for row in io.transfers([tr.id for tr in batch])}
        return LedgerState(accounts, holds, transfers), last_transfer

    def _write_holds(self, state: LedgerState, created: set[str], touched: set[str]) -> None:
        holds = state.holds
        self.io.insert_holds(
            [
                (
                    h.id,
                    h.debit_account_id,
                    h.credit_account_id,
                    h.asset,
                    h.code,
                    h.amount,
                    h.remaining,
                    h.ref,
                    h.timestamp,
                )
                for h in (holds[i] for i in sorted(created) if i in holds)
            ]
        )
        self.io.update_holds([(holds[i].remaining, i) for i in sorted(touched - created)])

    def commit(self) -> None:
        self._write_head()
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()


class SqlStore(StoreReads, SettlementReads):
    """The ledger on one database. Safe to share between threads; each call takes a connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str | None = None, *, durable: bool = True) -> SqlStore:
        """Connect, bring the schema to the latest migration, make sure system holders exist."""
        store = cls(make_engine(url, durable=durable))
        upgrade(store.engine)
        store.bootstrap()
        return store

    @classmethod
    def existing(cls, url: str | None = None) -> SqlStore:
        """Connect to a database `cets init` made, changing nothing; LookupError otherwise."""
        resolved = database_url(url)
        parsed = make_url(resolved)
        if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
            raise LookupError(f"no database at {parsed.database} (create it with `cets init`)")
        store = cls(make_engine(resolved))
        try:
            with store.engine.connect() as conn:
                initialised = inspect(conn).has_table("journal_head")
        except Exception:
            store.close()
            raise
        if not initialised:
            store.close()
            raise LookupError(
                f"{parsed.render_as_string(hide_password=True)} is not a CETS "
                "database (create it with `cets init`)"
            )
        return store

    def bootstrap(self, now_us: int = 0) -> None:
        """Open the system holders that are missing; concurrent starts take turns."""
        with self.unit_of_work() as uow:
            uow.lock()
            missing = [h for h in SYSTEM_HOLDERS if uow.holder(h.id) is None]
            if missing:
                uow.open_holders(missing, actor="system", now_us=now_us)
                uow.commit()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def unit_of_work(self) -> Iterator[SqlUnitOfWork]:
        with self.engine.connect().execution_options(**{WRITER: True}) as conn:
            conn.begin()
            uow = SqlUnitOfWork(conn)
            try:
                yield uow
            finally:
                if conn.in_transaction():
                    conn.rollback()

    def submit_batch(self, commands: Sequence[Command], now_us: int) -> list[CommandResult]:
        """One transaction for the whole group (group commit); durable when this returns."""
        with self.unit_of_work() as uow:
            results = uow.submit(commands, now_us)
            uow.commit()
        return results

    # -- queries (no locks) ----------------------------------------------------------------

    def all_accounts(self) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*t.ACCOUNT_FIELDS).order_by(t.accounts.c.id))
            return [Account(*r) for r in rows]

    def holders(self) -> list[Holder]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.holders).order_by(t.holders.c.created_at, t.holders.c.id))
            return [Holder(r.id, r.kind, r.name, r.controller, r.state, r.code) for r in rows]

    def holds(self, *, open_only: bool = False) -> list[Hold]:
        stmt = select(*t.HOLD_FIELDS).order_by(t.holds.c.id)
        if open_only:
            stmt = stmt.where(t.holds.c.remaining > 0)
        with self.engine.connect() as conn:
            return [Hold(*r) for r in conn.execute(stmt)]

    def open_holds(self) -> list[Hold]:
        return self.holds(open_only=True)

    def transfers(self) -> Iterator[Transfer]:
        """Every transfer in the order it was accepted."""
        with self.engine.connect() as conn:
            stmt = select(*t.TRANSFER_FIELDS).order_by(t.transfers.c.ordinal)
            for row in conn.execution_options(yield_per=10_000).execute(stmt):
                yield Transfer(*row)

    def journal_entries(self) -> Iterator[JournalEntry]:
        with self.engine.connect() as conn:
            yield from journal_entries(conn)

    def audit(self) -> AuditReport:
        """Re-check the journal's hash chain and every ledger invariant against the stored rows."""
        return audit(self.engine)
