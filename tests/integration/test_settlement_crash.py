"""Exactly once: a process delivering a run of 100,000 trades is SIGKILLed in the middle; a new
process finishes the run (as `cets serve` does at start), and every trade is settled exactly once.

"Exactly once" is checked from what is stored, not from the worker's word: every trade of the
run is marked settled by a `settle_trades` journal entry; each trade has exactly one set of legs
(one `units` leg, one `deliver` leg: leg ids are unique, and their count equals the trades');
every holder's balances equal its deposits or allocation moved by its own trades (units, value
and fees), computed here from the trades; no order hold has anything left; the clearing and
transit accounts are back at zero; reconciliation finds no break; and the audit (hash chain and
ledger invariants) is clean.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from settle_worker import AFTER_CLOSE, POLICY
from sqlalchemy import text

from cets.adapters.sql.store import SqlStore
from cets.domain.ledger.model import Purpose
from cets.domain.settlement.runs import RunStatus
from cets.domain.units import CASH
from cets.service.clock import SettableClock
from cets.service.exchange import Exchange
from cets.sim.settlement_day import seed_day

WORKER = Path(__file__).with_name("settle_worker.py")
TRADES = 100_000
CHUNK = 2_000


def _settled(store: SqlStore) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM trades WHERE settled_seq IS NOT NULL")
            ).scalar_one()
        )


def _worker(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, str(CHUNK)], stdout=subprocess.PIPE, text=True
    )


@pytest.mark.timeout(900)
def test_a_delivery_killed_in_the_middle_finishes_with_every_trade_settled_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/day.db"
    store = SqlStore.open(url)
    clock = SettableClock(AFTER_CLOSE)
    exchange = Exchange(store, clock, POLICY)
    day = seed_day(store, exchange, clock, trades=TRADES, holders=200)
    confirmed = exchange.confirm_run(day.run, actor="registry", deliver=False)
    assert confirmed.ok, confirmed
    assert _settled(store) == 0

    worker = _worker(url)
    deadline = time.monotonic() + 300
    try:
        while _settled(store) < TRADES // 5:
            assert worker.poll() is None, "the worker ended before it could be killed"
            assert time.monotonic() < deadline, "the worker is too slow"
            time.sleep(0.01)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    interrupted = _settled(store)
    assert 0 < interrupted < TRADES, f"killed after {interrupted} trades: not in the middle"
    assert store.settlement_run(day.run).status == RunStatus.confirmed  # type: ignore[union-attr]

    restarted = _worker(url)
    out, _ = restarted.communicate(timeout=600)
    assert restarted.returncode == 0 and day.run in out.split(), out

    run = store.settlement_run(day.run)
    assert run is not None and run.status == RunStatus.delivered
    assert _settled(store) == TRADES
    with store.engine.connect() as conn:
        legs = dict(
            conn.execute(
                text(
                    "SELECT substr(id, instr(id, '/') + 1), count(*) FROM transfers "
                    "WHERE id LIKE 'settle:%' GROUP BY 1"
                )
            ).all()
        )
        entries = conn.execute(
            text(
                "SELECT count(*) FROM trades AS t JOIN journal AS j ON j.seq = t.settled_seq "
                "WHERE j.kind = 'settle_trades'"
            )
        ).scalar_one()
    assert legs["units"] == legs["deliver"] == legs["funds"] == TRADES, legs
    assert entries == TRADES
    assert not [h for h in store.open_holds() if h.code == "order"]
    assert store.settlement_breaks(run) == []
    _balances_follow_the_trades(store, day.fees)
    report = store.audit()
    assert report.ok, (report.chain_break, report.violations[:5])


def _balances_follow_the_trades(store: SqlStore, fees: int) -> None:
    """Each holder's accounts are what the registry gave it, moved by its trades once each."""
    expected: dict[tuple[str, str], int] = defaultdict(int)
    with store.engine.connect() as conn:
        for holder, code, amount in conn.execute(
            text(
                "SELECT a.holder, t.code, t.amount FROM transfers AS t "
                "JOIN accounts AS a ON a.id = t.credit_account_id "
                "WHERE t.code IN ('allocate', 'deposit')"
            )
        ):
            expected[holder, CASH if code == "deposit" else "units"] += amount
        for buyer, seller, price, qty, bf, sf in conn.execute(
            text(
                "SELECT buyer, seller, price_fen, quantity_t, buyer_fee_fen, seller_fee_fen "
                "FROM trades"
            )
        ):
            expected[buyer, "units"] += qty
            expected[seller, "units"] -= qty
            expected[buyer, CASH] -= price * qty + bf
            expected[seller, CASH] += price * qty - sf
    actual: dict[tuple[str, str], int] = defaultdict(int)
    system: dict[str, int] = defaultdict(int)
    for account in store.all_accounts():
        if account.holder == "exchange":
            system[f"{account.purpose}/{account.asset}"] += account.balance
        elif account.purpose in (Purpose.holding, Purpose.fund):
            actual[account.holder, CASH if account.asset == CASH else "units"] += account.balance
    assert {k: v for k, v in actual.items() if k in expected} == dict(expected)
    assert system["fees/CNY"] == fees
    assert system["clearing/CNY"] == 0
    assert all(v == 0 for k, v in system.items() if k.startswith("in_transit/")), system
