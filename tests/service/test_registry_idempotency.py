"""Registry commands are idempotent on their client id, refusals included, under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from cets.adapters.sql.store import SqlStore
from cets.domain.errors import RejectCode
from cets.domain.registry.holders import Holder
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.registry import Registry

CLOCK = SettableClock(datetime(2024, 3, 4, 9, 30, tzinfo=SHANGHAI))


def _registry(url: str) -> tuple[SqlStore, Registry]:
    store = SqlStore.open(url)
    registry = Registry(store, CLOCK)
    assert registry.open_holder(Holder("E1", "key_emitter", "Wuhan Power"), actor="t").ok
    assert registry.issue("i1", "CEA-2024", 1000).ok
    return store, registry


def test_a_refused_command_repeated_gets_the_first_answer_even_when_it_would_now_pass(
    db_url: str,
) -> None:
    store, registry = _registry(db_url)
    try:
        first = registry.allocate("a1", "E1", "CEA-2024", 1500)
        assert first.code == RejectCode.insufficient_units
        assert registry.issue("i2", "CEA-2024", 1000).ok  # now the reserve could cover it
        again = registry.allocate("a1", "E1", "CEA-2024", 1500)
        assert (again.code, again.replayed) == (RejectCode.insufficient_units, True)
        other = registry.allocate("a1", "E1", "CEA-2024", 10)
        assert other.code == RejectCode.duplicate_id
        balances = {(a.holder, a.purpose): a.balance for a in store.all_accounts()}
        assert balances[("authority", "reserve")] == 2000
        assert ("E1", "holding") not in balances
    finally:
        store.close()


def test_the_same_command_sent_by_many_threads_at_once_is_done_once(db_url: str) -> None:
    store, registry = _registry(db_url)
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            accepted = list(
                pool.map(lambda _: registry.allocate("a2", "E1", "CEA-2024", 300), range(6))
            )
            refused = list(
                pool.map(lambda _: registry.allocate("a3", "E1", "CEA-2024", 5000), range(6))
            )
        assert all(r.ok for r in accepted)
        assert sum(not r.replayed for r in accepted) == 1
        assert all(r.code == RejectCode.insufficient_units for r in refused)
        holding = {(a.holder, a.purpose): a.balance for a in store.all_accounts()}
        assert holding[("E1", "holding")] == 300
        assert store.audit().ok
    finally:
        store.close()
