"""An order-entry process for the venue restart test: enters a seeded flow of orders forever (or
for `N` operations), printing `ack <index>` after each one is acknowledged (committed).

Run as `python venue_worker.py URL SEED START [N]`. Operation i is `flow_order(seed, i)`: the same
index always means the same order, so the parent can replay exactly what ran.
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import Policy
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.exchange import Exchange

CEA = "CEA-2023"
# Each holder starts with 1,000,000 t: the position limit is set above what the flow can reach.
POLICY = Policy().with_overrides({"position_limit": {"other_t": 10**12}})
ACCOUNTS = tuple(f"H{i}" for i in range(6))
OPEN = datetime(2024, 3, 4, 9, 30, tzinfo=SHANGHAI)


def flow_order(seed: int, i: int) -> tuple[str, str, str, int, int]:
    """(order id, account, side, quantity, price in fen) of operation `i`."""
    rng = random.Random(seed * 1_000_003 + i)
    side = rng.choice(("buy", "sell"))
    price = 6000 + rng.randint(-20, 20) * 5
    return f"O{i}", rng.choice(ACCOUNTS), side, rng.randint(1, 50), price


def enter(venue: Exchange, clock: SettableClock, seed: int, i: int) -> None:
    clock.set(OPEN + timedelta(milliseconds=i))
    order_id, account, side, quantity, price = flow_order(seed, i)
    venue.place(order_id, account, CEA, side, quantity, price, actor=account)


def main() -> None:
    url, seed, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    stop = start + int(sys.argv[4]) if len(sys.argv) > 4 else None
    store = SqlStore.open(url)
    clock = SettableClock(OPEN)
    venue = Exchange(store, clock, POLICY)
    i = start
    while stop is None or i < stop:
        enter(venue, clock, seed, i)
        print(f"ack {i}", flush=True)
        i += 1


if __name__ == "__main__":
    main()
