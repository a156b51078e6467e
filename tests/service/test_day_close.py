"""The day closes itself at 15:00: day orders expire with their holds released, the day's trades
settle and its bar is written, on time or, after a stop over the close, for the missed day."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from cets.adapters.sql.store import SqlStore
from cets.entrypoints.api.app import create_app
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.day_close import DayCloser
from cets.service.exchange import Exchange
from venue_journal import CEA, prepared

HOLDERS = ["H1", "H2"]
MONDAY = date(2024, 3, 4)


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=SHANGHAI)


def with_orders(tmp_path: Path) -> tuple[SqlStore, SettableClock, Exchange]:
    """Monday 14:00: H1 sold 100 t to H2 at 60.00 and still offers 200 t; H2 still bids."""
    store, clock, venue = prepared(tmp_path / "v.db", HOLDERS)
    clock.set(at(MONDAY, 14))
    assert venue.place("S1", "H1", CEA, "sell", 300, 6000, actor="t").ok
    assert venue.place("B1", "H2", CEA, "buy", 100, 6000, actor="t").ok
    assert venue.place("B2", "H2", CEA, "buy", 50, 5900, actor="t").ok
    return store, clock, venue


def states(store: SqlStore) -> dict[str, str]:
    return {o.id: o.status for o in store.venue_orders()}


def assert_closed(store: SqlStore, day: date) -> None:
    assert states(store) == {"S1": "expired", "B1": "filled", "B2": "expired"}
    assert all(t.settled_seq is not None for t in store.venue_trades())
    assert [(b.day, b.close_fen, b.volume_t) for b in store.daily_bars(CEA)] == [(day, 6000, 100)]
    report = store.audit()
    assert report.ok, (report.chain_break, report.violations)


def test_nothing_is_due_before_15_00_and_the_day_closes_at_15_00(tmp_path: Path) -> None:
    store, clock, venue = with_orders(tmp_path)
    closer = DayCloser(venue)
    clock.set(at(MONDAY, 14, 59, 59))
    assert closer.due() is None
    assert closer.run_once() is None
    assert states(store)["S1"] == "partially_filled"

    clock.set(at(MONDAY, 15))
    assert closer.due() == MONDAY
    result = closer.run_once()
    assert result is not None and result.ok
    assert_closed(store, MONDAY)
    assert closer.due() is None  # closed once
    assert closer.run_once() is None


def test_a_day_missed_while_stopped_is_closed_as_that_day(tmp_path: Path) -> None:
    store, clock, venue = with_orders(tmp_path)
    clock.set(at(date(2024, 3, 5), 9, 0))  # Tuesday, before the session
    closer = DayCloser(venue)
    assert closer.due() == MONDAY
    assert closer.run_once() is not None
    assert_closed(store, MONDAY)  # the bar is Monday's, not Tuesday's


def test_friday_is_closed_over_the_weekend(tmp_path: Path) -> None:
    _, clock, venue = prepared(tmp_path / "v.db", HOLDERS)
    friday = date(2024, 3, 8)
    clock.set(at(friday, 10))
    assert venue.place("S1", "H1", CEA, "sell", 300, 6000, actor="t").ok
    clock.set(at(date(2024, 3, 9), 12))  # Saturday
    assert DayCloser(venue).due() == friday


def test_the_closer_thread_closes_the_day_when_the_clock_passes_15_00(tmp_path: Path) -> None:
    store, clock, venue = with_orders(tmp_path)
    closer = DayCloser(venue, poll_s=0.02)
    closer.start()
    try:
        time.sleep(0.1)
        assert states(store)["S1"] == "partially_filled"  # 14:00: nothing to do
        clock.set(at(MONDAY, 15, 0, 1))
        deadline = time.monotonic() + 10
        while states(store)["S1"] != "expired" and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        closer.stop()
    assert_closed(store, MONDAY)


def test_the_served_app_closes_a_missed_day_before_it_answers(tmp_path: Path) -> None:
    store, clock, _ = with_orders(tmp_path)
    clock.set(at(date(2024, 3, 5), 9, 0))
    app = create_app(store, clock=clock, close_days=True)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert_closed(store, MONDAY)
    # Without it (tests, tools) nothing closes by itself.
    store2, clock2, _ = with_orders(tmp_path / "other")
    clock2.set(at(date(2024, 3, 5), 9, 0))
    with TestClient(create_app(store2, clock=clock2)) as client:
        assert client.get("/healthz").status_code == 200
    assert states(store2)["S1"] == "partially_filled"
