"""Durable order entry: orders per second and acknowledgement latency with the journal on SQLite.

The venue (`Exchange`) on a SQLite file with WAL and `synchronous=FULL` (fsync at every commit):
--clients threads each place --per-client listed limit orders, one after the other, each waiting
for its acknowledgement (the order journaled with its hold, matched, its fills journaled, and the
transaction committed). The callers' commands are group-committed (`VenueBase._write`): whoever
finds no batch being written leads the next one with every command queued meanwhile.

The flow is seeded: 16 holders with units and money; prices on the tick around 60.00 CNY/t inside
the band; about 85% of orders rest (passive) and 15% cross the other side's best price; quantities
100 to 1,000 t. The clock stands inside the morning session.

Baseline, measured in the same run on the same kind of database: the raw cost of making orders
durable with none of the venue's work. Each order is one row in an `orders` table and one in a
`journal` table (SHA-256 of the previous hash and the order's JSON), written by one thread with
`executemany`, in transactions of the mean batch size the venue's run achieved, fsync on. It is the
ceiling the storage sets for that grouping; the venue's figure is printed beside it with the ratio.

Prints, for each of --runs runs (alternating which side goes first) and as medians: orders/s, the
number of transactions, the mean batch, and the venue's acknowledgement latency p50/p99 measured at
the callers (from the call to its return). Target (issue 4): >= 100,000 orders/s.

`--profile` runs the venue once under cProfile and prints the functions with the most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import pstats
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import orjson

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import Policy
from cets.domain.registry.holders import Holder
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.exchange import Exchange
from cets.service.registry import Registry

CEA = "CEA-2023"
MID = 6000
HOLDERS = tuple(f"H{i:02d}" for i in range(16))
TARGET = 100_000
# The position limit is checked, but set far above what the flow can hold.
POLICY = Policy().with_overrides(
    {"fees_bps": {"buyer": 5, "seller": 5}, "position_limit": {"other_t": 10**12}}
)


class Entry(NamedTuple):
    id: str
    account: str
    side: str
    quantity: int
    price: int


class Run(NamedTuple):
    orders: int
    seconds: float
    batches: int
    latencies_ns: list[int]

    @property
    def rate(self) -> float:
        return self.orders / self.seconds

    @property
    def mean_batch(self) -> float:
        return self.orders / max(self.batches, 1)


def flow(clients: int, per_client: int, seed: int) -> list[list[Entry]]:
    """Each client's orders: mostly passive around the mid, some crossing it."""
    rng = random.Random(seed)
    streams = []
    for c in range(clients):
        entries = []
        for i in range(per_client):
            side = rng.choice(("buy", "sell"))
            crossing = rng.random() < 0.15
            offset = rng.randint(1, 30) * (-1 if crossing else 1)
            price = MID - offset if side == "buy" else MID + offset
            account = HOLDERS[rng.randrange(len(HOLDERS))]
            entries.append(Entry(f"C{c}-{i}", account, side, rng.randint(1, 10) * 100, price))
        streams.append(entries)
    return streams


def prepared_venue(path: Path) -> Exchange:
    store = SqlStore.open(f"sqlite:///{path}", durable=True)
    clock = SettableClock(datetime(2024, 3, 4, 9, 0, tzinfo=SHANGHAI))
    registry = Registry(store, clock)
    assert registry.issue("iss", CEA, 1_000_000_000).ok
    for i, holder in enumerate(HOLDERS):
        assert registry.open_holder(Holder(holder, "institution", holder), actor="b").ok
        assert registry.allocate(f"a{i}", holder, CEA, 50_000_000).ok
        assert registry.deposit(f"d{i}", holder, 10**13).ok
    venue = Exchange(store, clock, POLICY)
    assert venue.list_instrument(CEA, MID, actor="b").ok
    clock.set(datetime(2024, 3, 4, 10, 0, tzinfo=SHANGHAI))
    return venue


def run_venue(
    streams: list[list[Entry]], workdir: Path, profiles: list[cProfile.Profile] | None = None
) -> Run:
    venue = prepared_venue(workdir / "venue.db")
    latencies: list[list[int]] = [[] for _ in streams]
    start = threading.Barrier(len(streams) + 1)

    def client(index: int) -> None:
        mine = latencies[index]
        profiler = None if profiles is None else cProfile.Profile()
        start.wait()
        if profiler is not None:
            profiler.enable()
        for e in streams[index]:
            t0 = time.perf_counter_ns()
            result = venue.place(e.id, e.account, CEA, e.side, e.quantity, e.price, actor="b")
            mine.append(time.perf_counter_ns() - t0)
            assert result.ok, f"{e}: {result.code} {result.message}"
        if profiler is not None:
            profiler.disable()
            profiles.append(profiler)  # type: ignore[union-attr]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(streams))]
    for thread in threads:
        thread.start()
    batches_before = venue.batches
    start.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - t0
    venue.store.engine.dispose()  # type: ignore[attr-defined]
    all_latencies = [ns for mine in latencies for ns in mine]
    return Run(len(all_latencies), seconds, venue.batches - batches_before, all_latencies)


def run_raw(streams: list[list[Entry]], batch: int, workdir: Path) -> Run:
    """The storage's ceiling: one order row and one journal row per order, `batch` per commit."""
    conn = sqlite3.connect(workdir / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE orders (id TEXT PRIMARY KEY, seq INTEGER, account TEXT, side TEXT,"
        " price INTEGER, quantity INTEGER, status TEXT)"
    )
    conn.execute("CREATE TABLE journal (seq INTEGER PRIMARY KEY, kind TEXT, body BLOB, hash BLOB)")
    entries = [e for stream in streams for e in stream]
    digest, seq, batches = b"\0" * 32, 0, 0
    t0 = time.perf_counter()
    for lo in range(0, len(entries), batch):
        orders, journal = [], []
        for e in entries[lo : lo + batch]:
            seq += 1
            body = orjson.dumps(e._asdict())
            digest = hashlib.sha256(digest + body).digest()
            orders.append((e.id, seq, e.account, e.side, e.price, e.quantity, "open"))
            journal.append((seq, "order", body, digest))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)", orders)
        conn.executemany("INSERT INTO journal VALUES (?, ?, ?, ?)", journal)
        conn.execute("COMMIT")
        batches += 1
    seconds = time.perf_counter() - t0
    conn.close()
    return Run(len(entries), seconds, batches, [])


def percentile(values: list[int], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] / 1e6  # ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    streams = flow(args.clients, args.per_client, args.seed)
    if args.profile:
        profiles: list[cProfile.Profile] = []
        with tempfile.TemporaryDirectory() as tmp:
            run_venue(streams, Path(tmp), profiles)
        # Every client thread's profile merged; time a thread spent waiting for its batch
        # shows as lock acquisition.
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            stats.add(profile)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(r"cets/", 40)
        return
    ours: list[Run] = []
    raw: list[Run] = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            if i % 2:
                raw.append(run_raw(streams, _batch_hint(ours), Path(tmp)))
                ours.append(run_venue(streams, Path(tmp)))
            else:
                ours.append(run_venue(streams, Path(tmp)))
                raw.append(run_raw(streams, round(ours[-1].mean_batch), Path(tmp)))
        o, r = ours[-1], raw[-1]
        print(
            f"run {i + 1}: venue {o.rate:,.0f} orders/s in {o.batches:,} transactions "
            f"(mean batch {o.mean_batch:.1f}), p50 {percentile(o.latencies_ns, 0.5):.2f} ms, "
            f"p99 {percentile(o.latencies_ns, 0.99):.2f} ms; raw {r.rate:,.0f} orders/s"
        )
    rate = statistics.median(o.rate for o in ours)
    raw_rate = statistics.median(r.rate for r in raw)
    p50 = statistics.median(percentile(o.latencies_ns, 0.5) for o in ours)
    p99 = statistics.median(percentile(o.latencies_ns, 0.99) for o in ours)
    print(f"orders per run: {ours[0].orders:,} from {args.clients} client threads")
    print(f"venue (durable, group commit): {rate:,.0f} orders/s (median of {args.runs})")
    print(f"acknowledgement latency at that load: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    print(f"raw baseline (order + journal rows, same batches): {raw_rate:,.0f} orders/s")
    print(f"ratio venue / raw: {rate / raw_rate:.3f}")
    verdict = "met" if rate >= TARGET else "missed"
    print(f"target >= {TARGET:,} orders/s: {verdict} ({rate / TARGET:.1%} of it)")


def _batch_hint(ours: list[Run]) -> int:
    return round(statistics.median(o.mean_batch for o in ours)) if ours else 16


if __name__ == "__main__":
    main()
