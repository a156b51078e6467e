"""Ledger throughput: transfers through CETS's kernel and store vs a raw driver baseline.

For each database (SQLite file, then PostgreSQL on a throwaway loopback cluster unless --pg-url is
given) and each of --runs runs, on a freshly migrated database with --accounts funded holder
accounts:

- ours: N single-transfer commands, grouped --batch per transaction, through `SqlStore.submit_batch`
  (the group committer's call): load the batch's accounts and used ids, the kernel's checks
  (idempotency, balances, holds), canonical JSON + hash chain per command, then the writes;
- raw: the same rows written straight through sqlite3 / psycopg, --batch per transaction: the same
  transfer rows, the same journal rows with the same hash chain, the same net balance updates and
  head update, and nothing else (no reads, no checks).

Prints the median transfers/s of each, the ratio ours/raw, and the targets of issue 2 (SQLite
>= 100,000/s and >= 60% of raw; PostgreSQL >= 60% of raw) with whether they were met.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import psycopg
from sqlalchemy.engine import make_url

from cets.adapters.sql.hotpath import batch_io, gc_paused
from cets.adapters.sql.store import SqlStore
from cets.domain.journal import chain_hash, transfer_line
from cets.domain.ledger.model import AccountFlags, Transfer
from cets.domain.registry.holders import Holder
from cets.service.canonical import canonical_json
from cets.service.ports import AccountKey, AccountSpec, Command
from cets.testkit.pgcluster import start_cluster

ASSET = "CEA-2024"
FUNDING = 10**12


def setup(url: str, n_accounts: int) -> tuple[SqlStore, list[int]]:
    """A fresh database with `n_accounts` funded holder accounts."""
    store = SqlStore.open(url)
    holders = [Holder(f"H{i}", "institution", f"Holder {i}") for i in range(n_accounts)]
    keys = [AccountKey(h.id, "holding", ASSET) for h in holders]
    issuance = AccountKey("authority", "issuance", ASSET)
    with store.unit_of_work() as uow:
        uow.open_holders(holders, actor="bench", now_us=1)
        limited = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
        opened = uow.open_accounts(
            [AccountSpec(issuance, 0)] + [AccountSpec(k, limited) for k in keys],
            actor="bench",
            now_us=1,
        )
        uow.commit()
    ids = [opened[k].id for k in keys]
    funding = [
        Command(
            "issue",
            "bench",
            {"to": i},
            (Transfer(f"fund-{i}", opened[issuance].id, i, ASSET, FUNDING, "issue"),),
        )
        for i in ids
    ]
    store.submit_batch(funding, 1)
    return store, ids


def workload(ids: list[int], n: int, seed: int) -> list[tuple[str, int, int, int]]:
    rnd = random.Random(seed)
    out = []
    for k in range(n):
        debit, credit = rnd.sample(ids, 2)
        out.append((f"tr-{seed}-{k}", debit, credit, rnd.randint(1, 10_000)))
    return out


def run_ours(store: SqlStore, work: list[tuple[str, int, int, int]], batch: int) -> float:
    commands = [
        Command(
            "transfer",
            "bench",
            {"id": tid, "from": d, "to": c, "quantity": q},
            (Transfer(tid, d, c, ASSET, q, "transfer"),),
        )
        for tid, d, c, q in work
    ]
    start = time.perf_counter()
    for i in range(0, len(commands), batch):
        results = store.submit_batch(commands[i : i + batch], 2_000_000 + i)
        assert all(r.ok and not r.replayed for r in results), "the bench's transfers must succeed"
    return len(commands) / (time.perf_counter() - start)


def run_raw(store: SqlStore, work: list[tuple[str, int, int, int]], batch: int) -> float:
    """The same rows written directly with the driver: the floor under any ledger in Python."""
    engine = store.engine
    dialect = engine.dialect.name
    raw = engine.raw_connection()
    dbapi = raw.driver_connection
    io = batch_io(dialect, dbapi)
    cur = dbapi.cursor()
    mark = "?" if dialect == "sqlite" else "%s"
    cur.execute("SELECT seq, hash, transfers FROM journal_head WHERE id = 1")
    seq, digest, ordinal = cur.fetchone()
    balances: dict[int, list[int]] = {}
    cur.execute("SELECT id, debits_posted, credits_posted, last_transfer FROM accounts")
    for acc_id, dpo, cpo, last in cur.fetchall():
        balances[acc_id] = [dpo, cpo, last]
    dbapi.rollback()
    start = time.perf_counter()
    for i in range(0, len(work), batch):
        with gc_paused():  # the same treatment as the store's batches
            seq, digest, ordinal = _raw_batch(
                dialect,
                dbapi,
                io,
                cur,
                mark,
                work[i : i + batch],
                3_000_000 + i,
                (seq, digest, ordinal),
                balances,
            )
    elapsed = time.perf_counter() - start
    raw.close()
    return len(work) / elapsed


def _raw_batch(
    dialect: str,
    dbapi: Any,
    io: Any,
    cur: Any,
    mark: str,
    work: list[tuple[str, int, int, int]],
    now: int,
    head: tuple[int, str, int],
    balances: dict[int, list[int]],
) -> tuple[int, str, int]:
    """One transaction of the baseline: the rows of `work`, blind (no reads, no checks)."""
    seq, digest, ordinal = head
    if dialect == "sqlite":
        cur.execute("BEGIN IMMEDIATE")
    transfers, journal, touched = [], [], set()
    for tid, d, c, q in work:
        seq += 1
        ordinal += 1
        debit, credit = balances[d], balances[c]
        row = (tid, d, c, ASSET, q, "transfer", 0, None, None, now)
        transfers.append((*row, seq, ordinal, debit[2], credit[2]))
        body = canonical_json({"id": tid, "from": d, "to": c, "quantity": q})
        digest = chain_hash(digest, seq, now, "transfer", "bench", body, [transfer_line(*row)])
        journal.append((seq, now, "transfer", "bench", body, digest))
        debit[0] += q
        credit[1] += q
        debit[2] = credit[2] = ordinal
        touched.add(d)
        touched.add(c)
    io.insert_transfers(transfers)
    io.update_accounts(
        [(0, balances[a][0], 0, balances[a][1], balances[a][2], a) for a in sorted(touched)]
    )
    io.insert_journal(journal)
    cur.execute(
        f"UPDATE journal_head SET seq = {mark}, hash = {mark}, transfers = {mark} WHERE id = 1",
        (seq, digest, ordinal),
    )
    dbapi.commit()
    return seq, digest, ordinal


def measure(
    name: str,
    make_url_for_run: Callable[[int], str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    ours, raw = [], []
    for run in range(args.runs):
        pair = [("ours", run_ours, ours), ("raw", run_raw, raw)]
        for label, runner, sink in pair if run % 2 == 0 else pair[::-1]:  # alternate who goes first
            url = make_url_for_run(run * 2 + (label == "raw"))
            store, ids = setup(url, args.accounts)
            work = workload(ids, args.n, seed=run)
            gc.collect()
            gc.freeze()  # setup's objects are long-lived: no collector passes over them
            rate = runner(store, work, args.batch)
            audit = store.audit()
            assert audit.ok, f"{name} {label}: audit failed: {audit}"
            store.close()
            sink.append(rate)
            print(
                f"  {name} run {run + 1}/{args.runs} {label:4}: {rate:>10,.0f} transfers/s",
                flush=True,
            )
    return {"db": name, "ours": statistics.median(ours), "raw": statistics.median(raw)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="transfers per run")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000, help="commands per transaction")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target is missed (default: report)"
    )
    parser.add_argument(
        "--pg-url",
        help="an existing PostgreSQL server URL (database is "
        "created per run); default: a throwaway cluster",
    )
    args = parser.parse_args()
    print(
        f"bench/ledger.py: {args.n:,} transfers per run, {args.accounts:,} accounts, "
        f"{args.batch} per transaction, median of {args.runs} runs",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="cets-bench-") as tmp:
        if args.only in (None, "sqlite"):
            rows.append(measure("sqlite", lambda k: f"sqlite:///{Path(tmp) / f'run{k}.db'}", args))
        if args.only in (None, "postgresql"):
            rows.append(_postgres(args))
    print()
    print(f"{'database':10} {'ours/s':>12} {'raw/s':>12} {'ratio':>7}  targets")
    ok = True
    for row in rows:
        ratio = row["ours"] / row["raw"]
        targets = [(ratio >= 0.60, f"ratio {ratio:.0%} >= 60%")]
        if row["db"] == "sqlite":
            targets.append((row["ours"] >= 100_000, f"{row['ours']:,.0f}/s >= 100,000/s"))
        verdict = "; ".join(f"{'met' if met else 'MISSED'}: {text}" for met, text in targets)
        ok = ok and all(met for met, _ in targets)
        print(f"{row['db']:10} {row['ours']:>12,.0f} {row['raw']:>12,.0f} {ratio:>7.0%}  {verdict}")
    print(orjson.dumps(rows).decode())
    return 0 if ok or not args.strict else 1


def _postgres(args: argparse.Namespace) -> dict[str, Any]:
    if args.pg_url:
        base = make_url(args.pg_url)

        def url_for(k: int) -> str:
            name = f"cets_bench_{k}"
            admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {name}")
            return base.set(database=name).render_as_string(hide_password=False)

        return measure("postgresql", url_for, args)
    server = start_cluster()
    try:
        return measure("postgresql", lambda _k: server.create_database("cets_bench"), args)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
