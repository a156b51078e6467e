"""The settlement runs' rows, and the delivery of a run's trades, a chunk at a time.

`deliver_chunk` is settlement's hot path (a day of the national market can be a million trades).
It settles the next `limit` trades of a run in the caller's transaction, set-based: one SELECT
each for the trades, their orders' holds and the accounts the legs touch; the legs built and
applied in memory (`cets.domain.settlement.dvp`); one multi-row write each for transfers, holds
and accounts; one journal entry for the chunk, whose hash covers every leg; and one UPDATE that
marks the chunk's trades settled by that entry. So a chunk is all-or-nothing, and a trade is
settled at most once: its mark and its legs commit together, and its leg ids are unique.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, select, text, update

from cets.adapters.sql import tables as t
from cets.adapters.sql.batch import Head
from cets.adapters.sql.hotpath import BatchIO, Row, gc_paused
from cets.adapters.sql.reconcile_reads import run_breaks, run_parties
from cets.adapters.sql.venue import trades
from cets.domain.journal import chain_hash
from cets.domain.ledger.model import Account, Hold, Purpose, default_flags
from cets.domain.registry.holders import EXCHANGE
from cets.domain.settlement.dvp import (
    LegRow,
    SettleAccounts,
    TradeToSettle,
    apply_legs,
    dvp_legs,
)
from cets.domain.settlement.reconcile import Break
from cets.domain.settlement.runs import CorrectionLeg, Objection, Run
from cets.domain.units import CASH
from cets.service.canonical import canonical_json
from cets.service.ports import AccountKey, AccountSpec, TradeRow

_RUN_COLUMNS = tuple(t.settlement_runs.c)
_OBJECTION_COLUMNS = tuple(t.settlement_objections.c)
# `ordinal > :after`: the caller's cursor, so each chunk starts where the last one ended instead
# of walking again over the run's settled trades (that walk made delivery quadratic: measured,
# a fifth of a million-trade run).
_CHUNK = text(
    "SELECT ordinal, id, instrument, buy_order, sell_order, buyer, price_fen, quantity_t, "
    "buyer_fee_fen, seller_fee_fen FROM trades WHERE run = :run AND ordinal > :after "
    "AND settled_seq IS NULL ORDER BY ordinal LIMIT :limit"
)
_MARK = text(
    "UPDATE trades SET settled_seq = :seq WHERE run = :run AND ordinal > :after "
    "AND ordinal <= :last AND settled_seq IS NULL"
)


class SettlementRows:
    """Mixed into the SQL unit of work (which provides the members declared below)."""

    conn: Connection
    postgres: bool
    if TYPE_CHECKING:

        @property
        def io(self) -> BatchIO: ...
        def _lock_head(self) -> Head: ...
        def _set_head(self, head: Head) -> None: ...
        def open_accounts(
            self, specs: Sequence[AccountSpec], *, actor: str, now_us: int
        ) -> dict[AccountKey, Account]: ...

    # -- runs ----------------------------------------------------------------------------------

    def assign_run(self, run_id: str) -> int:
        """Put every trade not yet in a run and not settled into run `run_id`; how many."""
        result = self.conn.execute(
            update(t.trades)
            .where(t.trades.c.run.is_(None), t.trades.c.settled_seq.is_(None))
            .values(run=run_id)
        )
        return int(result.rowcount)

    def insert_run(self, run: Run) -> None:
        self.conn.execute(t.settlement_runs.insert().values(**_run_values(run)))

    def run(self, run_id: str) -> Run | None:
        return run_row(self.conn, run_id)

    def set_run(self, run_id: str, **values: Any) -> None:
        self.conn.execute(
            update(t.settlement_runs).where(t.settlement_runs.c.id == run_id).values(**values)
        )

    def day_runs(self, day: date) -> int:
        """How many daily runs trading day `day` has."""
        return int(
            self.conn.execute(
                select(func.count()).where(
                    t.settlement_runs.c.day == day, t.settlement_runs.c.kind == "daily"
                )
            ).scalar_one()
        )

    def unsettled_in_run(self, run_id: str) -> int:
        return int(
            self.conn.execute(
                select(func.count()).where(
                    t.trades.c.run == run_id, t.trades.c.settled_seq.is_(None)
                )
            ).scalar_one()
        )

    def order_hold_needs(self) -> list[tuple[Hold, int]]:
        """Each order hold with something left, and what its unsettled trades still need of it:
        the units sold, or the money bought for plus the buyer's fees."""
        needs: dict[str, int] = {}
        rows = self.conn.execute(
            select(
                t.trades.c.sell_order,
                t.trades.c.buy_order,
                t.trades.c.price_fen,
                t.trades.c.quantity_t,
                t.trades.c.buyer_fee_fen,
            ).where(t.trades.c.settled_seq.is_(None))
        )
        for sell, buy, price, quantity, buyer_fee in rows:
            needs[f"order:{sell}"] = needs.get(f"order:{sell}", 0) + quantity
            needs[f"order:{buy}"] = needs.get(f"order:{buy}", 0) + price * quantity + buyer_fee
        holds = self.conn.execute(
            select(*t.HOLD_FIELDS)
            .where(t.holds.c.code == "order", t.holds.c.remaining > 0)
            .order_by(t.holds.c.id)
        )
        return [(Hold(*row), needs.get(row[0], 0)) for row in holds]

    def run_breaks(self, run: Run) -> list[Break]:
        return run_breaks(self.conn, run)

    def run_parties(self, run_id: str) -> set[str]:
        return run_parties(self.conn, run_id)

    def trade_in_run(self, trade_id: str, run_id: str) -> TradeRow | None:
        found = trades(self.conn, run=run_id, trade_id=trade_id)
        return found[0] if found else None

    # -- objections and corrections --------------------------------------------------------

    def insert_objection(self, objection: Objection) -> None:
        self.conn.execute(
            t.settlement_objections.insert().values(
                id=objection.id,
                run=objection.run,
                account=objection.account,
                trade=objection.trade,
                text=objection.text,
                by=objection.by,
                at_us=objection.at_us,
                resolution=objection.resolution,
            )
        )

    def objection(self, objection_id: str) -> Objection | None:
        row = self.conn.execute(
            select(*_OBJECTION_COLUMNS).where(t.settlement_objections.c.id == objection_id)
        ).first()
        return None if row is None else Objection(*row)

    def resolve_objection(self, objection_id: str, run_id: str) -> None:
        self.conn.execute(
            update(t.settlement_objections)
            .where(t.settlement_objections.c.id == objection_id)
            .values(resolution=run_id)
        )

    def insert_correction_legs(self, run_id: str, legs: Sequence[CorrectionLeg]) -> None:
        self.conn.execute(
            t.correction_legs.insert(),
            [
                {
                    "run": run_id,
                    "n": n,
                    "from_holder": leg.from_holder,
                    "from_purpose": leg.from_purpose,
                    "to_holder": leg.to_holder,
                    "to_purpose": leg.to_purpose,
                    "asset": leg.asset,
                    "amount": leg.amount,
                    "trade": leg.trade,
                }
                for n, leg in enumerate(legs)
            ],
        )

    def correction_legs(self, run_id: str) -> list[CorrectionLeg]:
        return correction_legs(self.conn, run_id)

    def trade_corrections(self, trade_id: str) -> list[str]:
        """The correction runs with a leg about trade `trade_id`."""
        c = t.correction_legs.c
        return list(
            self.conn.scalars(select(c.run).where(c.trade == trade_id).distinct().order_by(c.run))
        )

    # -- delivery ----------------------------------------------------------------------------

    def _chunk_legs(
        self, chunk: Sequence[Any], holds: dict[str, Hold], now_us: int
    ) -> list[LegRow]:
        """Every leg of the chunk's trades, in order; the buyers' holding accounts (and the
        exchange's clearing and fee accounts) opened if they are not yet."""
        keys = {AccountKey(r[5], Purpose.holding, r[2]) for r in chunk}
        keys |= {
            AccountKey(EXCHANGE, Purpose.clearing, CASH),
            AccountKey(EXCHANGE, Purpose.fees, CASH),
        }
        opened = self.open_accounts(
            [
                AccountSpec(k, default_flags(k.purpose))
                for k in sorted(keys, key=lambda k: (k.holder, k.purpose, k.asset))
            ],
            actor="registry",
            now_us=now_us,
        )
        system = SettleAccounts(
            opened[AccountKey(EXCHANGE, Purpose.clearing, CASH)].id,
            opened[AccountKey(EXCHANGE, Purpose.fees, CASH)].id,
        )
        units_of = {(k.holder, k.asset): a.id for k, a in opened.items() if k.purpose == "holding"}
        legs: list[LegRow] = []
        for _o, tid, instrument, buy, sell, buyer, price, qty, buyer_fee, seller_fee in chunk:
            trade = TradeToSettle(
                tid,
                instrument,
                f"order:{buy}",
                f"order:{sell}",
                units_of[buyer, instrument],
                qty,
                price * qty,
                buyer_fee,
                seller_fee,
            )
            legs.extend(dvp_legs(trade, holds, system, now_us))
        return legs

    def deliver_chunk(
        self, run_id: str, limit: int, now_us: int, actor: str, after: int = 0
    ) -> tuple[int, int]:
        """Settle the next `limit` unsettled trades of run `run_id` after trade ordinal `after`
        (see the module doc): how many, and the ordinal of the last (`after` when none was
        left). Raises DomainError, writing nothing, if a leg would break a ledger rule."""
        with gc_paused():
            return self._deliver_chunk(run_id, limit, now_us, actor, after)

    def _deliver_chunk(
        self, run_id: str, limit: int, now_us: int, actor: str, after: int
    ) -> tuple[int, int]:
        head = self._lock_head()
        chunk = self.conn.execute(_CHUNK, {"run": run_id, "after": after, "limit": limit}).all()
        if not chunk:
            return 0, after
        io, lock = self.io, self.postgres
        holds = {
            row[0]: Hold(*row)
            for row in io.holds(
                sorted({f"order:{r[3]}" for r in chunk} | {f"order:{r[4]}" for r in chunk}),
                lock=lock,
            )
        }
        legs = self._chunk_legs(chunk, holds, now_us)
        head = self._lock_head()  # opening the buyers' accounts may have journaled
        ids = sorted({leg[1] for leg in legs} | {leg[2] for leg in legs})
        accounts: dict[int, Account] = {}
        last: dict[int, int | None] = {}
        for row in io.accounts(ids, lock=lock):
            accounts[row[0]] = Account(*row[:9])
            last[row[0]] = row[9]
        touched_accounts, touched_holds = apply_legs(legs, accounts, holds)
        seq = head.seq + 1
        rows, lines, ordinal = _numbered(legs, seq, head.transfers, last)
        body = canonical_json(
            {"run": run_id, "trades": len(chunk), "first": chunk[0][1], "last": chunk[-1][1]}
        )
        digest = chain_hash(head.hash, seq, now_us, "settle_trades", actor, body, lines)
        io.insert_transfers(rows)
        io.update_holds([(holds[h].remaining, h) for h in sorted(touched_holds)])
        io.update_accounts(
            [
                (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, last[i], i)
                for i, a in ((i, accounts[i]) for i in sorted(touched_accounts))
            ]
        )
        io.insert_journal([(seq, now_us, "settle_trades", actor, body, digest)])
        self._set_head(Head(seq, digest, ordinal))
        marks = {"seq": seq, "run": run_id, "after": after, "last": chunk[-1][0]}
        self.conn.execute(_MARK, marks)
        return len(chunk), chunk[-1][0]


def _numbered(
    legs: list[LegRow], seq: int, ordinal: int, last: dict[int, int | None]
) -> tuple[list[Row], list[str], int]:
    """The legs as transfer rows of journal entry `seq`, numbered after `ordinal`, each linked to
    the previous transfer of its two accounts (`last`, moved along); their hash lines; the last
    ordinal."""
    rows: list[Row] = []
    lines = []
    for leg_id, debit, credit, asset, amount, code, flags, pending, ref, ts in legs:
        ordinal += 1
        rows.append((leg_id, debit, credit, asset, amount, code, flags, pending, ref, ts,
                     seq, ordinal, last[debit], last[credit]))  # fmt: skip
        # `transfer_line`, written out: a million calls of it are a tenth of a run
        lines.append(f"{leg_id}\x1f{debit}\x1f{credit}\x1f{asset}\x1f{amount}\x1f{code}"
                     f"\x1f{flags}\x1f{pending or ''}\x1f{ref}\x1f{ts}")  # fmt: skip
        last[debit] = last[credit] = ordinal
    return rows, lines, ordinal


def _run_values(run: Run) -> dict[str, Any]:
    return {column.name: getattr(run, column.name) for column in _RUN_COLUMNS}


def run_row(conn: Connection, run_id: str) -> Run | None:
    row = conn.execute(select(*_RUN_COLUMNS).where(t.settlement_runs.c.id == run_id)).first()
    return None if row is None else Run(*row)


def runs(
    conn: Connection, *, day: date | None = None, status: str | None = None, limit: int = 100
) -> list[Run]:
    stmt = (
        select(*_RUN_COLUMNS)
        .order_by(t.settlement_runs.c.prepared_at.desc(), t.settlement_runs.c.id.desc())
        .limit(limit)
    )
    if day is not None:
        stmt = stmt.where(t.settlement_runs.c.day == day)
    if status is not None:
        stmt = stmt.where(t.settlement_runs.c.status == status)
    return [Run(*r) for r in conn.execute(stmt)]


def objections(conn: Connection, run_id: str) -> list[Objection]:
    rows = conn.execute(
        select(*_OBJECTION_COLUMNS)
        .where(t.settlement_objections.c.run == run_id)
        .order_by(t.settlement_objections.c.at_us, t.settlement_objections.c.id)
    )
    return [Objection(*r) for r in rows]


def correction_legs(conn: Connection, run_id: str) -> list[CorrectionLeg]:
    c = t.correction_legs.c
    rows = conn.execute(
        select(c.from_holder, c.from_purpose, c.to_holder, c.to_purpose, c.asset, c.amount, c.trade)
        .where(c.run == bindparam("run"))
        .order_by(c.n),
        {"run": run_id},
    )
    return [CorrectionLeg(*r) for r in rows]
