"""The trading console end to end: `cets market ...` as subprocesses on a real SQLite file, acting
as registered people (`--as`), at a set local time (`--at`), with tables by default and `--json`.

One database is prepared once through the console itself (`cets init`, `person add`, `account
open`, `registry issue/allocate/deposit`, `market list-instrument`) and copied for each test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CETS = Path(sys.executable).with_name("cets")
CEA = "CEA-2023"
MORNING = ("--at", "2024-03-04T10:00:00")
AFTERNOON = ("--at", "2024-03-04T13:30:00")
AFTER_CLOSE = ("--at", "2024-03-04T15:30:00")


def cets(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("COLUMNS", "CETS_DATABASE_URL", "CETS_PERSON")
    }
    return subprocess.run(
        [str(CETS), *args],
        capture_output=True,
        text=True,
        env={**base, "CETS_DATABASE_URL": db},
        timeout=120,
        check=False,
    )


def ok(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    done = cets(*args, db=db)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def as_json(*args: str, db: str) -> Any:
    return json.loads(ok(*args, "--json", db=db).stdout)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """E1 holds 300,000 t of CEA-2023; E2 has 20,000,000.00 yuan, E3 100,000.00; CEA-2023 is
    listed at 60.00. People: exch1 (exchange operator), reg1, bank1, and one operator each of
    E1, E2, E3 (op1, op2, op3)."""
    path = tmp_path_factory.mktemp("market") / "cets.db"
    db = f"sqlite:///{path}"
    ok("init", db=db)
    for person, role in (
        ("exch1", "exchange_operator"),
        ("reg1", "registry_operator"),
        ("bank1", "settlement_bank"),
    ):
        ok("person", "add", person, "--name", person, "--role", role, db=db)
    for n in ("1", "2", "3"):
        holder = f"E{n}"
        ok(
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
        ok(
            "person",
            "add",
            f"op{n}",
            "--name",
            f"op{n}",
            "--role",
            "key_emitter",
            "--holder",
            holder,
            db=db,
        )
    ok("registry", "issue", "asset=CEA-2023", "quantity=1000000", db=db)
    ok("registry", "allocate", "to=E1", "asset=CEA-2023", "quantity=300000", db=db)
    ok("registry", "deposit", "account=E2", "amount=20000000.00", "--as", "bank1", db=db)
    ok("registry", "deposit", "account=E3", "amount=100000.00", "--as", "bank1", db=db)
    ok("market", "list-instrument", CEA, "--prev-close", "60.00", "--as", "exch1", db=db)
    return path


@pytest.fixture
def db(prepared: Path, tmp_path: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{prepared}{suffix}")
        if source.exists():
            shutil.copy(source, tmp_path / f"cets.db{suffix}")
    return f"sqlite:///{tmp_path}/cets.db"


def test_listed_orders_match_and_depth_tape_orders_and_klines_show_it(db: str) -> None:
    sold = as_json(
        "market", "order", "S1", "E1", CEA, "sell", "300", "60.00", "--as", "op1", *MORNING, db=db
    )
    assert (sold["status"], sold["remaining"]) == ("open", 300)
    bought = as_json(
        "market", "order", "B1", "E2", CEA, "buy", "100", "61.00", "--as", "op2", *MORNING, db=db
    )
    assert (bought["status"], bought["filled"], bought["price"]) == ("filled", 100, "61.00")
    depth = as_json("market", "depth", CEA, db=db)
    assert (depth["bids"], depth["asks"]) == ([], [{"price": "60.00", "quantity": 200}])
    picked = as_json("market", "pick", "P1", "E2", "S1", "50", "--as", "op2", *MORNING, db=db)
    assert (picked["filled"], picked["price"]) == (50, "60.00")
    tape = as_json("market", "trades", CEA, db=db)["trades"]
    assert [(t["id"], t["price"], t["quantity"], t["mode"]) for t in tape] == [
        ("T2", "60.00", 50, "listed"),
        ("T1", "60.00", 100, "listed"),
    ]
    cancelled = as_json("market", "cancel", "S1", "--as", "op1", *MORNING, db=db)
    assert (cancelled["status"], cancelled["filled"], cancelled["remaining"]) == (
        "cancelled",
        150,
        0,
    )
    mine = as_json("market", "orders", "E1", "--as", "op1", db=db)
    assert [(o["id"], o["status"]) for o in mine["orders"]] == [("S1", "cancelled")]
    ok("market", "end-of-day", "--as", "exch1", *AFTER_CLOSE, db=db)
    bars = as_json(
        "market",
        "klines",
        CEA,
        "--interval",
        "1d",
        "--start",
        "2024-03-04",
        "--end",
        "2024-03-04",
        db=db,
    )
    assert bars["bars"] == [
        {"time": "2024-03-04", "open": "60.00", "high": "60.00", "low": "60.00", "close": "60.00"}
        | {"volume": 150, "amount": "9000.00"}
    ]
    shown = json.loads(ok("account", "show", "E2", "--json", db=db).stdout)
    assert shown["holdings"][CEA]["total"] == 150
    table = ok("market", "orders", "E2", "--as", "op2", db=db).stdout
    assert "B1" in table and "P1" in table and "filled" in table and "61.00" in table
    assert ok("audit", "verify", db=db).returncode == 0


def test_a_block_negotiation_from_inquiry_to_settlement(db: str) -> None:
    asked = as_json(
        "market",
        "block-inquiry",
        "Q1",
        "E2",
        CEA,
        "buy",
        "200000",
        "--price",
        "65.00",
        "--as",
        "op2",
        *AFTERNOON,
        db=db,
    )
    assert (asked["status"], asked["price"], asked["to"]) == ("open", "65.00", None)
    offered = as_json(
        "market",
        "block-counter",
        "C1",
        "E1",
        "Q1",
        "200000",
        "68.00",
        "--as",
        "op1",
        *AFTERNOON,
        db=db,
    )
    assert (offered["side"], offered["to"], offered["reply_to"]) == ("sell", "E2", "Q1")
    countered = as_json(
        "market",
        "block-counter",
        "C2",
        "E2",
        "C1",
        "200000",
        "66.00",
        "--as",
        "op2",
        *AFTERNOON,
        db=db,
    )
    assert (countered["side"], countered["to"]) == ("buy", "E1")
    intruder = cets("market", "block-accept", "A1", "E3", "C2", "--as", "op3", *AFTERNOON, db=db)
    assert intruder.returncode == 1
    assert "quote_not_addressed_to_account (field account)" in intruder.stderr
    deal = as_json("market", "block-accept", "A2", "E1", "C2", "--as", "op1", *AFTERNOON, db=db)
    assert (deal["status"], deal["filled"], deal["price"]) == ("filled", 200000, "66.00")
    thread = as_json("market", "thread", "Q1", "--as", "op2", db=db)
    assert thread["inquiry"]["id"] == "Q1"
    assert [(o["id"], o["status"], o["reason"]) for o in thread["offers"]] == [
        ("C1", "cancelled", "taken_up_by_the_accepted_reply"),
        ("C2", "filled", None),
    ]
    hidden = cets("market", "thread", "C2", "--as", "op3", db=db)
    assert hidden.returncode == 1 and "unknown_order" in hidden.stderr
    ok("market", "end-of-day", "--as", "exch1", *AFTER_CLOSE, db=db)
    e2 = json.loads(ok("account", "show", "E2", "--json", db=db).stdout)
    assert e2["holdings"][CEA]["total"] == 200000
    assert e2["funds"]["total"] == "6800000.00"
    inquiries = as_json("market", "orders", "E2", "--as", "op2", db=db)["inquiries"]
    assert [(i["id"], i["status"]) for i in inquiries] == [("Q1", "expired")]
    assert ok("audit", "verify", db=db).returncode == 0


def test_an_inquiry_is_withdrawn_with_cancel_and_an_addressed_quote_shows_its_addressee(
    db: str,
) -> None:
    ok(
        "market",
        "block-inquiry",
        "Q1",
        "E2",
        CEA,
        "buy",
        "100000",
        "--to",
        "E1",
        "--as",
        "op2",
        *AFTERNOON,
        db=db,
    )
    withdrawn = as_json("market", "cancel", "Q1", "--as", "op2", *AFTERNOON, db=db)
    assert withdrawn["status"] == "cancelled"
    again = cets("market", "cancel", "Q1", "--as", "op2", *AFTERNOON, db=db)
    assert again.returncode == 1 and "unknown_order (field id)" in again.stderr
    quoted = as_json(
        "market",
        "block-quote",
        "K1",
        "E1",
        CEA,
        "sell",
        "100000",
        "70.00",
        "--to",
        "E2",
        "--as",
        "op1",
        *AFTERNOON,
        db=db,
    )
    assert (quoted["mode"], quoted["to"], quoted["status"]) == ("block", "E2", "open")


def test_refusals_exit_1_with_code_field_and_message_and_bad_input_exits_2(db: str) -> None:
    band = cets(
        "market", "order", "S1", "E1", CEA, "sell", "100", "70.00", "--as", "op1", *MORNING, db=db
    )
    assert band.returncode == 1
    assert "price_outside_band (field price): price 70.00 outside the band" in band.stderr
    rejected = as_json("market", "orders", "E1", "--as", "op1", db=db)["orders"]
    assert [(o["id"], o["status"], o["reason"]) for o in rejected] == [
        ("S1", "rejected", "price_outside_band")
    ]
    other = cets(
        "market", "order", "S2", "E1", CEA, "sell", "100", "60.00", "--as", "op2", *MORNING, db=db
    )
    assert other.returncode == 1 and "not_authorized (field account)" in other.stderr
    early = cets(
        "market",
        "block-quote",
        "K1",
        "E1",
        CEA,
        "sell",
        "100000",
        "60.00",
        "--as",
        "op1",
        *MORNING,
        db=db,
    )
    assert early.returncode == 1 and "outside_trading_session" in early.stderr
    small = cets(
        "market",
        "block-counter",
        "C1",
        "E2",
        "K9",
        "100000",
        "60.00",
        "--as",
        "op2",
        *AFTERNOON,
        db=db,
    )
    assert small.returncode == 1 and "unknown_order (field reply_to)" in small.stderr
    recorded = as_json("market", "orders", "E1", "--as", "op1", db=db)["orders"]
    assert [o["id"] for o in recorded] == ["S1", "K1"]  # refused orders are kept as rejected
    for bad, says in (
        (("market", "order", "S3", "E1", CEA, "sell", "100", "60.001", "--as", "op1"), "price"),
        (
            ("market", "order", "S3", "E1", "cea", "sell", "100", "60.00", "--as", "op1"),
            "instrument",
        ),
        (("market", "order", "S3", "E1", CEA, "hold", "100", "60.00", "--as", "op1"), "side"),
        (("market", "order", "S3", "E1", CEA, "sell", "100", "60.00", "--as", "nobody"), "nobody"),
        (("market", "order", "S3", "E1", CEA, "sell", "100", "60.00", "--at", "10am"), "--at"),
        (("market", "halt", "--as", "exch1"), "--market"),
    ):
        done = cets(*bad, db=db)
        assert done.returncode == 2, (bad, done.stderr)
        assert says in done.stderr, (bad, done.stderr)
    assert as_json("market", "orders", "E1", "--as", "op1", db=db)["orders"] == recorded


def test_halts_of_an_instrument_and_of_the_market_stop_orders_until_resumed(db: str) -> None:
    order = ("market", "order", "S1", "E1", CEA, "sell", "100", "60.00", "--as", "op1", *MORNING)
    not_theirs = cets("market", "halt", CEA, "--as", "op1", db=db)
    assert not_theirs.returncode == 1 and "not_authorized" in not_theirs.stderr
    ok("market", "halt", CEA, "--as", "exch1", db=db)
    halted = cets(*order, db=db)
    assert halted.returncode == 1 and "instrument_halted" in halted.stderr
    ok("market", "resume", CEA, "--as", "exch1", db=db)
    ok("market", "halt", "--market", "--as", "exch1", db=db)
    again = cets(*order[:2], "S2", *order[3:], db=db)
    assert again.returncode == 1 and "instrument_halted" in again.stderr
    ok("market", "resume", "--market", "--as", "exch1", db=db)
    assert as_json(*order[:2], "S3", *order[3:], db=db)["status"] == "open"
