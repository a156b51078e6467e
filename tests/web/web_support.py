"""Browser fixtures (`tests/web/conftest.py` makes them the directory's) and helpers: the real app
served by uvicorn on 127.0.0.1 (a free port) over a SQLite database, and Debian's Chromium
driven headless by Playwright through `executable_path` (Playwright's own browser download
cannot work here).

``site`` (function) is a live server on a fresh database with the market of `seed_market`: one
listed instrument, holders E1 and E2 (key emitters) and I1 (an investor), and a person with an
API key for each role (`PEOPLE`). Its clock is a `SettableClock` at 10:00 Shanghai time on a
trading day, so the market is open whatever the machine's time. The server runs in a thread of
the test process (so the test can move the clock) and is stopped by `should_exit` at the end.

``page`` (function) is a fresh browser page. Whatever the outcome, a full-page screenshot of it is
saved at the end as ``test-artifacts/web/<test name>.png``; console errors and uncaught page
errors fail the test. Without Chromium the tests fail (`make test` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dt_time
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import Policy
from cets.domain.registry.access import Person
from cets.domain.trading.calendar import local_datetime
from cets.entrypoints.api.app import create_app
from cets.service.clock import SettableClock
from cets.service.exchange import Exchange
from cets.service.people import People
from cets.service.registry import Registry
from people_support import HOLDERS, PEOPLE

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
CEA = "CEA-2025"
TODAY = date(2026, 3, 5)  # a Thursday; the market's days run up to it
START = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def chromium() -> str:
    found = os.environ.get("CETS_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("Debian's chromium is not installed (make test installs it)", pytrace=False)
    return found


@dataclass
class Site:
    """A live server: its URL, the store and clock under it, an API key per person."""

    url: str
    store: SqlStore
    clock: SettableClock
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def registry(self) -> Registry:
        return Registry(self.store, self.clock)

    @property
    def exchange(self) -> Exchange:
        return Exchange(self.store, self.clock, Policy())

    def at(self, day: date, hour: int, minute: int) -> None:
        self.clock.set(local_datetime(day, dt_time(hour, minute)))


def seed_market(site: Site) -> None:
    """Holders, people, and one listed instrument with E1 holding 50,000 t and money for all."""
    registry = site.registry
    for holder in HOLDERS:
        assert registry.open_holder(holder, actor="setup").ok
    people = People(site.store, site.clock)
    for person_id, (role, operates) in PEOPLE.items():
        people.add(Person(person_id, f"Demo {person_id}", role, operates), actor="setup")
        site.keys[person_id] = people.issue_key(person_id, actor="setup").token
    assert registry.issue("issue", CEA, 1_000_000).ok
    assert registry.allocate("allocate-E1", "E1", CEA, 50_000).ok
    assert registry.allocate("allocate-E2", "E2", CEA, 20_000).ok
    for holder_id in ("E1", "E2", "I1"):
        assert registry.deposit(f"deposit-{holder_id}", holder_id, 50_000_000_00).ok
    assert site.exchange.list_instrument(CEA, 6000, actor="setup").ok


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    store = SqlStore.open(f"sqlite:///{tmp_path}/web.db", durable=False)
    clock = SettableClock(START)
    port = free_port()
    found = Site(f"http://127.0.0.1:{port}", store, clock)
    seed_market(found)
    app = create_app(store, clock=clock)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield found
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=chromium(), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 960}, locale="zh-CN")
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and "status of 4" not in message.text
            else None
        ),
    )
    try:
        yield opened
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
        opened.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        context.close()
    assert not problems, problems


def log_in(page: Page, site: Site, person: str, hash_: str = "#/market") -> None:
    """Open the dashboard and log in with `person`'s key, then go to `hash_`."""
    page.goto(f"{site.url}/ui/{hash_}")
    page.get_by_test_id("login-key").fill(site.keys[person])
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("who").filter(has_text=f"Demo {person}").wait_for()
