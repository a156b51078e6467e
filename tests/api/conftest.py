"""API fixtures: the real app on a real database (SQLite, and PostgreSQL via `db_url`), with a
person and an API key for every role, and holders E1, E2 (key emitters) and I1 (an investor)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import Policy
from cets.domain.registry.access import Person
from cets.entrypoints.api.app import create_app
from cets.service.clock import SettableClock
from cets.service.people import People
from cets.service.registry import Registry
from people_support import HOLDERS, PEOPLE

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@dataclass
class Api:
    """A client, the store under it, its clock, and an API key per person id."""

    client: TestClient
    store: SqlStore
    clock: SettableClock
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, person: str | None) -> dict[str, str]:
        return {} if person is None else {"X-API-Key": self.keys[person]}

    def post(self, path: str, person: str | None, json: object = None):  # type: ignore[no-untyped-def]
        return self.client.post(path, headers=self.headers(person), json=json)

    def get(self, path: str, person: str | None, **params: object):  # type: ignore[no-untyped-def]
        return self.client.get(path, headers=self.headers(person), params=params)

    def delete(self, path: str, person: str | None):  # type: ignore[no-untyped-def]
        return self.client.delete(path, headers=self.headers(person))


def build_api(url: str, policy: Policy | None = None) -> Api:
    store = SqlStore.open(url, durable=False)
    clock = SettableClock(START)
    registry = Registry(store, clock)
    for holder in HOLDERS:
        assert registry.open_holder(holder, actor="setup").ok
    people = People(store, clock)
    api = Api(TestClient(create_app(store, clock=clock, policy=policy)), store, clock)
    for person_id, (role, operates) in PEOPLE.items():
        people.add(Person(person_id, person_id, role, operates), actor="setup")
        api.keys[person_id] = people.issue_key(person_id, actor="setup").token
    return api


def _audited(built: Api) -> None:
    """Whatever a test did through the API, the journal and the ledger still audit clean."""
    try:
        report = built.store.audit()
        assert report.ok, (report.chain_break, report.violations)
    finally:
        built.store.close()


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    """The API on SQLite and on PostgreSQL, four-eyes off (the default)."""
    built = build_api(db_url)
    yield built
    _audited(built)


@pytest.fixture
def api_sqlite(sqlite_url: str) -> Iterator[Api]:
    built = build_api(sqlite_url)
    yield built
    _audited(built)


@pytest.fixture
def api_four_eyes(sqlite_url: str) -> Iterator[Api]:
    built = build_api(sqlite_url, Policy(four_eyes=True))
    yield built
    _audited(built)
