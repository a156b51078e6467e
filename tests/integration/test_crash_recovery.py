"""SIGKILL in the middle of a batch: no half batch, no acknowledged transfer lost.

A child process writes linked three-leg commands in batches of 500 and prints each batch's
acknowledgement after commit; the test kills it with SIGKILL at a moment chosen to fall inside a
batch, several times, then checks the database as the next process finds it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from cets.adapters.sql.store import SqlStore
from cets.domain.ledger.model import AccountFlags, Transfer
from cets.domain.registry.holders import Holder
from cets.service.ports import AccountKey, AccountSpec, Command

WORKER = Path(__file__).with_name("crash_worker.py")
LIMITED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)


def _seed(url: str) -> list[int]:
    store = SqlStore.open(url)
    with store.unit_of_work() as uow:
        uow.open_holders(
            [Holder("S", "key_emitter", "Seller"), Holder("B", "institution", "Buyer")],
            actor="test",
            now_us=1,
        )
        keys = [
            (AccountKey("S", "holding", "CEA-2024"), LIMITED),
            (AccountKey("B", "holding", "CEA-2024"), LIMITED),
            (AccountKey("S", "fund", "CNY"), LIMITED),
            (AccountKey("B", "fund", "CNY"), LIMITED),
            (AccountKey("exchange", "fees", "CNY"), LIMITED),
            (AccountKey("authority", "issuance", "CEA-2024"), 0),
            (AccountKey("bank", "bank", "CNY"), 0),
        ]
        opened = uow.open_accounts([AccountSpec(k, f) for k, f in keys], actor="test", now_us=1)
        uow.commit()
    ids = [opened[k].id for k, _ in keys]
    funded = store.submit_batch(
        [
            Command(
                "issue",
                "test",
                {},
                (Transfer("seed-units", ids[5], ids[0], "CEA-2024", 10**9, "issue"),),
            ),
            Command(
                "deposit",
                "test",
                {},
                (Transfer("seed-cash", ids[6], ids[3], "CNY", 10**15, "deposit"),),
            ),
        ],
        1,
    )
    assert all(r.ok for r in funded)
    store.close()
    return ids[:5]


def _kill_mid_batch(url: str, ids: list[int], start: int, delay: float) -> int:
    """Run the worker, SIGKILL it `delay` s after an acknowledgement; return the last acked."""
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), url, str(start), ",".join(map(str, ids))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    last_ack = start - 1
    try:
        for _ in range(3):  # let a few batches commit first
            line = proc.stdout.readline()
            assert line.startswith("ack "), f"worker said {line!r} (exit {proc.poll()})"
            last_ack = int(line.split()[2])
        time.sleep(delay)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
    for line in rest.splitlines():  # acknowledged before the kill landed
        last_ack = max(last_ack, int(line.split()[2]))
    assert proc.returncode == -signal.SIGKILL
    return last_ack


@pytest.mark.timeout(300)
def test_sigkill_mid_batch_leaves_no_half_batch_and_loses_nothing_acknowledged(
    db_url: str,
) -> None:
    url = db_url
    ids = _seed(url)
    start, acked = 0, []
    for delay in (0.01, 0.037, 0.11):
        last = _kill_mid_batch(url, ids, start, delay)
        acked.append((start, last))
        start = last + 1 + 10_000  # numbers a dead batch may have used stay unused
    store = SqlStore.open(url)
    try:
        with store.engine.connect() as conn:
            legs = Counter(
                transfer_id.split("-")[0]
                for (transfer_id,) in conn.execute(
                    text("SELECT id FROM transfers WHERE code IN ('trade', 'fee')")
                )
            )
            journaled = conn.execute(
                text("SELECT count(*) FROM journal WHERE kind = 'settle'")
            ).scalar_one()
        assert set(legs.values()) == {3}, "a command was stored in part"
        assert journaled == len(legs), "one journal entry per stored command"
        for first, last in acked:
            missing = [k for k in range(first, last + 1) if legs.get(f"c{k}") != 3]
            assert not missing, f"acknowledged commands lost: {missing[:5]}"
        report = store.audit()
        assert report.ok, report
        assert len(legs) >= sum(last - first + 1 for first, last in acked)
    finally:
        store.close()
