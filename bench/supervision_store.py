"""Supervision's batch scan end to end on SQLite: the stored history of --trades trades read,
judged by every detector and the alerts kept, against the driver fetching the same rows.

The history is `bench/supervision.py`'s (seeded: --trades trades over 50 days in two
instruments, 2.5 orders a trade, planted manipulations), written once into a database made by
the migrations (holders with their actual controllers, every order and trade as the venue
stores them, each day's bar with the previous close its band was measured from), not timed.

Timed, medians of --runs runs (alternating which side goes first), each on a fresh copy of the
file (the copy is not timed):
- scan: `Supervision.scan()` over all history, what `cets supervision scan` does: the orders,
  trades, bands, controllers and holdings read (`Supervision.history`), every detector run, the
  alerts and their history written and committed with one journal entry. Every run checks that
  each planted case raised its alert (by topic); holdings are not in this database, so that one
  plant is left out;
- of which read: `Supervision.history()` alone (the cyclic garbage collector paused, as the
  scan pauses it), on the same copy before the scan;
- baseline: the same two SELECTs the store sends for the orders and the trades, fetched with
  `sqlite3` into tuples, no events made, no logic.
Target (the supervision issue): the batch detectors over 1,000,000 trades in <= 10 s; the
detectors alone are `bench/supervision.py`'s figure, this is the whole batch scan.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from cets.adapters.sql.store import SqlStore
from cets.adapters.sql.supervision_rows import _ORDER_EVENTS, _TRADE_EVENTS
from cets.domain.policy import Policy
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.supervision import Supervision

_SPEC = importlib.util.spec_from_file_location("bench_supervision", Path(__file__).with_name(
    "supervision.py"))  # fmt: skip
assert _SPEC is not None and _SPEC.loader is not None
generator: Any = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_supervision"] = generator
_SPEC.loader.exec_module(generator)

AFTER = datetime(2024, 6, 3, 9, tzinfo=SHANGHAI)  # after the last generated day


def write(m: Any, path: Path) -> None:
    """The generated history as the venue stores it (module doc)."""
    SqlStore.open(f"sqlite:///{path}", durable=False).close()
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO holders (id, kind, name, controller, state, created_at) "
        "VALUES (?, 'institution', ?, ?, 'normal', 0)",
        ((h, h, c) for h, c in m.controllers.items()),
    )
    con.executemany(
        "INSERT INTO orders (id, seq, instrument, account, side, mode, price_fen, quantity_t, "
        "filled_t, cancelled_t, status, reason, day, at_us, closed_us) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (o.id, n, o.instrument, o.account, o.side, o.mode, o.price, o.quantity, o.filled,
             0 if o.status == "filled" else o.quantity - o.filled, o.status, o.reason,
             o.day.isoformat(), o.placed_us, o.cancelled_us)
            for n, o in enumerate(m.orders, 1)
        ),
    )  # fmt: skip
    con.executemany(
        "INSERT INTO trades (ordinal, id, instrument, mode, buy_order, sell_order, buyer, seller, "
        "price_fen, quantity_t, buyer_fee_fen, seller_fee_fen, day, at_us) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
        (
            (n, t.id, t.instrument, t.mode, t.buy_order, t.sell_order, t.buyer, t.seller,
             t.price, t.quantity, t.day.isoformat(), t.at_us)
            for n, t in enumerate(m.trades, 1)
        ),
    )  # fmt: skip
    con.executemany(
        "INSERT INTO daily_bars (instrument, day, close_fen, volume_t, amount_fen, source, "
        "prev_close_fen) VALUES (?, ?, ?, 0, 0, 'bench', ?)",
        ((i, d.isoformat(), c.prev_close, c.prev_close) for (i, d), c in m.days.items()),
    )
    con.commit()
    con.close()


def baseline(path: Path) -> float:
    started = time.perf_counter()
    con = sqlite3.connect(path)
    rows = [con.execute(sql.format(days="")).fetchall() for sql in (_ORDER_EVENTS, _TRADE_EVENTS)]
    con.close()
    elapsed = time.perf_counter() - started
    assert [len(r) for r in rows][1] > 0, "the baseline fetched no trades"
    return elapsed


def ours(m: Any, path: Path, planted: set[str]) -> tuple[float, float]:
    """(read, scan) seconds on `path`; fails unless every planted topic was raised."""
    store = SqlStore.open(f"sqlite:///{path}")
    supervision = Supervision(store, SettableClock(AFTER), Policy())
    gc.disable()  # as the scan reads: with the cyclic collector paused
    started = time.perf_counter()
    history = supervision.history()
    read = time.perf_counter() - started
    gc.enable()
    assert len(history.trades) == len(m.trades) and len(history.orders) == len(m.orders)
    del history
    started = time.perf_counter()
    result = supervision.scan(actor="bench")
    scan = time.perf_counter() - started
    topics = {a.alert.key for a in supervision.alerts()}
    store.close()
    if missed := planted - topics:
        raise SystemExit(f"FAILED: the scan missed {len(missed)} planted case(s): {missed}")
    assert len(result.raised) == len(topics), "a scan of a fresh copy raised alerts twice"
    return read, scan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=generator.TARGET_TRADES)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    m = generator.Market(args.trades, args.seed)
    planted = set().union(*(v for k, v in m.planted.items() if k != "holdings_concentration"))
    with tempfile.TemporaryDirectory(prefix="cets-bench-") as tmp:
        seed = Path(tmp) / "seed.db"
        started = time.perf_counter()
        write(m, seed)
        print(f"{len(m.trades):,} trades and {len(m.orders):,} orders written in "
              f"{time.perf_counter() - started:.0f} s (not timed)")  # fmt: skip
        times: dict[str, list[float]] = {"scan": [], "read": [], "baseline": []}
        for n in range(args.runs):
            copy = Path(tmp) / f"run{n}.db"
            shutil.copy(seed, copy)
            if n % 2:
                times["baseline"].append(baseline(copy))
            read, scan = ours(m, copy, planted)
            times["read"].append(read)
            times["scan"].append(scan)
            if not n % 2:
                times["baseline"].append(baseline(copy))
            copy.unlink()
            print(f"run {n + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    med = {k: statistics.median(v) for k, v in times.items()}
    base, trades = med["baseline"], len(m.trades)
    print(f"\nmedians of {args.runs} runs, {trades:,} trades, {len(m.orders):,} orders:")
    for name in ("scan", "read", "baseline"):
        print(f"{name:<9} {med[name]:6.2f} s  {trades / med[name]:>11,.0f} trades/s  "
              f"ours/base {med[name] / base:5.2f}")  # fmt: skip
    verdict = "met" if med["scan"] <= generator.TARGET_S else "MISSED"
    print(
        f"the batch scan over {trades:,} stored trades: {med['scan']:.2f} s (target <= "
        f"{generator.TARGET_S:g} s: {verdict}); the detectors alone: bench/supervision.py"
    )


if __name__ == "__main__":
    main()
