"""Suite-wide fixtures: a throwaway PostgreSQL cluster, per-test databases, SQLite URLs.

PostgreSQL
    ``postgres_server`` (session) runs ``initdb`` + ``pg_ctl start`` on a fresh temp dir, listening
    on 127.0.0.1 at a free port (unix socket in the temp dir), and stops/removes it at the end.
    ``pg_url`` (function) is a fresh, empty database in that cluster as a SQLAlchemy URL
    (``postgresql+psycopg://postgres@127.0.0.1:PORT/NAME``), dropped after the test.
    ``pg_url_factory`` (function) makes as many such databases as a test or fixture wants.
    Other fixtures may also call ``postgres_server.create_database()`` /
    ``make_pg_database(postgres_server)`` and ``postgres_server.drop_database(url_or_name)``.

    Any test that uses ``postgres_server`` (directly or through any fixture) is marked
    ``postgres``: ``pytest -m "not postgres"`` runs without PostgreSQL.
    Without PostgreSQL binaries those tests are skipped, unless ``CETS_REQUIRE_POSTGRES=1``
    (set by ``make test`` / CI): then they fail, and a skipped ``postgres`` test fails the session.

SQLite
    ``sqlite_url`` is ``sqlite:///<tmp_path>/cets.db``.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from cets.testkit.pgcluster import PostgresServer, PostgresUnavailableError, start_cluster

REQUIRE_ENV = "CETS_REQUIRE_POSTGRES"
POSTGRES_MARK = "postgres"
# Fixtures whose use means "this test needs the PostgreSQL cluster". pytest's item.fixturenames is
# the transitive closure, so a test reaching postgres_server through any fixture is caught.
POSTGRES_FIXTURES = frozenset({"postgres_server", "pg_url", "pg_url_factory"})


def postgres_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


# --------------------------------------------------------------------------- finding binaries


def _unavailable(reason: str) -> NoReturn:
    """Skip, or fail when PostgreSQL is required (CI)."""
    if postgres_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1, so PostgreSQL tests must run)", pytrace=False)
    pytest.skip(f"{reason}; set {REQUIRE_ENV}=1 to make this an error")


def start_postgres_server() -> PostgresServer:
    """Start a throwaway cluster; skips/fails the calling test when PostgreSQL is unavailable."""
    try:
        return start_cluster()
    except PostgresUnavailableError as exc:
        _unavailable(str(exc))


def make_pg_database(server: PostgresServer) -> str:
    """Create a fresh database in ``server``; return its SQLAlchemy URL. Drop it with
    ``server.drop_database(url)`` (the cluster is thrown away at the end anyway)."""
    return server.create_database()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres_server()
    try:
        yield server
    finally:
        server.stop()
        atexit.unregister(server.stop)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (SQLAlchemy URL), dropped after the test."""
    url = make_pg_database(postgres_server)
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture
def pg_url_factory(postgres_server: PostgresServer) -> Iterator[Callable[[], str]]:
    """Call to get another fresh database URL; all are dropped after the test."""
    created: list[str] = []

    def make() -> str:
        url = make_pg_database(postgres_server)
        created.append(url)
        return url

    try:
        yield make
    finally:
        for url in reversed(created):
            postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A test that takes it runs twice: on a fresh SQLite file and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cets.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cets.db"


# --------------------------------------------------------------------------- hooks


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if POSTGRES_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


# nodeid -> "passed" | "failed" | "skipped" for every test marked postgres (this process).
_PG_OUTCOMES: dict[str, str] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    _PG_OUTCOMES.clear()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record the final outcome of every test marked ``postgres``."""
    if POSTGRES_MARK not in report.keywords:
        return
    if report.failed:
        _PG_OUTCOMES[report.nodeid] = "failed"  # a failure in any phase (setup/call/teardown) wins
    elif _PG_OUTCOMES.get(report.nodeid) == "failed":
        return
    elif report.skipped and report.when in {"setup", "call"}:
        _PG_OUTCOMES[report.nodeid] = "skipped"
    elif report.passed and report.when == "call":
        _PG_OUTCOMES[report.nodeid] = "passed"


def _counts() -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for outcome in _PG_OUTCOMES.values():
        counts[outcome] += 1
    return counts


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if postgres_required() and _counts()["skipped"] and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    counts = _counts()
    terminalreporter.write_line(
        f"PostgreSQL tests: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped"
    )
    if postgres_required() and counts["skipped"]:
        terminalreporter.write_line(
            f"ERROR: {counts['skipped']} PostgreSQL test(s) skipped while {REQUIRE_ENV}=1",
            red=True,
            bold=True,
        )
