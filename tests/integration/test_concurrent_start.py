"""Several processes opening one fresh database at once: migrated once, bootstrapped once."""

from __future__ import annotations

import multiprocessing

import pytest

from cets.adapters.sql.store import SqlStore
from cets.domain.registry.holders import SYSTEM_HOLDERS


def _open(url: str) -> str:
    store = SqlStore.open(url)
    try:
        return ",".join(sorted(h.id for h in store.holders()))
    finally:
        store.close()


@pytest.mark.timeout(180)
def test_processes_starting_together_on_a_fresh_database_all_succeed(db_url: str) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        seen = pool.map(_open, [db_url] * 4)
    expected = ",".join(sorted(h.id for h in SYSTEM_HOLDERS))
    assert seen == [expected] * 4
    store = SqlStore.open(db_url)
    try:
        report = store.audit()
        assert report.ok, report
        assert report.entries == 1, "the system holders were opened exactly once"
    finally:
        store.close()
