"""Compliance status at scale: --entities key emitters evaluated, then closed, on SQLite.

The database is written once (not timed) and copied for each close, so every run starts from the
same bytes. Period 2023 is opened through the service (deadline 2024-12-31, penalty reference
price 80.00 CNY/t). The key emitters are opened set-based (`open_holders`, `open_accounts`), their
emissions written by the adapter's own multi-row writer, and the units moved through the ledger's
batch path (`uow.submit`, 10,000 commands a transaction, the kernel checking every rule): CEA-2023
allocated and surrendered into the authority's surrender account; CCER issued, put to offset as a
hold, and mostly used (posted), a few left pending. The `surrenders` rows are written beside them,
so the rows and the surrender accounts agree (checked). The mix, from a seeded generator: 2%
stopped operating in 2022 (NOT_APPLICABLE), 2% excluded, 8% with no emissions entered (C, some
having surrendered), 60% covered (A; a fifth using CCER up to the 5% cap, some surrendering twice)
and 28% short (B; a tenth with nothing surrendered).

Timed, medians of --runs runs (alternating which side goes first):
- status: `Compliance.status_table(2023)` end to end: the period, its facts read set-based
  (`ComplianceRows.compliance_facts`) and every entity evaluated in memory. Baseline: the same
  SELECTs, captured from the service's own run, sent again with `sqlite3` and fetched, no logic.
- close: `Compliance.close` after the deadline, on a copy of the file, end to end: pending offsets
  lapsed, every entity evaluated with its shortfall and penalty, the status rows written and
  committed in one transaction (WAL, `synchronous=FULL`). Baseline: the same SELECTs and the same
  status rows (as the service wrote them) inserted with `executemany`, one transaction.
Every result is checked against the seed (the count of each status, obligations and surrendered
totals; after the close the shortfalls, penalties and lapsed offsets too): a wrong answer fails.
Target (the compliance issue): the status of 100,000 entities in <= 5 s on SQLite.
`--profile` runs each once more under cProfile and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import event

from cets.adapters.sql import compliance_tables as c
from cets.adapters.sql.store import SqlStore
from cets.domain.compliance.status import EXCLUDED_YEAR, Status
from cets.domain.ids import AccountId, TransferId
from cets.domain.ledger.model import Purpose, Transfer, TransferFlags, default_flags
from cets.domain.policy import Policy
from cets.domain.registry.holders import AUTHORITY, Holder, HolderKind
from cets.domain.units import CCER, cea
from cets.service.clock import SHANGHAI, SettableClock, to_us
from cets.service.compliance import Compliance, offset_hold_id
from cets.service.ports import AccountKey, AccountSpec, Command
from cets.service.registry import Registry

TARGET_S = 5.0
TARGET_ENTITIES = 100_000
YEAR, PERIOD, CEA = 2023, "2023", cea(2023)
REF = f"period:{PERIOD}"
PRICE_FEN, MULTIPLE = 8_000, 5  # penalty: 5 x the shortfall at 80.00 CNY/t (nothing traded)
POLICY = Policy()
SURRENDERING = datetime(2024, 6, 28, 10, 0, tzinfo=SHANGHAI)
AFTER_DEADLINE = datetime(2025, 1, 2, 9, 0, tzinfo=SHANGHAI)
BATCH = 10_000
ACTOR = "bench"
Rows = list[tuple[Any, ...]]
Selects = list[tuple[str, Any]]


class Entity(NamedTuple):
    """One key emitter as seeded, with the status it must get."""

    holder: str
    expected: Status
    emissions: int | str | None  # tonnes, EXCLUDED_YEAR, or None: not entered
    cea: tuple[int, ...] = ()  # CEA surrenders, each its own row
    ccer_used: int = 0
    ccer_pending: int = 0
    last_year: int | None = None  # operation ended (2022: before the period)


class Tally(NamedTuple):
    counts: dict[str, int]
    obligation: int
    surrendered: int
    shortfall: int = 0
    penalty_fen: int = 0
    lapsed: int = 0  # offsets still pending at the close


def plan(entities: int, seed: int) -> list[Entity]:
    rng = random.Random(seed)
    out = []
    for i in range(entities):
        holder, draw = f"KE{i:06d}", rng.random()
        tonnes = rng.randrange(26_000, 5_000_000)  # a key emitter emits >= 26,000 t a year
        cap = tonnes * 5 // 100  # the offset cap, 5% of the obligation
        ccer = rng.randrange(1, cap + 1) if rng.random() < 0.2 else 0
        pending = rng.randrange(1, 1_000) if rng.random() < 0.005 else 0
        if draw < 0.02:
            out.append(Entity(holder, Status.NOT_APPLICABLE, None, last_year=2022))
        elif draw < 0.04:
            out.append(Entity(holder, Status.EXCLUDED, EXCLUDED_YEAR))
        elif draw < 0.12:
            some = (rng.randrange(1, tonnes),) if rng.random() < 0.3 else ()
            out.append(Entity(holder, Status.C, None, some))
        elif draw < 0.72:
            rest = tonnes - ccer + (rng.randrange(1, 1_000) if rng.random() < 0.1 else 0)
            split = rng.randrange(1, rest) if rng.random() < 0.2 else 0
            parts = (split, rest - split) if split else (rest,)
            out.append(Entity(holder, Status.A, tonnes, parts, ccer, pending))
        else:
            paid = 0 if rng.random() < 0.1 else rng.randrange(tonnes * 4 // 5, tonnes - ccer)
            out.append(Entity(holder, Status.B, tonnes, (paid,) if paid else (), ccer, pending))
    return out


def expected(entities: list[Entity]) -> Tally:
    """What the close must record, worked out from the seed alone."""
    obligation = surrendered = shortfall = 0
    for e in entities:
        owed = e.emissions if isinstance(e.emissions, int) else 0
        paid = sum(e.cea) + e.ccer_used
        obligation, surrendered = obligation + owed, surrendered + paid
        shortfall += owed - paid if e.expected == Status.B else 0
    counts = dict(Counter(e.expected.value for e in entities))
    penalty = shortfall * PRICE_FEN * MULTIPLE
    lapsed = sum(1 for e in entities if e.ccer_pending)
    return Tally(counts, obligation, surrendered, shortfall, penalty, lapsed)


# -- seeding (not timed) -----------------------------------------------------------------------


def seed(path: Path, entities: list[Entity]) -> None:
    store = SqlStore.open(f"sqlite:///{path}")
    clock = SettableClock(SURRENDERING)
    now = to_us(SURRENDERING)
    rules = {"penalty_reference_price_fen": PRICE_FEN}
    assert Compliance(store, clock, POLICY).open_period("open-2023", YEAR, rules=rules).ok
    ids = _holders_and_accounts(store, entities, now)
    allocated = sum(sum(e.cea) for e in entities)
    assert Registry(store, clock).issue("issue-cea-2023", CEA, allocated, actor=ACTOR).ok
    for commands in _ledger_commands(entities, ids):
        for lo in range(0, len(commands), BATCH):
            with store.unit_of_work() as uow:
                results = uow.submit(commands[lo : lo + BATCH], now)
                assert all(r.ok for r in results), next(r for r in results if not r.ok)
                uow.commit()
    _compliance_rows(store, entities, now)
    with store.unit_of_work() as uow:  # the surrender accounts hold what the rows say
        keys = [AccountKey(AUTHORITY, Purpose.surrender, a) for a in (CEA, CCER)]
        to_cea, to_ccer = (uow.accounts(keys)[k] for k in keys)
    assert to_cea.credits_posted == allocated
    assert to_ccer.credits_posted == sum(e.ccer_used for e in entities)
    assert to_ccer.credits_pending == sum(e.ccer_pending for e in entities)
    store.close()


def _surrendered(e: Entity) -> Iterator[tuple[str, str, int, str]]:
    """(surrender id, asset, quantity, state) of each surrender the entity made."""
    for n, quantity in enumerate(e.cea):
        yield f"S-{e.holder}-{n}", CEA, quantity, "used"
    if e.ccer_used:
        yield f"U-{e.holder}", CCER, e.ccer_used, "used"
    if e.ccer_pending:
        yield f"P-{e.holder}", CCER, e.ccer_pending, "pending"


def _holders_and_accounts(
    store: SqlStore, entities: list[Entity], now: int
) -> dict[AccountKey, AccountId]:
    """Open the key emitters and the accounts the seed moves units through; their ids."""
    keys = [
        AccountKey(AUTHORITY, p, a)
        for p in (Purpose.issuance, Purpose.surrender)
        for a in (CEA, CCER)
    ]
    keys.append(AccountKey(AUTHORITY, Purpose.reserve, CEA))
    ids: dict[AccountKey, AccountId] = {}
    for lo in range(0, len(entities), 5_000):
        chunk = entities[lo : lo + 5_000]
        for e in chunk:
            assets = {asset for _, asset, _, _ in _surrendered(e)}
            keys += [AccountKey(e.holder, Purpose.holding, a) for a in sorted(assets)]
        with store.unit_of_work() as uow:
            holders = [
                Holder(e.holder, HolderKind.key_emitter, f"Emitter {e.holder}") for e in chunk
            ]
            uow.open_holders(holders, actor=ACTOR, now_us=now)
            specs = [AccountSpec(k, default_flags(k.purpose)) for k in keys]
            opened = uow.open_accounts(specs, actor=ACTOR, now_us=now)
            uow.commit()
        ids.update({k: a.id for k, a in opened.items()})
        keys = []
    return ids


def _ledger_commands(
    entities: list[Entity], ids: dict[AccountKey, AccountId]
) -> tuple[list[Command], ...]:
    """Three passes, a command a transfer: the units in (CEA allocated, CCER issued); the
    surrenders and the offset holds; the offsets used (their holds posted)."""
    reserve = ids[AccountKey(AUTHORITY, Purpose.reserve, CEA)]
    issuance = ids[AccountKey(AUTHORITY, Purpose.issuance, CCER)]
    to_cea = ids[AccountKey(AUTHORITY, Purpose.surrender, CEA)]
    to_ccer = ids[AccountKey(AUTHORITY, Purpose.surrender, CCER)]
    units_in: list[Command] = []
    surrenders: list[Command] = []
    used: list[Command] = []
    for e in entities:
        if e.cea:
            holding = ids[AccountKey(e.holder, Purpose.holding, CEA)]
            units_in.append(_move(f"alloc-{e.holder}", reserve, holding, sum(e.cea), "allocate"))
        for sid, asset, quantity, state in _surrendered(e):
            if asset == CEA:
                surrenders.append(_move(sid, holding, to_cea, quantity, "surrender"))
                continue
            ccer, hold = ids[AccountKey(e.holder, Purpose.holding, CCER)], offset_hold_id(sid)
            units_in.append(_move(f"ccer-{sid}", issuance, ccer, quantity, "issue"))
            surrenders.append(_move(hold, ccer, to_ccer, quantity, "offset", TransferFlags.PENDING))
            if state == "used":
                post = TransferFlags.POST_PENDING
                used.append(_move(f"use-{sid}", ccer, to_ccer, 0, "offset", post, hold))
    return units_in, surrenders, used


def _move(
    tid: str,
    debit: AccountId,
    credit: AccountId,
    amount: int,
    code: str,
    flags: int = 0,
    pending: str | None = None,
) -> Command:
    """A command of one transfer: CCER issued and offset, CEA-2023 otherwise."""
    asset = CCER if code in ("issue", "offset") else CEA
    ref = None if code in ("issue", "allocate") else REF
    hold = None if pending is None else TransferId(pending)
    moved = Transfer(TransferId(tid), debit, credit, asset, amount, code, int(flags), hold, ref)
    return Command(f"bench_{code}", ACTOR, {"id": tid}, (moved,))


def _compliance_rows(store: SqlStore, entities: list[Entity], now: int) -> None:
    """Emissions, operation years and the surrenders rows, multi-row, as the service writes them."""
    emissions, surrenders, years = [], [], []
    for e in entities:
        if e.emissions is not None:
            tonnes = e.emissions if isinstance(e.emissions, int) else None  # None: excluded
            emissions.append((e.holder, YEAR, tonnes, None))
        if e.last_year is not None:
            years.append({"holder": e.holder, "first_year": 2013, "last_year": e.last_year})
        for sid, asset, quantity, state in _surrendered(e):
            kind = "surrender" if asset == CEA else "offset"
            decided = now if kind == "offset" and state == "used" else None
            surrenders.append(
                {"id": sid, "holder": e.holder, "period": PERIOD, "asset": asset, "kind": kind,
                 "quantity": quantity, "state": state, "at": now, "decided_at": decided}
            )  # fmt: skip
    with store.unit_of_work() as uow:
        uow.lock()
        uow.write_emissions(emissions, command="bench-emissions", at=now, by=AUTHORITY)
        uow.conn.execute(c.surrenders.insert(), surrenders)
        uow.conn.execute(c.compliance_entities.insert(), years)
        body = {"emissions": len(emissions), "surrenders": len(surrenders)}
        uow.journal("bench_compliance_rows", ACTOR, body, now)
        uow.commit()


# -- measuring ---------------------------------------------------------------------------------


def captured_selects(path: Path) -> Selects:
    """The SELECTs `status_table` sends to the driver, with their parameters (a run not timed)."""
    store = SqlStore.open(f"sqlite:///{path}")
    sent: Selects = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", keep)
    Compliance(store, SettableClock(SURRENDERING), POLICY).status_table(YEAR)
    store.close()
    return sent


def ours_status(path: Path, want: Tally, profiler: cProfile.Profile | None = None) -> float:
    store = SqlStore.open(f"sqlite:///{path}")
    compliance = Compliance(store, SettableClock(SURRENDERING), POLICY)
    started = time.perf_counter()
    table = _call(profiler, lambda: compliance.status_table(YEAR))
    elapsed = time.perf_counter() - started
    store.close()
    lines = [r.line for r in table.rows]
    counts = dict(Counter(x.status.value for x in lines))
    got = Tally(counts, sum(x.obligation for x in lines), sum(x.surrendered for x in lines))
    assert not table.closed and got == want._replace(shortfall=0, penalty_fen=0, lapsed=0), got
    return elapsed


def ours_close(path: Path, want: Tally, profiler: cProfile.Profile | None = None) -> float:
    store = SqlStore.open(f"sqlite:///{path}")
    compliance = Compliance(store, SettableClock(AFTER_DEADLINE), POLICY)
    started = time.perf_counter()
    result = _call(profiler, lambda: compliance.close("close-2023", YEAR))
    elapsed = time.perf_counter() - started
    store.close()
    assert result.ok, result
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT status, count(*), sum(obligation), sum(surrendered), sum(shortfall), "
        "sum(penalty_fen) FROM compliance_status WHERE period = ? GROUP BY status",
        (PERIOD,),
    ).fetchall()
    states = dict(conn.execute("SELECT state, count(*) FROM surrenders GROUP BY state"))
    conn.close()
    obligation, surrendered, shortfall, penalty = (sum(r[i] for r in rows) for i in range(2, 6))
    counts = {r[0]: r[1] for r in rows}
    got = Tally(counts, obligation, surrendered, shortfall, penalty, states.get("lapsed", 0))
    assert got == want and "pending" not in states, (got, want, states)
    return elapsed


def _call(profiler: cProfile.Profile | None, call: Callable[[], Any]) -> Any:
    return call() if profiler is None else profiler.runcall(call)


def _raw_connection(path: Path) -> sqlite3.Connection:
    """A plain driver connection with the store's settings (WAL, fsync at commit, 64 MiB)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "cache_size=-65536"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def raw_status(path: Path, selects: Selects) -> float:
    conn = _raw_connection(path)
    started = time.perf_counter()
    conn.execute("BEGIN")
    for statement, parameters in selects:
        conn.execute(statement, parameters).fetchall()
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def raw_close(path: Path, selects: Selects, rows: Rows) -> float:
    conn = _raw_connection(path)
    insert = f"INSERT INTO compliance_status VALUES ({', '.join('?' * len(rows[0]))})"
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for statement, parameters in selects:
        conn.execute(statement, parameters).fetchall()
    conn.executemany(insert, rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def status_rows(path: Path) -> Rows:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT * FROM compliance_status").fetchall()
    conn.close()
    return rows


# -- the run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=TARGET_ENTITIES)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    entities = plan(args.entities, args.seed)
    want = expected(entities)
    with tempfile.TemporaryDirectory(prefix="cets-bench-compliance-") as tmp:
        directory = Path(tmp)
        template = directory / "template.db"
        started = time.perf_counter()
        seed(template, entities)
        seconds = time.perf_counter() - started
        mix = ", ".join(f"{s} {want.counts.get(s, 0):,}" for s in sorted(Status))
        rows = sum(1 for e in entities for _ in _surrendered(e))
        print(f"seeded {args.entities:,} entities in {seconds:.0f} s (not timed): {mix}; "
              f"{rows:,} surrender rows")  # fmt: skip
        selects = captured_selects(template)
        print(f"status_table sends {len(selects)} SELECTs; the raw baseline sends the same")
        figures = measure(directory, template, want, selects, args.runs)
        report(args.entities, args.runs, figures)
        if args.profile:
            profile(directory, template, want)


def measure(
    directory: Path, template: Path, want: Tally, selects: Selects, runs: int
) -> list[tuple[float, float, float, float]]:
    figures = []
    rows: Rows = []
    copy = directory / "copy.db"
    for n in range(runs):
        times: dict[str, float] = {}
        for side in ("ours", "raw") if n % 2 == 0 else ("raw", "ours"):
            shutil.copy(template, copy)
            if side == "ours":
                times["status"] = ours_status(template, want)
                times["close"] = ours_close(copy, want)
                rows = rows or status_rows(copy)
            else:
                assert rows, "the first run measures ours first: its rows feed the baseline"
                times["raw status"] = raw_status(template, selects)
                times["raw close"] = raw_close(copy, selects, rows)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
        figures.append((times["status"], times["raw status"], times["close"], times["raw close"]))
        s, rs, cl, rc = figures[-1]
        print(
            f"run {n + 1}: status {s:.2f} s, raw reads {rs:.2f} s (ratio {s / rs:.1f}); "
            f"close {cl:.2f} s, raw reads + insert {rc:.2f} s (ratio {cl / rc:.1f})"
        )
    return figures


def report(n: int, runs: int, figures: list[tuple[float, float, float, float]]) -> None:
    status, raw, close, raw_close_ = (statistics.median(f[i] for f in figures) for i in range(4))
    if n >= TARGET_ENTITIES:
        verdict = "met" if status <= TARGET_S else "missed"
    else:
        verdict = f"not judged at {n:,} (it is set for {TARGET_ENTITIES:,})"
    print(f"status {n:,} entities: {status:.2f} s (median of {runs}) target <= {TARGET_S:g} s: "
          f"{verdict}")  # fmt: skip
    print(f"  raw baseline (the same SELECTs fetched with sqlite3): {raw:.2f} s; "
          f"ratio ours/baseline {status / raw:.1f}")  # fmt: skip
    print(f"close {n:,} entities: {close:.2f} s (median of {runs}), one transaction")
    print(f"  raw baseline (the same SELECTs + the same {n:,} rows inserted, one transaction): "
          f"{raw_close_:.2f} s; ratio ours/baseline {close / raw_close_:.1f}")  # fmt: skip


def profile(directory: Path, template: Path, want: Tally) -> None:
    copy = directory / "profile.db"
    shutil.copy(template, copy)
    for name, run in (("status", ours_status), ("close", ours_close)):
        profiler = cProfile.Profile()
        run(template if name == "status" else copy, want, profiler)
        print(f"\n-- {name} under cProfile")
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(15)
        stats.sort_stats("cumulative").print_stats(r"cets/", 20)


if __name__ == "__main__":
    main()
