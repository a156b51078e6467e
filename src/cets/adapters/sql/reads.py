"""Read-only queries of the SQL store for the API, the CLI and statements (no locks taken)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Connection, Engine, func, select, text

from cets.adapters.sql import access, bars, statements, venue
from cets.adapters.sql import tables as t
from cets.domain.journal import JournalEntry
from cets.domain.ledger.model import Account
from cets.domain.registry.access import Person
from cets.domain.registry.holders import Holder
from cets.service.ports import Approval, CommandRecord, KeyRecord, OrderRow, TradeRow


def command_record(conn: Connection, command_id: str) -> CommandRecord | None:
    """What became of a command id (see `tables.commands`)."""
    row = conn.execute(
        select(
            t.commands.c.kind,
            t.commands.c.body,
            t.commands.c.seq,
            t.commands.c.code,
            t.commands.c.message,
        ).where(t.commands.c.id == command_id)
    ).first()
    return None if row is None else CommandRecord(command_id, *row)


class StoreReads:
    """Mixed into `SqlStore`: each call reads on its own connection."""

    engine: Engine

    def person(self, person_id: str) -> Person | None:
        with self.engine.connect() as conn:
            return access.person(conn, person_id)

    def persons(
        self, *, holder: str | None = None, after: str | None = None, limit: int | None = None
    ) -> list[Person]:
        with self.engine.connect() as conn:
            return access.persons(conn, holder=holder, after=after, limit=limit)

    def key(self, key_id: str) -> KeyRecord | None:
        with self.engine.connect() as conn:
            return access.key(conn, key_id)

    def keys_of(self, person_id: str) -> list[KeyRecord]:
        with self.engine.connect() as conn:
            return access.keys_of(conn, person_id)

    def approval(self, approval_id: str) -> Approval | None:
        with self.engine.connect() as conn:
            return access.approval(conn, approval_id)

    def approvals(
        self, *, state: str | None = None, after: str | None = None, limit: int | None = 100
    ) -> list[Approval]:
        with self.engine.connect() as conn:
            return access.approvals(conn, state=state, after=after, limit=limit)

    def holder(self, holder_id: str) -> Holder | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(t.holders).where(t.holders.c.id == holder_id)).first()
        return None if r is None else Holder(r.id, r.kind, r.name, r.controller, r.state, r.code)

    def holder_page(
        self, *, after: str | None = None, limit: int = 100, controller: str | None = None
    ) -> list[Holder]:
        """Holders in id order; with `controller`, those under that actual controller (the
        related accounts supervision looks at together)."""
        stmt = select(t.holders).order_by(t.holders.c.id).limit(limit)
        if after is not None:
            stmt = stmt.where(t.holders.c.id > after)
        if controller is not None:
            stmt = stmt.where(t.holders.c.controller == controller)
        with self.engine.connect() as conn:
            return [
                Holder(r.id, r.kind, r.name, r.controller, r.state, r.code)
                for r in conn.execute(stmt)
            ]

    def accounts_of(self, holder_id: str) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*t.ACCOUNT_FIELDS)
                .where(t.accounts.c.holder == holder_id)
                .order_by(t.accounts.c.purpose, t.accounts.c.asset)
            )
            return [Account(*r) for r in rows]

    def account_names(self, account_ids: set[int]) -> dict[int, str]:
        """`holder/purpose` of each account id, for statements."""
        if not account_ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.accounts.c.id, t.accounts.c.holder, t.accounts.c.purpose).where(
                    t.accounts.c.id.in_(sorted(account_ids))
                )
            )
            return {r.id: f"{r.holder}/{r.purpose}" for r in rows}

    def command_record(self, command_id: str) -> CommandRecord | None:
        with self.engine.connect() as conn:
            return command_record(conn, command_id)

    def journal_page(self, *, after: int = 0, limit: int = 100) -> list[JournalEntry]:
        """Journal entries after seq `after` (without their transfer lines)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.journal)
                .where(t.journal.c.seq > after)
                .order_by(t.journal.c.seq)
                .limit(limit)
            )
            return [JournalEntry(r.seq, r.at_us, r.kind, r.actor, r.body, r.hash) for r in rows]

    def journal_last_seq(self) -> int:
        """The seq of the journal's last entry (0: none yet)."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.coalesce(func.max(t.journal.c.seq), 0))).scalar_one()
            )

    def journal_entry(self, seq: int) -> JournalEntry | None:
        page = self.journal_page(after=seq - 1, limit=1)
        return page[0] if page and page[0].seq == seq else None

    def venue_orders(
        self, *, account: str | None = None, status: Sequence[str] | None = None
    ) -> list[OrderRow]:
        with self.engine.connect() as conn:
            return venue.orders(conn, account=account, status=status)

    def venue_order(self, order_id: str) -> OrderRow | None:
        with self.engine.connect() as conn:
            return venue.order(conn, order_id)

    def venue_evidence(
        self, order_ids: Sequence[str], trade_ids: Sequence[str]
    ) -> tuple[list[OrderRow], list[TradeRow]]:
        """The orders and trades named (a supervision alert's evidence), in the order named;
        ids that name nothing are left out. A few set-based queries, whatever their number."""
        orders: dict[str, OrderRow] = {}
        trades: dict[str, TradeRow] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(order_ids), 500):
                chunk = list(order_ids[i : i + 500])
                stmt = select(*venue._ORDER_COLUMNS).where(t.orders.c.id.in_(chunk))
                orders |= {r[0]: OrderRow(*r) for r in conn.execute(stmt)}  # type: ignore[call-arg]
            for i in range(0, len(trade_ids), 500):
                chunk = list(trade_ids[i : i + 500])
                stmt = select(*venue._TRADE_COLUMNS).where(t.trades.c.id.in_(chunk))
                trades |= {r[1]: TradeRow(*r) for r in conn.execute(stmt)}  # type: ignore[call-arg]
        return (
            [orders[o] for o in order_ids if o in orders],
            [trades[x] for x in trade_ids if x in trades],
        )

    def venue_trades(
        self,
        *,
        instrument: str | None = None,
        since: date | None = None,
        until: date | None = None,
        last: int | None = None,
    ) -> list[TradeRow]:
        with self.engine.connect() as conn:
            return venue.trades(conn, instrument=instrument, since=since, until=until, last=last)

    def undelivered(self, holder: str) -> list[TradeRow]:
        """The holder's trades (either side) not settled yet: today's, until the day's run."""
        with self.engine.connect() as conn:
            unsettled = venue.trades(conn, unsettled=True)
        return [x for x in unsettled if holder in (x.buyer, x.seller)]

    def venue_trades_after(self, instrument: str, after: int, *, limit: int) -> list[TradeRow]:
        """The first `limit` trades of `instrument` with an ordinal above `after`, oldest first
        (what a market data stream has not sent yet)."""
        with self.engine.connect() as conn:
            return venue.trades(conn, instrument=instrument, after=after, first=limit)

    def venue_position(self) -> tuple[int, int]:
        """(venue version, last trade ordinal) in one statement, no writer's lock taken. Every
        venue write moves the version on, so while it stands still the books have not changed."""
        last = select(func.coalesce(func.max(t.trades.c.ordinal), 0)).scalar_subquery()
        with self.engine.connect() as conn:
            version, ordinal = conn.execute(select(t.venue.c.version, last)).one()
        return int(version), int(ordinal)

    def venue_open_through(self, day: date) -> bool:
        """Whether an order of a trading day up to `day` is still open or a trade of one is in no
        settlement run yet: that day has not been closed yet. (A run waiting for a person's
        confirmation is closed: its day needs no second close.)"""
        open_order = select(t.orders.c.id).where(text(t.ORDER_OPEN), t.orders.c.day <= day)
        unsettled = select(t.trades.c.ordinal).where(
            text(t.TRADE_UNSETTLED), t.trades.c.run.is_(None), t.trades.c.day <= day
        )
        with self.engine.connect() as conn:
            return conn.execute(select(open_order.exists() | unsettled.exists())).scalar_one()

    def venue_instruments(self) -> dict[str, tuple[int, bool]]:
        with self.engine.connect() as conn:
            return venue.instruments(conn)

    def bar_instruments(self) -> list[tuple[str, int, date, date]]:
        """Every instrument with daily bars: (symbol, bars, first day, last day)."""
        with self.engine.connect() as conn:
            return bars.instruments(conn)

    def daily_bars(self, instrument: str) -> list[bars.DailyBar]:
        with self.engine.connect() as conn:
            return bars.read_bars(conn, instrument)

    def history(
        self, account_id: int, *, before: int | None = None, limit: int = 100
    ) -> list[statements.Line]:
        with self.engine.connect() as conn:
            return statements.history(conn, account_id, before=before, limit=limit)

    def balance_at(self, account: Account, at_us: int) -> tuple[int, int]:
        with self.engine.connect() as conn:
            return statements.balance_at(conn, account, at_us)
