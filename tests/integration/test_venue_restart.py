"""Restart: the order-entry process is killed (SIGKILL) under load; afterwards every acknowledged
order is there, no trade is lost or doubled, the ledger audits clean, and a restarted venue's
books equal those of an uninterrupted run of exactly the orders that got in."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from venue_worker import ACCOUNTS, CEA, OPEN, POLICY, enter

from cets.adapters.sql.store import SqlStore
from cets.domain.registry.holders import Holder
from cets.service.clock import SettableClock
from cets.service.exchange import Exchange
from cets.service.registry import Registry

WORKER = Path(__file__).with_name("venue_worker.py")
SEED = 7


def prepared(url: str) -> SqlStore:
    store = SqlStore.open(url)
    clock = SettableClock(OPEN)
    reg = Registry(store, clock)
    assert reg.issue("iss", CEA, 10_000_000).ok
    for n, holder in enumerate(ACCOUNTS):
        assert reg.open_holder(Holder(holder, "institution", holder), actor="t").ok
        assert reg.allocate(f"a{n}", holder, CEA, 1_000_000).ok
        assert reg.deposit(f"d{n}", holder, 10_000_000_000).ok
    assert Exchange(store, clock, POLICY).list_instrument(CEA, 6000, actor="t").ok
    return store


def killed_after(url: str, acks_wanted: int) -> list[int]:
    """Start the worker, SIGKILL it once it has acknowledged `acks_wanted` orders."""
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), url, str(SEED), "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    acked: list[int] = []
    deadline = time.monotonic() + 120
    assert worker.stdout is not None
    try:
        for line in worker.stdout:
            acked.append(int(line.split()[1]))
            if len(acked) >= acks_wanted:
                break
            assert time.monotonic() < deadline, "the worker is too slow"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    return acked


def test_a_killed_venue_restarts_with_every_acknowledged_order_and_the_same_books(
    tmp_path: Path,
) -> None:
    killed_url = f"sqlite:///{tmp_path}/killed.db"
    prepared(killed_url).close()
    acked = killed_after(killed_url, 400)

    store = SqlStore.open(killed_url)
    orders = {o.id: o for o in store.venue_orders()}
    assert {f"O{i}" for i in acked} <= set(orders)  # every acknowledged order is there
    ran = len(orders)  # each operation records exactly one order: those that got in
    assert ran in (len(acked), len(acked) + 1)  # at most the one in flight committed unacked
    report = store.audit()
    assert report.ok, (report.chain_break, report.violations)

    uninterrupted = prepared(f"sqlite:///{tmp_path}/uninterrupted.db")
    clock = SettableClock(OPEN)
    venue = Exchange(uninterrupted, clock, POLICY)
    for i in range(ran):
        enter(venue, clock, SEED, i)

    def trades(s: SqlStore) -> list[tuple[object, ...]]:
        return [(t.id, t.buy_order, t.sell_order, t.price, t.quantity) for t in s.venue_trades()]

    made = trades(store)
    assert len(made) > 50 and len({t[0] for t in made}) == len(made)  # trades, none doubled
    assert made == trades(uninterrupted)  # none lost
    restarted = Exchange(store, SettableClock(OPEN), POLICY)
    bids, asks = venue.depth(CEA) or ([], [])
    assert bids and asks  # both sides still have resting orders to compare
    assert restarted.depth(CEA) == (bids, asks)
    assert [(o.id, o.status, o.filled) for o in store.venue_orders()] == [
        (o.id, o.status, o.filled) for o in uninterrupted.venue_orders()
    ]
    for s in (store, uninterrupted):
        s.close()
