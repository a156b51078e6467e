"""Funds at settlement banks through the API (`/v1/funds`): fund accounts at one bank, what a
holder may withdraw (T+1), withdrawal requests paid or rejected by the bank, the bank's
statement uploaded once and refused whole, payment instructions as CSV, and a bank kept to its
own business. The store audits clean after each test (the fixtures check it)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from cets.domain.registry.access import Person, Role
from cets.domain.registry.holders import Holder
from cets.service.funds import Funds
from cets.service.people import People
from cets.service.registry import Registry
from conftest import START, Api
from funds_support import CEA, record_trade

TODAY = START.date()  # 2026-03-02, a Monday (10:00 in Shanghai)
HEADER = "date,reference,account,type,amount\n"
PROBLEM_JSON = "application/problem+json"


def with_b2(api: Api) -> Registry:
    """A second settlement bank B2 with its clerk b2op; E1 has 1,000.00 at the default bank."""
    reg = Registry(api.store, api.clock)
    assert reg.open_holder(Holder("B2", "settlement_bank", "Second bank"), actor="setup").ok
    people = People(api.store, api.clock)
    people.add(Person("b2op", "B2 clerk", Role.settlement_bank, "B2"), actor="setup")
    api.keys["b2op"] = people.issue_key("b2op", actor="setup").token
    assert reg.deposit("seed", "E1", 1_000_00).ok
    return reg


def problem(answer: httpx.Response, status: int, code: str, field: str | None = None) -> str:
    assert (answer.status_code, answer.headers["content-type"]) == (status, PROBLEM_JSON), (
        answer.text
    )
    body = answer.json()
    assert (body["code"], body.get("field")) == (code, field), body
    detail: str = body["detail"]
    return detail


def upload(api: Api, person: str, *rows: str) -> httpx.Response:
    answer: httpx.Response = api.client.post(
        "/v1/funds/statements",
        headers=api.headers(person) | {"content-type": "text/csv"},
        content=HEADER + "".join(f"{row}\n" for row in rows),
    )
    return answer


def funds(api: Api, holder: str) -> dict[str, object]:
    answer = api.get(f"/v1/funds/{holder}", "reg1")
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_a_fund_account_is_bound_to_a_bank_and_shows_what_may_be_withdrawn(api: Api) -> None:
    with_b2(api)
    opened = api.post("/v1/funds/accounts", "reg1", {"holder": "E2", "bank": "B2", "number": "62"})
    again = api.post("/v1/funds/accounts", "reg2", {"holder": "E2", "bank": "B2", "number": "62"})
    assert (opened.status_code, again.status_code) == (201, 200), opened.text
    assert (
        api.post(
            "/v1/registry/deposit",
            "b2op",
            {"client_id": "d1", "account": "E2"} | {"amount": "700.00"},
        ).status_code
        == 201
    )
    record_trade(api.store, "E2", "E1", 10, 60_00, day=TODAY, fee=30)  # 599.70 net, today

    assert funds(api, "E2") == {
        "holder": "E2",
        "bank": "B2",
        "number": "62",
        "balance": "700.00",
        "available": "700.00",
        "withdrawable": "100.30",
        "not_yet_withdrawable": "599.70",
        "t1_day": "2026-03-02",
    }
    assert funds(api, "E1")["bank"] == "bank" and funds(api, "E1")["number"] == "E1"
    assert api.get("/v1/funds/E2", "e1op").status_code == 403
    assert api.get("/v1/funds/NOPE", "reg1").status_code == 404


def test_todays_sale_proceeds_cannot_be_withdrawn_today_but_can_tomorrow(api: Api) -> None:
    with_b2(api)
    record_trade(api.store, "E1", "E2", 10, 90_00, day=TODAY)  # 900.00 of E1's 1,000.00
    body = {"client_id": "w1", "account": "E1", "amount": "100.01"}

    detail = problem(
        api.post("/v1/registry/withdraw", "bank1", body), 409, "insufficient_funds", "amount"
    )
    requested = api.post("/v1/funds/withdrawals", "e1op", body | {"client_id": "W1"})

    assert detail.startswith("E1 may withdraw 100.00 now, not 100.01")
    assert "withdrawable from 2026-03-03 (T+1)" in detail
    problem(requested, 409, "insufficient_funds", "amount")
    api.clock.set(START + timedelta(days=1))
    later = body | {"client_id": "w2", "amount": "1000.00"}
    assert api.post("/v1/registry/withdraw", "bank1", later).status_code == 201


def test_units_bought_today_cannot_be_transferred_until_the_next_trading_day(api: Api) -> None:
    reg = Registry(api.store, api.clock)
    assert reg.issue("i1", CEA, 1000).ok
    assert reg.allocate("a1", "E1", CEA, 100).ok
    record_trade(api.store, "E2", "E1", 100, 60_00, day=TODAY)  # delivered at the day's end
    body = {"client_id": "t1", "from": "E1", "to": "E2", "asset": CEA, "quantity": 1}

    detail = problem(
        api.post("/v1/registry/transfer", "e1op", body), 409, "units_not_yet_sellable", "quantity"
    )

    assert "transferable from 2026-03-03 (T+1)" in detail
    api.clock.set(START + timedelta(days=1))
    assert api.post("/v1/registry/transfer", "e1op", body | {"client_id": "t2"}).status_code == 201


def test_a_withdrawal_request_is_held_listed_instructed_and_paid_by_the_bank(api: Api) -> None:
    with_b2(api)
    body = {"client_id": "W1", "account": "E1", "amount": "300.00"}
    first = api.post("/v1/funds/withdrawals", "e1op", body)
    again = api.post("/v1/funds/withdrawals", "reg1", body)
    assert (first.status_code, again.status_code, again.json()["replayed"]) == (201, 200, True)
    assert first.json() | {"requested_at": None} == {
        "id": "W1",
        "account": "E1",
        "bank": "bank",
        "amount": "300.00",
        "status": "requested",
        "reason": None,
        "requested_at": None,
        "requested_by": "e1op",
        "settled_at": None,
        "replayed": False,
    }
    assert funds(api, "E1")["available"] == "700.00"
    listed = api.get("/v1/funds/withdrawals", "bank1", status="requested").json()["items"]
    assert [w["id"] for w in listed] == ["W1"]
    csv = api.get("/v1/funds/instructions", "bank1", day="2026-03-02")
    assert (csv.status_code, csv.headers["content-type"]) == (200, "text/csv; charset=utf-8")
    assert csv.text == (
        "reference,account,bank_account_number,amount,requested_at\n"
        "W1,E1,E1,300.00,2026-03-02T10:00:00+08:00\n"
    )

    paid = api.post("/v1/funds/withdrawals/W1/paid", "bank1")
    repeated = api.post("/v1/funds/withdrawals/W1/paid", "bank1")

    assert (paid.status_code, paid.json()["status"], repeated.status_code) == (201, "paid", 200)
    assert funds(api, "E1")["balance"] == "700.00"
    assert api.get("/v1/funds/instructions", "bank1").text.count("\n") == 1  # the header only


def test_a_rejected_request_frees_the_money_and_cannot_then_be_paid(api: Api) -> None:
    with_b2(api)
    body = {"client_id": "W1", "account": "E1", "amount": "300.00"}
    assert api.post("/v1/funds/withdrawals", "reg1", body).status_code == 201

    rejected = api.post("/v1/funds/withdrawals/W1/rejected", "bank1", {"reason": "account shut"})

    assert (rejected.status_code, rejected.json()["reason"]) == (201, "account shut")
    assert funds(api, "E1")["available"] == "1000.00"
    problem(api.post("/v1/funds/withdrawals/W1/paid", "bank1"), 409, "hold_already_closed", "id")
    problem(api.post("/v1/funds/withdrawals/W9/paid", "bank1"), 422, "unknown_reference", "id")


def test_a_bank_sees_and_settles_only_its_own_banks_business(api: Api) -> None:
    with_b2(api)
    assert (
        api.post(
            "/v1/funds/withdrawals",
            "e1op",
            {"client_id": "W1", "account": "E1"} | {"amount": "1.00"},
        ).status_code
        == 201
    )

    problem(api.get("/v1/funds/withdrawals", "b2op", bank="bank"), 403, "not_authorized", "bank")
    problem(api.get("/v1/funds/instructions", "b2op", bank="bank"), 403, "not_authorized", "bank")
    assert api.get("/v1/funds/withdrawals", "b2op").json()["items"] == []
    problem(api.post("/v1/funds/withdrawals/W1/paid", "b2op"), 409, "wrong_settlement_bank", "id")
    assert [w["id"] for w in api.get("/v1/funds/withdrawals", "sup1").json()["items"]] == ["W1"]
    problem(api.get("/v1/funds/instructions", "reg1"), 422, "invalid_field", "bank")


def test_a_bank_uploads_its_statement_and_uploading_it_again_changes_nothing(api: Api) -> None:
    with_b2(api)
    rows = ("2026-03-02,R1,E2,deposit,500.00", "2026-03-02,R2,I1,deposit,0.01")

    first = upload(api, "b2op", *rows)
    again = upload(api, "b2op", *rows)

    assert first.status_code == 201, first.text
    assert (first.json()["deposits"], first.json()["lines"]) == (2, 2)
    assert again.status_code == 200, again.text
    assert again.json()["detail"] == "nothing changed: all 2 lines were imported before"
    assert (funds(api, "E2")["balance"], funds(api, "E2")["bank"]) == ("500.00", "B2")
    assert funds(api, "I1")["balance"] == "0.01"


@pytest.mark.parametrize(
    ("rows", "status", "code", "field", "where"),
    [
        (("2026-03-02,R1,E2,deposit,5.00", "2026-03-02,R2,E2,deposit,5"), 422, "invalid_field",
         "amount", "line 3, amount"),
        (("2026-03-02,R1,E2,deposit,5.00", "2026-03-02,R2,E1,deposit,5.00"), 409,
         "wrong_settlement_bank", "account", "line 3, account"),
        (("2026-03-02,R1,E2,deposit,5.00", "2026-03-02,R2,NOPE,deposit,5.00"), 422,
         "unknown_account", "account", "line 3, account"),
    ],
)  # fmt: skip
def test_a_statement_with_one_bad_line_is_refused_whole_naming_the_line_and_field(
    api: Api, rows: tuple[str, ...], status: int, code: str, field: str, where: str
) -> None:
    with_b2(api)  # E1 is at the default bank
    before = sum(1 for _ in api.store.journal_entries())

    detail = problem(upload(api, "b2op", *rows), status, code, field)

    assert where in detail
    assert sum(1 for _ in api.store.journal_entries()) == before
    assert funds(api, "E2")["balance"] == "0.00"
    assert Funds(api.store, api.clock).view("E2").number is None  # type: ignore[union-attr]


def test_a_bank_is_registered_and_its_staff_name_it(api: Api) -> None:
    bank = {"id": "B3", "kind": "settlement_bank", "name": "Third bank"}
    assert api.post("/v1/holders", "reg1", bank).status_code == 201
    clerk = {"id": "b3op", "name": "B3 clerk", "role": "settlement_bank", "holder": "B3"}
    assert api.post("/v1/persons", "reg1", clerk).status_code == 201
    wrong = clerk | {"id": "b3x", "holder": "E1"}
    problem(api.post("/v1/persons", "reg1", wrong), 422, "invalid_field", "role")
