"""`cets settlement ...` end to end: the installed `cets` console script as subprocesses on a real
SQLite file, acting as registered people (`--as`) at set local times (`--at`).

One database is prepared once (holders and people straight through the services, then a trading
day through `cets market`: two trades with fees of 3 bp (buyer) and 5 bp (seller), at least 1.00,
and the day's end, which delivers run R2024-03-04) and copied for each test.

T1: E2 buys 300 t from E1 at 60.07 = 18,021.00; the buyer's fee 5.4063 -> 5.41, the seller's
9.0105 -> 9.01. T2: E3 buys 10 t from E1 at 60.07 = 600.70; both fees are the 1.00 minimum."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from cets.adapters.sql.store import SqlStore
from cets.domain.registry.access import Person, Role
from cets.domain.registry.holders import Holder
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.people import People
from cets.service.registry import Registry
from cli_support import cets, ok, refused

CEA = "CEA-2023"
RUN = "R2024-03-04"
MORNING = ("--at", "2024-03-04T10:00:00")
CLOSE = ("--at", "2024-03-04T15:05:00")
EVENING = ("--at", "2024-03-04T16:00:00")
NEXT_OPEN = ("--at", "2024-03-05T09:30:00")
FEES = "fees_bps: {buyer: 3, seller: 5, min_fee_fen: 100}\n"
RUN_CSV = (
    "account,asset,units_in,units_out,funds_in,funds_out,fees,funds_net,trades\n"
    "E1,CEA-2023,0,310,18621.70,0.00,10.01,18611.69,2\n"
    "E2,CEA-2023,300,0,0.00,18021.00,5.41,-18026.41,1\n"
    "E3,CEA-2023,10,0,0.00,600.70,1.00,-601.70,1\n"
)


def as_json(*args: str, db: str) -> Any:
    return json.loads(ok(*args, "--json", db=db))


def account(holder: str, db: str) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(ok("account", "show", holder, "--json", db=db))
    return shown


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """E1 held 300,000 t, E2 20,000,000.00 yuan, E3 100,000.00, I1 (an individual) nothing;
    then T1 and T2 (see the module doc) and the day's end. People: exch1, reg1, reg2, op1, op2,
    op3 (operators of E1, E2, E3) and i1op (of I1)."""
    folder = tmp_path_factory.mktemp("settlement")
    path = folder / "cets.db"
    db = f"sqlite:///{path}"
    ok("init", db=db)
    (folder / "fees.yaml").write_text(FEES)
    store = SqlStore.open(db)
    clock = SettableClock(datetime(2024, 3, 4, 9, tzinfo=SHANGHAI))
    reg = Registry(store, clock)
    people = People(store, clock)
    for holder, kind in (("E1", "key_emitter"), ("E2", "key_emitter"), ("E3", "key_emitter")):
        assert reg.open_holder(Holder(holder, kind, holder), actor="setup").ok
        people.add(Person(f"op{holder[1]}", holder, Role.key_emitter, holder), actor="setup")
    assert reg.open_holder(Holder("I1", "individual", "Zhang San"), actor="setup").ok
    for person in (
        Person("i1op", "I1 operator", Role.investor, "I1"),
        Person("exch1", "Exchange", Role.exchange_operator),
        Person("reg1", "Registry", Role.registry_operator),
        Person("reg2", "Registry 2", Role.registry_operator),
    ):
        people.add(person, actor="setup")
    assert reg.issue("iss", CEA, 1_000_000).ok
    assert reg.allocate("a1", "E1", CEA, 300_000).ok
    assert reg.deposit("d2", "E2", 2_000_000_000).ok
    assert reg.deposit("d3", "E3", 10_000_000).ok
    store.close()
    fees = ("--config", str(folder / "fees.yaml"))
    ok("market", "list-instrument", CEA, "--prev-close", "60.00", "--as", "exch1", db=db)
    for order in (
        ("S1", "E1", "sell", "300", "60.07", "op1"),
        ("B1", "E2", "buy", "300", "61.00", "op2"),
        ("S2", "E1", "sell", "10", "60.07", "op1"),
        ("B2", "E3", "buy", "10", "60.07", "op3"),
    ):
        order_id, holder, side, quantity, price, person = order
        ok("market", "order", order_id, holder, CEA, side, quantity, price, "--as", person,
           *fees, *MORNING, db=db)  # fmt: skip
    ok("market", "end-of-day", "--as", "exch1", *fees, *CLOSE, db=db)
    return path


@pytest.fixture
def db(prepared: Path, tmp_path: Path) -> str:
    for name in ("cets.db", "cets.db-wal", "cets.db-shm", "fees.yaml"):
        source = prepared.with_name(name)
        if source.exists():
            shutil.copy(source, tmp_path / name)
    return f"sqlite:///{tmp_path}/cets.db"


def config(db: str, name: str, text: str) -> tuple[str, str]:
    """`--config FILE`: the fees and `text`, in FILE `name` beside the database."""
    path = Path(db.removeprefix("sqlite:///")).with_name(name)
    path.write_text(FEES + text)
    return ("--config", str(path))


def test_a_delivered_day_is_listed_shown_and_reported_to_the_fen(db: str, tmp_path: Path) -> None:
    runs = as_json("settlement", "runs", "--as", "reg1", db=db)
    assert [(r["id"], r["kind"], r["status"], r["trades"]) for r in runs] == [
        (RUN, "daily", "delivered", 2)
    ]
    assert as_json("settlement", "runs", "--status", "prepared", "--as", "reg1", db=db) == []
    shown = as_json("settlement", "show", RUN, "--as", "exch1", db=db)
    assert shown["totals"] == {
        "trades": 2,
        "units": 310,
        "value": "18621.70",
        "fees": "16.42",
        "accounts": 3,
    }
    assert (shown["breaks"], shown["objections"]) == ([], [])
    assert shown["run"]["confirmed_by"] == "exch1"  # the system confirmed it at the day's end
    table = ok("settlement", "show", RUN, "--as", "reg1", db=db)
    assert "run R2024-03-04 (daily) delivered: 2 trades, 310 t, value 18621.70" in table
    assert "18611.69" in table and "-18026.41" in table and "no break" in table
    assert ok("settlement", "breaks", RUN, "--as", "reg1", db=db).strip() == (
        "reconciliation: no breaks"
    )
    assert ok("settlement", "report", RUN, "--format", "csv", "--as", "reg1", db=db) == RUN_CSV
    mine = ok(
        "settlement", "report", RUN, "--account", "E2", "--format", "csv", "--as", "op2", db=db
    )
    assert mine == (
        "trade,instrument,side,price,quantity,value,fee,settled\n"
        "T1,CEA-2023,buy,60.07,300,18021.00,5.41,True\n"
    )
    as_report = json.loads(
        ok("settlement", "report", RUN, "--format", "json", "--as", "reg1", db=db)
    )
    assert as_report == shown
    book = tmp_path / "run.xlsx"
    ok("settlement", "report", RUN, "--format", "xlsx", "--out", str(book), "--as", "reg1", db=db)
    sheet = load_workbook(book)["Accounts"]
    header = [c.value for c in sheet[1]]
    e1 = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == "E1")
    net = e1[header.index("funds_net")]
    assert (Decimal(str(net.value)), net.number_format) == (Decimal("18611.69"), "#,##0.00")
    assert account("E2", db)["funds"]["total"] == "19981973.59"  # 20,000,000.00 - 18,026.41


def test_an_objection_is_answered_by_a_correction_that_reverses_the_trade(db: str) -> None:
    objection = ("settlement", "object", RUN, "--text", "bought 300 t instead of 30 t")
    said = ok(*objection, "--account", "E2", "--trade", "T1", "--id", "OB1", "--as", "op2",
              *EVENING, db=db)  # fmt: skip
    assert "objection OB1 to run R2024-03-04 recorded" in said
    stranger = refused(*objection, "--account", "I1", "--id", "OB2", "--as", "i1op", *EVENING,
                       db=db)  # fmt: skip
    assert "not_a_party_to_run (field account)" in stranger
    late = refused(*objection, "--account", "E2", "--id", "OB3", "--as", "op2", *NEXT_OPEN,
                   db=db)  # fmt: skip
    assert "objection_window_closed (field run)" in late
    correction = ("settlement", "correct", "--corrects", RUN, "--as", "reg1", *EVENING)
    prepared = ok(*correction, "C1", "--reverse", "T1", "--objection", "OB1", "--reason",
                  "agreed cancellation", db=db)  # fmt: skip
    assert "correction run C1 of R2024-03-04 prepared" in prepared
    waiting = as_json("settlement", "runs", "--status", "prepared", "--as", "reg1", db=db)
    assert [(r["id"], r["kind"], r["corrects"]) for r in waiting] == [("C1", "correction", RUN)]
    assert "run C1 delivered" in ok(
        "settlement", "confirm", "C1", "--id", "K1", "--as", "reg1", *EVENING, db=db
    )
    original = as_json("settlement", "show", RUN, "--as", "reg1", db=db)
    assert original["run"]["status"] == "delivered" and original["totals"]["trades"] == 2
    assert [(o["id"], o["trade"], o["resolution"]) for o in original["objections"]] == [
        ("OB1", "T1", "C1")
    ]
    e1, e2 = account("E1", db), account("E2", db)
    assert (e2["holdings"].get(CEA, {}).get("total", 0), e2["funds"]["total"]) == (
        0,
        "20000000.00",
    )
    # E1 keeps T2's proceeds only: 600.70 less its 1.00 fee; its 10 t sold stay sold.
    assert (e1["holdings"][CEA]["total"], e1["funds"]["total"]) == (299_990, "599.70")
    refund = '[{"from": "fees", "to": "E3", "amount": "1.00", "trade": "T2"}]'
    ok(*correction, "C2", "--legs", refund, "--reason", "fee waived", db=db)
    ok("settlement", "confirm", "C2", "--id", "K2", "--as", "reg1", *EVENING, db=db)
    assert account("E3", db)["funds"]["total"] == "99399.30"  # 100,000.00 - 601.70 + 1.00
    ok("audit", "verify", db=db)


def next_day_left_prepared(db: str, policy: tuple[str, str]) -> None:
    """E3 buys 5 t more from E1 at 60.00 on 2024-03-05, and the day ends under `policy`."""
    for order in (("S3", "E1", "sell", "op1"), ("B3", "E3", "buy", "op3")):
        order_id, holder, side, person = order
        ok("market", "order", order_id, holder, CEA, side, "5", "60.00", "--as", person, *policy,
           "--at", "2024-03-05T10:00:00", db=db)  # fmt: skip
    ok("market", "end-of-day", "--as", "exch1", *policy, "--at", "2024-03-05T15:05:00", db=db)


def test_a_run_left_prepared_waits_for_a_person_and_four_eyes_parks_the_confirmation(
    db: str,
) -> None:
    by_hand = config(db, "by_hand.yaml", "settlement_auto_confirm: false\n")
    next_day_left_prepared(db, by_hand)
    day = "R2024-03-05"
    assert [r["status"] for r in as_json("settlement", "runs", "--day", "2024-03-05", db=db)] == [
        "prepared"
    ]
    early = refused("settlement", "deliver", day, "--as", "reg1", db=db)
    assert "run_state_does_not_allow (field run)" in early
    four_eyes = config(db, "four_eyes.yaml", "four_eyes: true\n")
    parked = ok("settlement", "confirm", day, "--id", "K1", "--as", "reg1", *four_eyes, db=db)
    assert "waits for a second person's approval" in parked and "K1" in parked
    assert as_json("settlement", "show", day, db=db)["run"]["status"] == "prepared"
    assert "run R2024-03-05 delivered" in ok(
        "settlement", "confirm", day, "--id", "K2", "--as", "reg2", *by_hand, db=db
    )
    again = ok("settlement", "deliver", day, "--as", "reg1", db=db)
    assert again.strip() == "run R2024-03-05 delivered"  # nothing written: no journal entry
    assert account("E3", db)["holdings"][CEA]["total"] == 15


def test_a_parked_confirmation_is_approved_by_a_second_registry_operator(db: str) -> None:
    by_hand = config(db, "both.yaml", "settlement_auto_confirm: false\nfour_eyes: true\n")
    next_day_left_prepared(db, by_hand)
    ok("settlement", "confirm", "R2024-03-05", "--id", "K1", "--as", "reg1", *by_hand, db=db)
    approved = cets("approvals", "approve", "K1", "--as", "reg2", *by_hand, db=db)
    assert "needs the gate's venue" not in approved.stderr
    assert approved.returncode == 0, approved.stderr
    assert as_json("settlement", "show", "R2024-03-05", db=db)["run"]["status"] == "delivered"


def test_refusals_exit_1_with_their_code_and_bad_input_exits_2_naming_the_option(db: str) -> None:
    before = {h: account(h, db) for h in ("E1", "E2", "E3")}
    for args in (
        ("show", "R9"),
        ("breaks", "R9"),
        ("report", "R9", "--format", "csv"),
        ("confirm", "R9", "--id", "K9"),
        ("deliver", "R9"),
    ):
        said = refused("settlement", *args, "--as", "reg1", db=db)
        assert "unknown_run (field run): no settlement run 'R9'" in said, args
    fix = ("correct", "C9", "--reason", "x", "--as", "reg1", *EVENING)
    wrong = refused("settlement", *fix, "--corrects", "R9", "--reverse", "T1", db=db)
    assert "unknown_run (field corrects)" in wrong
    nothing = refused("settlement", *fix, "--corrects", RUN, "--reverse", "T9", db=db)
    assert "unknown_reference (field reverse)" in nothing
    fix = (*fix, "--corrects", RUN)
    zero = '[{"from": "E1", "to": "E2", "asset": "CEA-2023", "quantity": 0}]'
    for bad, says in (
        (("runs", "--day", "2024-3-4"), "--day"),
        (("runs", "--status", "settled"), "--status"),
        (("report", RUN, "--format", "xlsx"), "--out"),
        (("report", RUN, "--format", "pdf"), "--format"),
        (fix, "--reverse"),
        ((*fix, "--reverse", "T1", "--legs", "[]"), "--reverse"),
        ((*fix, "--legs", "{"), "--legs"),
        ((*fix, "--legs", zero), "--legs"),
        (("confirm", RUN), "--id"),
        (("show", RUN, "--as", "nobody"), "nobody"),
    ):
        said = refused("settlement", *bad, db=db, exit_code=2)
        assert says in said, (bad, said)
    for person, args in (
        ("op1", ("confirm", RUN, "--id", "K9")),
        ("op1", ("show", RUN)),
        ("op2", ("report", RUN, "--account", "E1", "--format", "csv")),
        ("op2", ("object", RUN, "--account", "E1", "--text", "x", "--id", "OB9")),
        ("exch1", ("deliver", RUN)),
    ):
        said = refused("settlement", *args, "--as", person, db=db)
        assert said.startswith("not_authorized"), (person, args, said)
    assert {h: account(h, db) for h in ("E1", "E2", "E3")} == before
