"""The live market data stream (`GET /v1/market/{instrument}/stream`, server-sent events).

Most tests run `cets serve` in its own process on a database file (SQLite, and PostgreSQL),
read the stream with httpx, and trade through the venue's service in this process: the engine
writing in its own transactions while the API process only reads, as in production. The server
polls every 50 ms and sends a keep-alive after 600 ms of silence; a test waits for that
keep-alive to show that nothing else came. The last tests call the app in-process for the
answers that are not a live stream (404, 422, `?once=true`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import Policy
from cets.entrypoints.api.routes.stream import HEARTBEAT_ENV, POLL_ENV
from cets.service.clock import SettableClock
from cets.service.exchange import Exchange
from cets.service.registry import Registry
from conftest import HOLDERS, START, Api

CETS = Path(sys.executable).with_name("cets")
CEA, OTHER = "CEA-2024", "CEA-2023"
HEARTBEAT_S = 0.6
READ_TIMEOUT = httpx.Timeout(10.0)  # a stream that goes quiet for this long fails the test
SHUTDOWN_GRACE_S = 3  # what `cets serve` gives open requests at a shutdown before cancelling them


@dataclass
class Market:
    """CEA-2024 listed at 60.00 and CEA-2023 at 50.00; E1 holds both, E2 has the money."""

    store: SqlStore
    venue: Exchange

    def place(self, order_id: str, account: str, side: str, quantity: int, price: int) -> None:
        self.place_in(CEA, order_id, account, side, quantity, price)

    def place_in(
        self, instrument: str, order_id: str, account: str, side: str, quantity: int, price: int
    ) -> None:
        result = self.venue.place(order_id, account, instrument, side, quantity, price, actor="t")
        assert result.ok, result

    def ordinal(self, buy_order: str) -> int:
        [trade] = [t for t in self.store.venue_trades() if t.buy_order == buy_order]
        return trade.ordinal


def open_market(store: SqlStore, clock: SettableClock) -> Market:
    reg = Registry(store, clock)
    for holder in HOLDERS:
        assert reg.open_holder(holder, actor="setup").ok
    for asset in (CEA, OTHER):
        assert reg.issue(f"issue-{asset}", asset, 10_000).ok
        assert reg.allocate(f"allocate-{asset}", "E1", asset, 5_000).ok
    assert reg.deposit("deposit-E2", "E2", 100_000_000).ok
    venue = Exchange(store, clock, Policy())
    assert venue.list_instrument(CEA, 6000, actor="setup").ok
    assert venue.list_instrument(OTHER, 5000, actor="setup").ok
    return Market(store, venue)


@pytest.fixture
def market(db_url: str) -> Iterator[Market]:
    store = SqlStore.open(db_url)
    try:
        yield open_market(store, SettableClock(START))
        report = store.audit()
        assert report.ok, (report.chain_break, report.violations)
    finally:
        store.close()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def stream_url(self, instrument: str = CEA) -> str:
        return f"{self.base}/v1/market/{instrument}/stream"

    def stop(self) -> float:
        """SIGTERM by PID; the seconds until the process was gone (or TimeoutExpired)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=SHUTDOWN_GRACE_S + 10)
        return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(market: Market, db_url: str, tmp_path: Path) -> Iterator[Server]:
    """`cets serve` on the market's database, polling every 50 ms."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CETS_DATABASE_URL"}
    env |= {
        "CETS_DATABASE_URL": db_url,
        POLL_ENV: "50",
        HEARTBEAT_ENV: str(int(HEARTBEAT_S * 1000)),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            # The market is made on a 2024 clock in this process while the server runs on the
            # real one, whose day closer would expire the orders at once.
            [str(CETS), "serve", "--port", str(port), "--no-close-days"],
            env=env,
            stdout=out,
            stderr=out,
        )
    running = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{running.base}/healthz", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "cets serve did not start within 30 s"
                time.sleep(0.1)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=SHUTDOWN_GRACE_S + 10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class Event:
    kind: str  # "depth", "trade", or "comment"
    id: int | None = None
    data: Any = None


class Events:
    """The events of an open stream, one at a time."""

    def __init__(self, answer: httpx.Response) -> None:
        self.lines = answer.iter_lines()

    def next(self) -> Event:
        fields: dict[str, str] = {}
        for line in self.lines:
            if line.startswith(":"):
                return Event("comment", data=line[1:].strip())
            if line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            elif fields:
                return Event(fields["event"], int(fields["id"]), json.loads(fields["data"]))
        raise EOFError("the stream ended")

    def next_event(self) -> Event:
        """The next event that is not a keep-alive."""
        while (got := self.next()).kind == "comment":
            assert got.data == "keep-alive"
        return got

    def until_keep_alive(self) -> list[Event]:
        """What comes before the next keep-alive, which comes after a silence."""
        got: list[Event] = []
        while (one := self.next()).kind != "comment":
            got.append(one)
        assert one.data == "keep-alive"
        return got


@contextmanager
def stream(url: str, last_event_id: int | None = None) -> Iterator[Events]:
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    with httpx.stream("GET", url, headers=headers, timeout=READ_TIMEOUT) as answer:
        assert answer.status_code == 200, answer.read()
        assert answer.headers["content-type"].startswith("text/event-stream")
        yield Events(answer)


def level(price: str, quantity: int) -> dict[str, Any]:
    return {"price": price, "quantity": quantity}


def test_a_stream_opens_with_the_depth_then_pushes_each_trade_and_each_change_of_the_depth(
    market: Market, server: Server
) -> None:
    market.place("S1", "E1", "sell", 100, 6000)
    with stream(server.stream_url()) as events:
        first = events.next()
        assert first.kind == "depth"
        assert first.data == httpx.get(f"{server.base}/v1/market/{CEA}/depth").json()
        assert (first.data["bids"], first.data["asks"]) == ([], [level("60.00", 100)])

        market.place("B1", "E2", "buy", 40, 6000)  # takes 40 t of S1
        trade, depth = events.next_event(), events.next_event()
        tape = httpx.get(f"{server.base}/v1/market/{CEA}/trades").json()["trades"]
        assert (trade.kind, trade.id, trade.data) == ("trade", market.ordinal("B1"), tape[0])
        assert (trade.data["price"], trade.data["quantity"]) == ("60.00", 40)
        assert (depth.kind, depth.id) == ("depth", trade.id)
        assert (depth.data["bids"], depth.data["asks"]) == ([], [level("60.00", 60)])
        assert events.until_keep_alive() == []  # nothing else: the depth is sent once

        market.place_in(OTHER, "S9", "E1", "sell", 10, 5000)
        market.place_in(OTHER, "B9", "E2", "buy", 10, 5000)
        assert events.until_keep_alive() == []  # another instrument's trade: its depth unchanged

        market.place("B2", "E2", "buy", 10, 5990)  # rests: the depth changes, no trade
        [changed] = events.until_keep_alive()
        assert (changed.kind, changed.id) == ("depth", trade.id)
        assert changed.data["bids"] == [level("59.90", 10)]
        assert changed.data["asks"] == [level("60.00", 60)]


def test_a_client_reconnecting_with_last_event_id_gets_the_trades_it_missed_and_nothing_else(
    market: Market, server: Server
) -> None:
    market.place("S1", "E1", "sell", 1000, 6000)
    market.place_in(OTHER, "S9", "E1", "sell", 1000, 5000)
    with stream(server.stream_url()) as events:
        assert events.next().kind == "depth"
        market.place("B1", "E2", "buy", 10, 6000)
        seen = events.next_event()
        assert (seen.kind, seen.data["quantity"]) == ("trade", 10)
    # Gone: two trades of CEA-2024 are made, with one of CEA-2023 between them.
    market.place("B2", "E2", "buy", 20, 6000)
    market.place_in(OTHER, "B9", "E2", "buy", 5, 5000)
    market.place("B3", "E2", "buy", 30, 6000)
    assert market.ordinal("B2") < market.ordinal("B9") < market.ordinal("B3")

    assert seen.id is not None
    with stream(server.stream_url(), last_event_id=seen.id) as events:
        first = events.next()
        assert (first.kind, first.id) == ("depth", seen.id)  # the missed trades are yet to come
        assert first.data["asks"] == [level("60.00", 940)]
        missed = events.until_keep_alive()
    assert [(e.kind, e.id, e.data["quantity"]) for e in missed] == [
        ("trade", market.ordinal("B2"), 20),
        ("trade", market.ordinal("B3"), 30),
    ]


def test_the_server_stops_promptly_with_a_client_still_connected(
    market: Market, server: Server
) -> None:
    with stream(server.stream_url()) as events:
        assert events.next().kind == "depth"
        took = server.stop()
        with pytest.raises((EOFError, httpx.RemoteProtocolError)):
            while True:  # the keep-alives sent meanwhile, then the end: cut, not left hanging
                events.next()
    assert took < SHUTDOWN_GRACE_S + 3
    assert "Cancel 1 running task(s)" in server.log.read_text()


def test_a_client_that_leaves_holds_nothing_up(market: Market, server: Server) -> None:
    with stream(server.stream_url()) as events:
        assert events.next().kind == "depth"
    time.sleep(0.5)  # ten polls: a stream still running would be found at the shutdown
    assert server.stop() < SHUTDOWN_GRACE_S
    log = server.log.read_text()
    assert "Waiting for connections" not in log and "Cancel" not in log, log


# -- in-process: the answers that are not a live stream ---------------------------------------


def trade_on(api: Api) -> Market:
    """S1 rests at 60.00 and B1 has taken 10 t of it: one trade."""
    market = open_market_on(api)
    market.place("S1", "E1", "sell", 100, 6000)
    market.place("B1", "E2", "buy", 10, 6000)
    return market


def open_market_on(api: Api) -> Market:
    reg = Registry(api.store, api.clock)
    assert reg.issue("issue", CEA, 10_000).ok
    assert reg.allocate("allocate", "E1", CEA, 5_000).ok
    assert reg.deposit("deposit-E2", "E2", 100_000_000).ok
    venue = Exchange(api.store, api.clock, Policy())
    assert venue.list_instrument(CEA, 6000, actor="setup").ok
    return Market(api.store, venue)


def parsed(body: str) -> list[Event]:
    events: list[Event] = []
    for block in body.split("\n\n"):
        if block:
            fields = dict(line.split(": ", 1) for line in block.split("\n"))
            events.append(Event(fields["event"], int(fields["id"]), json.loads(fields["data"])))
    return events


def test_once_sends_the_depth_and_the_missed_trades_then_ends(api: Api) -> None:
    market = trade_on(api)
    market.place("B2", "E2", "buy", 20, 6000)
    path = f"/v1/market/{CEA}/stream"

    fresh = api.client.get(path, params={"once": "true"})
    assert fresh.status_code == 200
    assert fresh.headers["content-type"].startswith("text/event-stream")
    [depth] = parsed(fresh.text)
    assert (depth.kind, depth.id) == ("depth", market.ordinal("B2"))
    assert depth.data == api.client.get(f"/v1/market/{CEA}/depth").json()

    since_b1 = market.ordinal("B1")
    resumed = api.client.get(
        path, params={"once": "true"}, headers={"Last-Event-ID": f"{since_b1}"}
    )
    assert [(e.kind, e.id) for e in parsed(resumed.text)] == [
        ("depth", since_b1),
        ("trade", market.ordinal("B2")),
    ]
    assert (
        parsed(resumed.text)[1].data
        == api.client.get(f"/v1/market/{CEA}/trades").json()["trades"][0]
    )


def test_the_stream_of_an_unknown_instrument_is_not_found_and_a_malformed_event_id_is_refused(
    api: Api,
) -> None:
    open_market_on(api)
    unknown = api.client.get("/v1/market/CEA-2031/stream", params={"once": "true"})
    assert (unknown.status_code, unknown.headers["content-type"]) == (
        404,
        "application/problem+json",
    )
    assert unknown.json()["code"] == "not_found"
    malformed = api.client.get(
        f"/v1/market/{CEA}/stream", params={"once": "true"}, headers={"Last-Event-ID": "-1"}
    )
    assert (malformed.status_code, malformed.json()["code"]) == (422, "invalid_field")


def test_a_stream_ends_by_itself_once_its_client_has_gone(api: Api) -> None:
    """Under an ASGI 2.4 server the framework no longer watches for the client leaving (uvicorn
    0.54 speaks 2.3, where it does): the stream's own check must end it, or it polls forever."""
    open_market_on(api)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if any(m["type"] == "http.response.body" for m in sent):
            return {"type": "http.disconnect"}  # gone once it has had the first event
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/v1/market/{CEA}/stream",
        "raw_path": f"/v1/market/{CEA}/stream".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def call() -> None:
        # A bound so that a stream which never ends fails the test instead of hanging it; wide,
        # because a loaded CI machine once took over 5 s to reach the route (it ends in ms).
        with anyio.fail_after(60):
            await api.client.app(scope, receive, send)  # type: ignore[attr-defined]

    anyio.run(call)
    bodies = [m["body"] for m in sent if m["type"] == "http.response.body"]
    assert sent[0]["status"] == 200
    assert bodies[0].startswith(b"event: depth\n") and bodies[-1] == b""
