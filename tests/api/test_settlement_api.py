"""Settlement runs over HTTP (`/v1/settlement`): the runs and their reports (JSON, CSV, XLSX) exact
to the fen, an account's report for its own operators only, confirmation of a run left prepared
(at once, or under four-eyes after a second registry operator approves), objections within the
window by parties only, corrections (a trade reversed, then confirmed and delivered), and every
refusal as problem+json with its stable code and field, moving nothing.

The day (arranged straight through the services, as `test_reject_codes` does), on Monday
2026-03-02 with fees of 3 bp (buyer) and 5 bp (seller), at least 1.00:
T1: E2 buys 300 t from E1 at 60.07 = 18,021.00; the buyer's fee 5.4063 -> 5.41, the seller's
9.0105 -> 9.01. T2: I1 buys 10 t from E1 at 60.07 = 600.70; both fees are the 1.00 minimum.
Objections to the day's run are taken until Tuesday 09:30."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from cets.domain.policy import FeeSchedule, Policy
from cets.domain.registry.access import Person, Role
from cets.domain.registry.bank_files import parse_statement
from cets.domain.registry.holders import Holder
from cets.service.clock import SHANGHAI
from cets.service.exchange import Exchange
from cets.service.funds import Funds
from cets.service.people import People
from cets.service.registry import Registry
from conftest import Api

CEA = "CEA-2024"
RUN = "R2026-03-02"
RUNS = "/v1/settlement/runs"
CORRECTIONS = "/v1/settlement/corrections"
PROBLEM_JSON = "application/problem+json"
FEES = FeeSchedule(buyer_bps=3, seller_bps=5, min_fee_fen=100)
LINES = [
    {"account": "E1", "asset": CEA, "units_in": 0, "units_out": 310, "funds_in": "18621.70"}
    | {"funds_out": "0.00", "fees": "10.01", "funds_net": "18611.69", "trades": 2},
    {"account": "E2", "asset": CEA, "units_in": 300, "units_out": 0, "funds_in": "0.00"}
    | {"funds_out": "18021.00", "fees": "5.41", "funds_net": "-18026.41", "trades": 1},
    {"account": "I1", "asset": CEA, "units_in": 10, "units_out": 0, "funds_in": "0.00"}
    | {"funds_out": "600.70", "fees": "1.00", "funds_net": "-601.70", "trades": 1},
]
RUN_CSV = (
    "account,asset,units_in,units_out,funds_in,funds_out,fees,funds_net,trades\n"
    "E1,CEA-2024,0,310,18621.70,0.00,10.01,18611.69,2\n"
    "E2,CEA-2024,300,0,0.00,18021.00,5.41,-18026.41,1\n"
    "I1,CEA-2024,10,0,0.00,600.70,1.00,-601.70,1\n"
)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


def a_day_of_trades(api: Api, **policy: Any) -> Exchange:
    """T1 and T2 (see the module doc), then the day's end at 15:05 under `Policy(**policy)`:
    by default the system confirms and delivers the run."""
    reg = Registry(api.store, api.clock)
    assert reg.issue("iss", CEA, 1_000_000).ok
    assert reg.allocate("a1", "E1", CEA, 300_000).ok
    assert reg.deposit("d2", "E2", 2_000_000_000).ok
    assert reg.deposit("d3", "I1", 10_000_000).ok
    venue = Exchange(api.store, api.clock, Policy(fees=FEES, **policy))
    assert venue.list_instrument(CEA, 6000, actor="setup").ok
    for order_id, holder, side, quantity, price in (
        ("S1", "E1", "sell", 300, 6007),
        ("B1", "E2", "buy", 300, 6100),
        ("S2", "E1", "sell", 10, 6007),
        ("B2", "I1", "buy", 10, 6007),
    ):
        assert venue.place(order_id, holder, CEA, side, quantity, price, actor=holder).ok
    api.clock.set(local(2, 15, 5))
    assert venue.end_of_day(actor="exch1").message == RUN
    return venue


@pytest.fixture
def delivered(api_sqlite: Api) -> Api:
    """The day's trades, settled: run R2026-03-02 delivered; it is 16:00."""
    a_day_of_trades(api_sqlite)
    api_sqlite.clock.set(local(2, 16))
    return api_sqlite


@pytest.fixture
def prepared(api_sqlite: Api) -> Api:
    """The day's trades, its run left prepared for a person (`settlement_auto_confirm` off)."""
    a_day_of_trades(api_sqlite, settlement_auto_confirm=False)
    return api_sqlite


def positions(api: Api) -> dict[tuple[str, str, str], tuple[int, int]]:
    """Every account's balance and what holds reserve of it."""
    return {
        (a.holder, a.purpose, a.asset): (a.balance, a.debits_pending)
        for a in api.store.all_accounts()
    }


def holding(api: Api, holder: str, asset: str = CEA) -> int:
    return positions(api).get((holder, "holding", asset), (0, 0))[0]


def fund(api: Api, holder: str) -> int:
    return positions(api)[(holder, "fund", "CNY")][0]


def problem(answer: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    assert (answer.status_code, answer.headers["content-type"]) == (status, PROBLEM_JSON), (
        answer.text
    )
    body = answer.json()
    assert (body["status"], body["code"], body.get("field")) == (status, code, field), body


def refused(
    api: Api,
    answer: Any,
    status: int,
    code: str,
    field: str | None = None,
) -> None:
    """`answer()` is refused as `code` and moves nothing."""
    before = positions(api)
    problem(answer(), status, code, field)
    assert positions(api) == before


def run_status(api: Api, run_id: str) -> str:
    found = api.store.settlement_run(run_id)
    assert found is not None
    return found.status


# -- reads ----------------------------------------------------------------------------------


def test_a_delivered_day_is_listed_and_reported_to_the_fen(delivered: Api) -> None:
    api = delivered
    runs = api.get(RUNS, "reg1").json()
    assert [(r["id"], r["kind"], r["status"], r["trades"]) for r in runs] == [
        (RUN, "daily", "delivered", 2)
    ]
    assert runs[0]["objections_until"] == "2026-03-03T09:30:00"
    assert api.get(RUNS, "sup1", status="prepared").json() == []
    assert [r["id"] for r in api.get(RUNS, "bank1", day="2026-03-02").json()] == [RUN]
    report = api.get(f"{RUNS}/{RUN}", "exch1").json()
    assert report["totals"] == {
        "trades": 2,
        "units": 310,
        "value": "18621.70",
        "fees": "16.42",
        "accounts": 3,
    }
    assert report["accounts"] == LINES
    assert (report["breaks"], report["objections"]) == ([], [])
    assert api.get(f"{RUNS}/{RUN}/breaks", "reg1").json() == []
    as_csv = api.get(f"{RUNS}/{RUN}", "reg1", format="csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text == RUN_CSV
    as_xlsx = api.get(f"{RUNS}/{RUN}", "reg1", format="xlsx")
    book = load_workbook(io.BytesIO(as_xlsx.content))
    summary = {row[0].value: row[1] for row in book["Run"].iter_rows()}
    assert Decimal(str(summary["total value"].value)) == Decimal("18621.70")
    sheet = book["Accounts"]
    header = [c.value for c in sheet[1]]
    e2 = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == "E2")
    net = e2[header.index("funds_net")]
    assert (Decimal(str(net.value)), net.number_format) == (Decimal("-18026.41"), "#,##0.00")


def test_a_holders_operator_reads_its_own_account_report_and_no_other(delivered: Api) -> None:
    api = delivered
    mine = api.get(f"{RUNS}/{RUN}/accounts/E1", "e1op").json()
    assert mine["lines"] == LINES[:1]
    assert mine["trades"] == [
        {"trade": "T1", "instrument": CEA, "side": "sell", "price": "60.07", "quantity": 300}
        | {"value": "18021.00", "fee": "9.01", "settled": True},
        {"trade": "T2", "instrument": CEA, "side": "sell", "price": "60.07", "quantity": 10}
        | {"value": "600.70", "fee": "1.00", "settled": True},
    ]
    assert api.get(f"{RUNS}/{RUN}/accounts/E2", "e2op", format="csv").text == (
        "trade,instrument,side,price,quantity,value,fee,settled\n"
        "T1,CEA-2024,buy,60.07,300,18021.00,5.41,True\n"
    )
    assert api.get(f"{RUNS}/{RUN}/accounts/E1", "reg1").status_code == 200
    refused(api, lambda: api.get(f"{RUNS}/{RUN}/accounts/E2", "e1op"), 403, "not_authorized",
            "account")  # fmt: skip
    refused(api, lambda: api.get(f"{RUNS}/{RUN}", "e1op"), 403, "not_authorized")


def test_an_unknown_run_is_404_unknown_run_wherever_it_is_named(delivered: Api) -> None:
    api = delivered
    for answer in (
        lambda: api.get(f"{RUNS}/R9", "reg1"),
        lambda: api.get(f"{RUNS}/R9", "reg1", format="csv"),
        lambda: api.get(f"{RUNS}/R9/breaks", "reg1"),
        lambda: api.get(f"{RUNS}/R9/accounts/E1", "e1op"),
        lambda: api.post(f"{RUNS}/R9/confirm", "reg1", {"client_id": "K9"}),
        lambda: api.post(f"{RUNS}/R9/deliver", "reg1"),
        lambda: api.post(
            f"{RUNS}/R9/objections", "e2op", {"client_id": "OB9", "account": "E2", "text": "x"}
        ),
    ):
        refused(api, answer, 404, "unknown_run", "run")


# -- confirmation and delivery ---------------------------------------------------------------


def test_a_run_left_prepared_is_confirmed_by_the_registry_operator_and_delivered(
    prepared: Api,
) -> None:
    api = prepared
    assert [(r["id"], r["status"]) for r in api.get(RUNS, "reg1").json()] == [(RUN, "prepared")]
    assert holding(api, "E2") == 0  # bought, not yet delivered
    refused(api, lambda: api.post(f"{RUNS}/{RUN}/deliver", "reg1"), 409,
            "run_state_does_not_allow", "run")  # fmt: skip
    refused(api, lambda: api.post(f"{RUNS}/{RUN}/confirm", "exch1", {"client_id": "K1"}), 403,
            "not_authorized")  # fmt: skip
    confirmed = api.post(f"{RUNS}/{RUN}/confirm", "reg1", {"client_id": "K1"})
    assert confirmed.status_code == 201, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["replayed"]) == ("accepted", False)
    assert run_status(api, RUN) == "delivered"
    assert (holding(api, "E2"), fund(api, "E2")) == (300, 2_000_000_000 - 1_802_641)
    assert (holding(api, "I1"), fund(api, "I1")) == (10, 10_000_000 - 60_170)
    assert fund(api, "E1") == 1_861_169
    again = api.post(f"{RUNS}/{RUN}/confirm", "reg1", {"client_id": "K1"})
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    delivered = api.post(f"{RUNS}/{RUN}/deliver", "reg1")
    assert (delivered.status_code, delivered.json()) == (
        200,
        {"id": RUN, "status": "delivered", "replayed": True, "seq": None},
    )
    report = api.get(f"{RUNS}/{RUN}", "reg1").json()
    assert (report["run"]["confirmed_by"], report["run"]["breaks_accepted"]) == ("reg1", None)


def test_under_four_eyes_a_confirmation_waits_for_a_second_registry_operator(
    api_four_eyes: Api,
) -> None:
    api = api_four_eyes
    a_day_of_trades(api, four_eyes=True)
    assert run_status(api, RUN) == "prepared"  # four-eyes: the system does not confirm it
    before = positions(api)
    parked = api.post(f"{RUNS}/{RUN}/confirm", "reg1", {"client_id": "K1"})
    assert parked.status_code == 202, parked.text
    assert (parked.json()["status"], parked.json()["code"]) == (
        "pending_approval",
        "approval_required",
    )
    assert (run_status(api, RUN), positions(api)) == ("prepared", before)
    refused(api, lambda: api.post("/v1/approvals/K1/approve", "reg1"), 403, "not_authorized")
    refused(api, lambda: api.post("/v1/approvals/K1/approve", "exch1"), 403, "not_authorized")
    approved = api.post("/v1/approvals/K1/approve", "reg2")
    assert approved.status_code == 201, approved.text
    assert run_status(api, RUN) == "delivered"
    assert (holding(api, "E2"), holding(api, "I1")) == (300, 10)
    assert api.get(f"{RUNS}/{RUN}", "reg2").json()["run"]["confirmed_by"] == "reg1"


def test_a_run_with_breaks_is_confirmed_only_with_the_breaks_accepted_in_writing(
    api_sqlite: Api,
) -> None:
    api = api_sqlite
    # The bank's statement of the day lists I1's deposit only: E2's is a break.
    statement = "date,reference,account,type,amount\n2026-03-02,d3,I1,deposit,100000.00\n"
    lines, problems = parse_statement(statement)
    assert not problems
    a_day_of_trades(api, settlement_auto_confirm=False)
    assert Funds(api.store, api.clock).import_statement("bank", lines, actor="bank1").ok
    breaks = api.get(f"{RUNS}/{RUN}/breaks", "reg1").json()
    assert [(b["kind"], b["ref"], b["account"], b["expected"], b["actual"]) for b in breaks] == [
        ("missing_on_statement", "d2", "E2", None, 2_000_000_000)
    ]
    refused(api, lambda: api.post(f"{RUNS}/{RUN}/confirm", "reg1", {"client_id": "K1"}), 409,
            "run_has_breaks", "accept_breaks")  # fmt: skip
    accepted = {"client_id": "K2", "accept_breaks": "the bank's late line, confirmed by phone"}
    assert api.post(f"{RUNS}/{RUN}/confirm", "reg1", accepted).status_code == 201
    shown = api.get(f"{RUNS}/{RUN}", "reg1").json()
    assert (shown["run"]["status"], shown["run"]["breaks_accepted"]) == (
        "delivered",
        accepted["accept_breaks"],
    )
    assert shown["breaks"] == breaks


# -- objections ------------------------------------------------------------------------------


def objection(client_id: str, account: str, **more: str) -> dict[str, str]:
    return {"client_id": client_id, "account": account, "text": "not what was agreed"} | more


def test_a_party_objects_until_the_next_trading_day_opens_and_no_one_else_may(
    delivered: Api,
) -> None:
    api = delivered
    reg = Registry(api.store, api.clock)
    assert reg.open_holder(Holder("I2", "individual", "Li Si"), actor="setup").ok
    people = People(api.store, api.clock)
    people.add(Person("i2op", "I2 operator", Role.investor, "I2"), actor="setup")
    api.keys["i2op"] = people.issue_key("i2op", actor="setup").token
    path = f"{RUNS}/{RUN}/objections"
    made = api.post(path, "e2op", objection("OB1", "E2", trade="T1"))
    assert (made.status_code, made.json()["status"], made.json()["replayed"]) == (
        201,
        "recorded",
        False,
    )
    again = api.post(path, "e2op", objection("OB1", "E2", trade="T1"))
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    refused(api, lambda: api.post(path, "i2op", objection("OB2", "I2")), 409,
            "not_a_party_to_run", "account")  # fmt: skip
    refused(api, lambda: api.post(path, "e2op", objection("OB2", "E1")), 403, "not_authorized",
            "account")  # fmt: skip
    refused(api, lambda: api.post(path, "e2op", objection("OB2", "E2", text=" ")), 422,
            "invalid_field", "text")  # fmt: skip
    refused(api, lambda: api.post(path, "e2op", objection("OB1", "E2", text="other")), 409,
            "duplicate_id", "id")  # fmt: skip
    api.clock.set(local(3, 9, 29))
    assert api.post(path, "i1op", objection("OB3", "I1")).status_code == 201
    api.clock.set(local(3, 9, 30))
    refused(api, lambda: api.post(path, "i1op", objection("OB4", "I1")), 409,
            "objection_window_closed", "run")  # fmt: skip
    listed = api.get(f"{RUNS}/{RUN}", "reg1").json()["objections"]
    assert [(o["id"], o["account"], o["trade"], o["by"], o["resolution"]) for o in listed] == [
        ("OB1", "E2", "T1", "e2op", None),
        ("OB3", "I1", None, "i1op", None),
    ]


# -- corrections -----------------------------------------------------------------------------


def correction(client_id: str, **more: Any) -> dict[str, Any]:
    return {"client_id": client_id, "corrects": RUN, "reason": "agreed cancellation"} | more


def test_a_correction_reverses_a_trade_once_confirmed_and_the_run_stays_as_it_was(
    delivered: Api,
) -> None:
    api = delivered
    assert api.post(f"{RUNS}/{RUN}/objections", "e2op", objection("OB1", "E2")).status_code == 201
    before = positions(api)
    made = api.post(CORRECTIONS, "reg1", correction("C1", reverse="T1", objection="OB1"))
    assert (made.status_code, made.json()["status"]) == (201, "prepared"), made.text
    assert positions(api) == before  # prepared: nothing moves until it is confirmed
    again = api.post(CORRECTIONS, "reg1", correction("C1", reverse="T1", objection="OB1"))
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert [r["id"] for r in api.get(RUNS, "reg1", status="prepared").json()] == ["C1"]
    confirmed = api.post(f"{RUNS}/C1/confirm", "reg1", {"client_id": "K1"})
    assert confirmed.status_code == 201, confirmed.text
    assert run_status(api, "C1") == "delivered"
    # T1 undone whole: units back to E1, the value back to E2, each fee back to its payer.
    assert (holding(api, "E1"), holding(api, "E2")) == (299_990, 0)
    assert fund(api, "E2") == 2_000_000_000
    assert fund(api, "E1") == 60_070 - 100  # T2's proceeds less its fee
    assert positions(api)[("exchange", "fees", "CNY")][0] == 200  # T2's two minimum fees
    report = api.get(f"{RUNS}/C1", "reg1").json()
    assert (report["run"]["kind"], report["run"]["corrects"]) == ("correction", RUN)
    # Fee refunds are on the payer's line as negative fees; the fee account has no line.
    assert {(line["account"], line["asset"]) for line in report["accounts"]} == {
        ("E1", CEA),
        ("E1", "CNY"),
        ("E2", CEA),
        ("E2", "CNY"),
    }
    assert report["totals"]["trades"] == 1
    original = api.get(f"{RUNS}/{RUN}", "reg1").json()
    assert (original["run"]["status"], original["accounts"]) == ("delivered", LINES)
    assert [o["resolution"] for o in original["objections"]] == ["C1"]


def test_the_first_confirmation_of_a_correction_is_201_and_not_a_replay(delivered: Api) -> None:
    api = delivered
    assert api.post(CORRECTIONS, "reg1", correction("C1", reverse="T1")).status_code == 201
    confirmed = api.post(f"{RUNS}/C1/confirm", "reg1", {"client_id": "K1"})
    assert (confirmed.status_code, confirmed.json()["replayed"]) == (201, False)


def test_a_correction_with_legs_moves_what_they_say_once_confirmed(delivered: Api) -> None:
    api = delivered
    legs = [{"from": "fees", "to": "I1", "amount": "1.00", "trade": "T2"}]
    assert api.post(CORRECTIONS, "reg1", correction("C1", legs=legs)).status_code == 201
    assert api.post(f"{RUNS}/C1/confirm", "reg1", {"client_id": "K1"}).status_code == 201
    assert fund(api, "I1") == 10_000_000 - 60_170 + 100
    lines = api.get(f"{RUNS}/C1", "reg1", format="csv").text
    assert lines == (  # a fee refunded: a negative fee on the payer's line
        "account,asset,units_in,units_out,funds_in,funds_out,fees,funds_net,trades\n"
        "I1,CNY,0,0,0.00,0.00,-1.00,1.00,1\n"
    )


def test_bad_corrections_are_refused_and_move_nothing(delivered: Api) -> None:
    api = delivered
    units = [{"from": "E2", "to": "E1", "asset": CEA, "quantity": 10}]

    def correct(body: dict[str, Any]) -> Any:
        return lambda: api.post(CORRECTIONS, "reg1", body)

    no_asset = [{"from": "E2", "to": "E1", "quantity": 10}]
    unknown_field = [{**units[0], "colour": "red"}]
    unknown_holder = [{**units[0], "from": "Z9"}]
    for more, code, field in (
        ({}, "invalid_field", "legs"),
        ({"reverse": "T1", "legs": units}, "invalid_field", "legs"),
        ({"legs": []}, "invalid_field", "legs"),
        ({"legs": no_asset}, "invalid_field", "legs"),
        ({"legs": unknown_field}, "invalid_field", "legs.0.colour"),
        ({"legs": unknown_holder}, "unknown_account", "legs[0]"),
        ({"reverse": "T9"}, "unknown_reference", "reverse"),
        ({"reverse": "T1", "objection": "OB9"}, "unknown_reference", "objection"),
        ({"reverse": "T1", "reason": " "}, "invalid_field", "reason"),
    ):
        refused(api, correct(correction("C9", **more)), 422, code, field)
    refused(api, lambda: api.post(CORRECTIONS, "e1op", correction("C9", reverse="T1")), 403,
            "not_authorized")  # fmt: skip
    assert api.get(RUNS, "reg1", status="prepared").json() == []
    # Legs the holder cannot pay: prepared, but refused at confirmation, and not confirmed.
    too_much = [{"from": "E1", "to": "E2", "amount": "99999999.00"}]
    assert api.post(CORRECTIONS, "reg1", correction("C1", legs=too_much)).status_code == 201
    refused(api, lambda: api.post(f"{RUNS}/C1/confirm", "reg1", {"client_id": "K1"}), 409,
            "insufficient_funds")  # fmt: skip
    assert run_status(api, "C1") == "prepared"
    refused(api, correct(correction("C1", reverse="T1", reason="other")), 409, "duplicate_id",
            "id")  # fmt: skip


def test_only_a_delivered_run_is_corrected(prepared: Api) -> None:
    api = prepared
    refused(api, lambda: api.post(CORRECTIONS, "reg1", correction("C1", reverse="T1")), 409,
            "run_state_does_not_allow", "corrects")  # fmt: skip


def test_a_correction_of_an_unknown_run_is_422_naming_corrects(delivered: Api) -> None:
    api = delivered
    refused(api, lambda: api.post(CORRECTIONS, "reg1", correction("C1", corrects="R9",
            reverse="T1")), 422, "unknown_run", "corrects")  # fmt: skip
