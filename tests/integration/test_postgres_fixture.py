"""The throwaway PostgreSQL cluster from tests/conftest.py works as promised."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, make_url, text

# Database names handed out by pg_url in this process, in order.
_SEEN_PG_DATABASES: list[str] = []


def test_pg_url_connects_to_local_postgres(pg_url: str, request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("postgres") is not None  # auto-marked
    assert pg_url.startswith("postgresql+psycopg://postgres@127.0.0.1:")

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select 1")).scalar_one() == 1
            version_num = int(conn.execute(text("show server_version_num")).scalar_one())
            assert version_num >= 130000
            assert conn.execute(text("select host(inet_server_addr())")).scalar_one() == (
                "127.0.0.1"
            )
            assert conn.execute(text("select current_database()")).scalar_one() == (
                make_url(pg_url).database
            )
        assert engine.dialect.server_version_info is not None
        assert engine.dialect.server_version_info >= (13,)
    finally:
        engine.dispose()


@pytest.mark.parametrize("round_", [1, 2])
def test_each_pg_url_is_a_new_database(pg_url: str, round_: int) -> None:
    name = make_url(pg_url).database
    assert name is not None
    assert name not in _SEEN_PG_DATABASES
    _SEEN_PG_DATABASES.append(name)

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            # An earlier test's database is gone (dropped at its teardown) and this one is empty.
            others = conn.execute(
                text("select datname from pg_database where datname = any(:names)"),
                {"names": _SEEN_PG_DATABASES},
            ).scalars()
            assert list(others) == [name]
            tables = conn.execute(
                text("select count(*) from information_schema.tables where table_schema='public'")
            ).scalar_one()
            assert tables == 0
    finally:
        engine.dispose()


def test_factory_gives_distinct_databases(
    pg_url: str, pg_url_factory: Callable[[], str], sqlite_url: str
) -> None:
    second = pg_url_factory()
    third = pg_url_factory()
    names = {make_url(u).database for u in (pg_url, second, third)}
    assert len(names) == 3

    engine = create_engine(second)
    try:
        with engine.begin() as conn:
            conn.execute(text("create table t (x int)"))
    finally:
        engine.dispose()
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select to_regclass('public.t')")).scalar_one() is None
    finally:
        engine.dispose()

    assert sqlite_url.startswith("sqlite:///") and sqlite_url.endswith("/cets.db")
