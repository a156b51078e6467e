"""The operators' console end to end: `cets init`, `person`, `key`, `account`, `registry`,
`approvals` and `serve`, as subprocesses on a real database file."""

from __future__ import annotations

import json
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


def cets(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "CETS_DATABASE_URL")}
    return subprocess.run(
        [str(CETS), *args],
        capture_output=True,
        text=True,
        env={**base, "CETS_DATABASE_URL": db},
        timeout=120,
        check=False,
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cets.db"


def test_init_prints_the_first_authority_key_once_and_it_authenticates(db: str) -> None:
    first = cets("init", db=db)
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip().splitlines()[-1]
    assert token.startswith("cets_")
    again = cets("init", db=db)
    assert again.returncode == 0
    assert "cets_" not in again.stdout  # the key is shown once
    listed = cets("key", "list", "admin", db=db)
    assert token.split("_")[1] in listed.stdout  # the key id, never the secret
    assert token.split("_", 2)[2] not in listed.stdout


def test_registry_commands_move_units_and_refusals_exit_1_bad_input_exit_2(db: str) -> None:
    assert cets("init", db=db).returncode == 0
    added = cets("person", "add", "reg1", "--name", "Reg", "--role", "registry_operator", db=db)
    assert added.returncode == 0, added.stderr
    for holder in ("E1", "E2"):
        opened = cets(
            "account",
            "open",
            holder,
            "--kind",
            "key_emitter",
            "--name",
            holder,
            "--as",
            "reg1",
            db=db,
        )
        assert opened.returncode == 0, opened.stderr
    assert (
        cets("registry", "issue", "asset=CEA-2023", "quantity=1000", "--id", "i1", db=db).returncode
        == 0
    )
    ok = cets(
        "registry", "allocate", "to=E1", "asset=CEA-2023", "quantity=600", "--id", "a1", db=db
    )
    assert ok.returncode == 0 and "accepted a1" in ok.stdout
    replay = cets(
        "registry", "allocate", "to=E1", "asset=CEA-2023", "quantity=600", "--id", "a1", db=db
    )
    assert replay.returncode == 0 and "replayed" in replay.stdout
    short = cets("registry", "allocate", "to=E2", "asset=CEA-2023", "quantity=600", db=db)
    assert short.returncode == 1 and "insufficient_units" in short.stderr
    wrong_role = cets(
        "registry", "allocate", "to=E2", "asset=CEA-2023", "quantity=1", "--as", "reg1", db=db
    )
    assert wrong_role.returncode == 1 and "not_authorized" in wrong_role.stderr
    bad = cets("registry", "allocate", "to=E2", "asset=CEA-2023", "quantity=1.5", db=db)
    assert bad.returncode == 2 and "quantity" in bad.stderr
    shown = cets("account", "show", "E1", "--json", db=db)
    assert json.loads(shown.stdout)["holdings"]["CEA-2023"]["total"] == 600
    assert cets("audit", "verify", db=db).returncode == 0


def test_approvals_need_a_second_person_from_the_console(db: str, tmp_path: Path) -> None:
    assert cets("init", db=db).returncode == 0
    assert (
        cets("person", "add", "auth2", "--name", "Second", "--role", "authority", db=db).returncode
        == 0
    )
    config = tmp_path / "policy.yaml"
    config.write_text("four_eyes: true\n")
    parked = cets(
        "registry",
        "issue",
        "asset=CEA-2023",
        "quantity=5",
        "--id",
        "i9",
        "--config",
        str(config),
        db=db,
    )
    assert parked.returncode == 0 and "pending approval: i9" in parked.stdout
    self_approval = cets("approvals", "approve", "i9", "--config", str(config), db=db)
    assert self_approval.returncode == 1 and "not_authorized" in self_approval.stderr
    approved = cets("approvals", "approve", "i9", "--as", "auth2", "--config", str(config), db=db)
    assert approved.returncode == 0 and "accepted i9" in approved.stdout
    listed = cets("approvals", "list", "--state", "approved", db=db)
    assert "auth2" in listed.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_healthz_and_authenticated_routes_then_stops_by_pid(db: str) -> None:
    token = cets("init", db=db).stdout.strip().splitlines()[-1]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CETS_DATABASE_URL"}
    server = subprocess.Popen(
        [str(CETS), "serve", "--port", str(port)],
        env={**env, "CETS_DATABASE_URL": db},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "cets serve did not start within 30 s"
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        assert httpx.get(f"{base}/v1/me").status_code == 401
        me = httpx.get(f"{base}/v1/me", headers={"X-API-Key": token})
        assert me.json()["role"] == "authority"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


def test_serve_refuses_a_database_never_initialised(tmp_path: Path) -> None:
    proc = cets("serve", db=f"sqlite:///{tmp_path}/none.db")
    assert proc.returncode == 2 and "cets init" in proc.stderr
