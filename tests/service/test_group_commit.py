"""The group committer: many callers, few transactions, acknowledgement only after commit."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from cets.adapters.sql.store import SqlStore
from cets.domain.ledger.model import AccountFlags, Transfer
from cets.domain.registry.holders import Holder
from cets.service.clock import SettableClock
from cets.service.group_commit import GroupCommitter
from cets.service.ports import AccountKey, AccountSpec, Command, CommandResult

CLOCK = SettableClock(datetime(2024, 3, 4, 1, 30, tzinfo=UTC))


def _accounts(store: SqlStore) -> tuple[int, int]:
    with store.unit_of_work() as uow:
        uow.open_holders([Holder("A", "institution", "A")], actor="t", now_us=1)
        opened = uow.open_accounts(
            [
                AccountSpec(AccountKey("authority", "issuance", "CEA-2024"), 0),
                AccountSpec(
                    AccountKey("A", "holding", "CEA-2024"),
                    AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                ),
            ],
            actor="t",
            now_us=1,
        )
        uow.commit()
    return (
        opened[AccountKey("authority", "issuance", "CEA-2024")].id,
        opened[AccountKey("A", "holding", "CEA-2024")].id,
    )


def test_concurrent_callers_share_transactions_and_each_gets_its_own_result(
    sqlite_url: str,
) -> None:
    store = SqlStore.open(sqlite_url)
    issuance, holder = _accounts(store)
    committer = GroupCommitter(store.submit_batch, CLOCK, max_batch=100)
    results: dict[str, CommandResult] = {}

    def caller(worker: int) -> None:
        for k in range(50):
            tid = f"w{worker}-{k}"
            command = Command(
                "issue",
                "t",
                {"id": tid},
                (Transfer(tid, issuance, holder, "CEA-2024", 1, "issue"),),
            )
            results[tid] = committer.execute(command)

    threads = [threading.Thread(target=caller, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    committer.close()
    assert len(results) == 400
    assert all(r.ok and not r.replayed and r.transfers[0].id == tid for tid, r in results.items())
    assert committer.batches < 400, "waiting callers were not grouped into shared transactions"
    balance = {a.id: a.balance for a in store.all_accounts()}
    assert balance[holder] == 400
    assert store.audit().ok


def test_a_failed_transaction_fails_every_caller_in_it_and_acknowledges_none() -> None:
    def broken(commands: Sequence[Command], now_us: int) -> list[CommandResult]:
        raise ConnectionError("database went away")

    committer = GroupCommitter(broken, CLOCK)
    futures = [committer.submit(Command("noop", "t", {"n": n})) for n in range(5)]
    for future in futures:
        with pytest.raises(ConnectionError):
            future.result(timeout=10)
    committer.close()
    with pytest.raises(RuntimeError):
        committer.submit(Command("noop", "t", {}))
