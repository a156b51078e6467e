"""Settlement throughput: a day of --trades trades delivered versus payment on SQLite.

The day is written once by `cets.sim.settlement_day.seed_day` (each trade with its own sell and
buy order holds and its proceeds advanced, as the venue leaves them at 15:00; fees 3/5 bp with a
1.00 minimum), its run prepared and confirmed; the file is then copied for each measurement, so
every run starts from the same bytes. What is timed is `Exchange.deliver_run`: every trade's
linked legs (units posted from the seller's hold and delivered; the buyer's money and fee posted;
the proceeds repaid to the clearing account; each fee to the fee account: six transfers a trade),
the holds and account balances, one journal entry per chunk of trades hashed over every leg, the
trades marked settled; a transaction per chunk, on SQLite with WAL and `synchronous=FULL`.

Baseline, measured in the same run on a copy of the same file: the raw cost of storing a settled
day with none of settlement's work. The same six transfer rows a trade (same columns, same ids),
the same hold and account updates and the same marks, written with `executemany` in
transactions of the same number of trades, with the same durability. It is the ceiling the
storage sets; settlement's figure is printed beside it with the ratio.

Prints, for each of --runs runs (alternating which side goes first) and as medians: trades/s for
settlement and for the baseline, and the ratio. Target (issue 5): >= 100,000 trades/s.
`--profile` runs settlement once more under cProfile and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import time as clock_time
from pathlib import Path

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import FeeSchedule, Policy
from cets.domain.settlement.runs import RunStatus
from cets.domain.trading.calendar import local_datetime
from cets.service.clock import SettableClock
from cets.service.exchange import Exchange
from cets.sim.settlement_day import DAY, seed_day

TARGET = 100_000
POLICY = Policy(fees=FeeSchedule(3, 5, 100))
LEGS = ("units", "deliver", "funds", "pay", "buyer-fee", "seller-fee")


def seeded(directory: Path, trades: int) -> tuple[Path, str]:
    path = directory / "template.db"
    store = SqlStore.open(f"sqlite:///{path}")
    clock = SettableClock(local_datetime(DAY, clock_time(15, 5)))
    exchange = Exchange(store, clock, POLICY)
    started = time.perf_counter()
    day = seed_day(store, exchange, clock, trades=trades, holders=1000)
    confirmed = exchange.confirm_run(day.run, actor="registry", deliver=False)
    assert confirmed.ok, confirmed
    print(f"seeded {trades:,} trades in {time.perf_counter() - started:.0f} s (not timed)")
    store.close()
    return path, day.run


def ours(path: Path, run: str, chunk: int, *, profile: bool = False) -> float:
    store = SqlStore.open(f"sqlite:///{path}")
    exchange = Exchange(store, SettableClock(local_datetime(DAY, clock_time(15, 10))), POLICY)
    exchange.delivery_chunk = chunk
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = exchange.deliver_run(run, actor="registry")
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    assert result.ok and result.message == RunStatus.delivered, result
    store.close()
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    return elapsed


def raw(path: Path, run: str, chunk: int) -> float:
    """The same rows with none of the work (see the module doc)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    trades = conn.execute(
        "SELECT ordinal, id, buy_order, sell_order, buyer, seller FROM trades WHERE run = ? "
        "ORDER BY ordinal",
        (run,),
    ).fetchall()
    (ordinal,) = conn.execute("SELECT transfers FROM journal_head").fetchone()
    (seq,) = conn.execute("SELECT seq FROM journal_head").fetchone()
    accounts: dict[str, list[int]] = {}
    for account_id, holder in conn.execute("SELECT id, holder FROM accounts"):
        accounts.setdefault(holder, []).append(account_id)
    started = time.perf_counter()
    for start in range(0, len(trades), chunk):
        part = trades[start : start + chunk]
        seq += 1
        rows, holds = [], []
        touched = set(accounts["exchange"])
        for _, tid, buy, sell, buyer, seller in part:
            touched.update(accounts[buyer])
            touched.update(accounts[seller])
            for leg in LEGS:
                ordinal += 1
                rows.append((f"settle:{tid}/{leg}", 1, 2, "CNY", 1, "trade", 0, None, tid, 0,
                             seq, ordinal, ordinal - 1, ordinal - 2))  # fmt: skip
            holds += [(0, f"order:{buy}"), (0, f"order:{sell}")]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO transfers (id, debit_account_id, credit_account_id, asset, amount, code, "
            "flags, pending_id, ref, timestamp, seq, ordinal, debit_prev, credit_prev) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany("UPDATE holds SET remaining = ? WHERE id = ?", holds)
        conn.executemany(
            "UPDATE accounts SET debits_posted = debits_posted, last_transfer = ? WHERE id = ?",
            [(ordinal, a) for a in sorted(touched)],
        )
        conn.execute(
            "INSERT INTO journal (seq, at_us, kind, actor, body, hash) VALUES (?, 0, 'x', 'x', "
            "'{}', ?)",
            (seq, "0" * 64),
        )
        conn.execute(
            "UPDATE trades SET settled_seq = ? WHERE run = ? AND settled_seq IS NULL "
            "AND ordinal <= ?",
            (seq, run, part[-1][0]),
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=10_000, help="trades per transaction")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cets-bench-settle-") as tmp:
        directory = Path(tmp)
        template, run = seeded(directory, args.trades)
        figures: list[tuple[float, float]] = []
        for n in range(args.runs):
            sides = {}
            order = ("ours", "raw") if n % 2 == 0 else ("raw", "ours")
            for side in order:
                copy = directory / f"{side}.db"
                shutil.copy(template, copy)
                measure = ours if side == "ours" else raw
                sides[side] = args.trades / measure(copy, run, args.chunk)
                copy.unlink()
            figures.append((sides["ours"], sides["raw"]))
            print(
                f"run {n + 1}: settlement {sides['ours']:>10,.0f} trades/s   "
                f"raw baseline {sides['raw']:>10,.0f} trades/s   "
                f"ratio {sides['ours'] / sides['raw']:.2f}"
            )
        mine = statistics.median(f[0] for f in figures)
        base = statistics.median(f[1] for f in figures)
        print(
            f"median of {args.runs}: settlement {mine:,.0f} trades/s, raw baseline "
            f"{base:,.0f} trades/s, ratio {mine / base:.2f}; target {TARGET:,} trades/s "
            f"{'reached' if mine >= TARGET else 'missed'}"
        )
        if args.profile:
            copy = directory / "profile.db"
            shutil.copy(template, copy)
            ours(copy, run, args.chunk, profile=True)


if __name__ == "__main__":
    main()
