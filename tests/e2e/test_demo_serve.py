"""`make run`'s path from outside, as a user runs it: `cets sim year` builds a (small) demo,
`cets sim logins` prints a key per demo login, and `cets serve --demo` serves the dashboard with
the demo's clock (open for trading whatever the machine's hour) while the live traders trade, and
closes and settles the demo's day at its 15:00 (the clock runs fast here).
The server is a child process on 127.0.0.1, stopped by its PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CETS = Path(sys.executable).with_name("cets")
SMALL = ("--investors", "5", "--quiet")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.slow
def test_a_small_demo_serves_a_living_market_under_the_demo_clock(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/demo.db"
    built = subprocess.run(
        [str(CETS), "sim", "year", "--db", db, "--days", "3", "--emitters", "20", *SMALL],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logins = subprocess.run(
        [str(CETS), "sim", "logins", "--db", db, "--url", f"{url}/"],
        capture_output=True,
        text=True,
        check=True,
    )
    keys = {
        line.split()[0]: line.split()[-1]
        for line in logins.stdout.splitlines()
        if line.strip().split()[-1:] and line.split()[-1].startswith("cets_")
    }
    assert set(keys) == {"admin", "registry", "exchange", "sup", "emitter", "investor"}

    server = subprocess.Popen(
        # 600 times real time: the demo's trading day passes in about 25 s.
        [str(CETS), "serve", "--demo", "--demo-speed", "600", "--port", str(port), "--db", db],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                clock = httpx.get(f"{url}/v1/market/clock", timeout=2).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the demo server did not answer"
                time.sleep(0.3)
        assert clock["demo"] is True and clock["session"] == "open"
        assert clock["trading_day"] > "2025-12-31"  # after the simulated year

        me = httpx.get(f"{url}/v1/me", headers={"X-API-Key": keys["emitter"]}).json()
        assert (me["role"], me["holder"]) == ("key_emitter", "KE001")
        page = httpx.get(f"{url}/", follow_redirects=True)  # the dashboard, through /ui/
        assert page.status_code == 200 and '<nav id="nav">' in page.text

        # The live traders trade on the demo's day (they act every 2 s).
        day = clock["trading_day"]
        instruments = httpx.get(f"{url}/v1/market/instruments").json()["instruments"]
        listed = [i["symbol"] for i in instruments if i["listed"]]
        live: list[dict[str, object]] = []
        while not live:
            assert time.monotonic() < deadline + 60, "no live trade within a minute"
            time.sleep(1)
            for symbol in listed:
                trades = httpx.get(f"{url}/v1/market/{symbol}/trades", params={"limit": 5})
                live += [x for x in trades.json()["trades"] if str(x["at"]).startswith(day)]

        # At 15:00 of the demo's clock the day closer closes and settles the demo's day.
        admin = {"X-API-Key": keys["admin"]}
        while True:
            assert time.monotonic() < deadline + 180, "the demo's day was not closed"
            runs = httpx.get(f"{url}/v1/settlement/runs", params={"day": day}, headers=admin)
            if [r["status"] for r in runs.json()] == ["delivered"]:
                break
            time.sleep(1)
        after = httpx.get(f"{url}/v1/market/clock").json()
        assert after["trading_day"] > day  # and the clock went on to the next trading day
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
