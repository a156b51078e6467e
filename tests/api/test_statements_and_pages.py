"""Statements (holdings at the end of a day, transfer history) and keyset pagination."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from cets.domain.registry.holders import Holder
from cets.service.registry import Registry
from conftest import Api

CEA = "CEA-2023"


def day_one_and_two(api: Api) -> None:
    """Day 1 (2026-03-02 Shanghai): 1,000 t in, 100 t out, 50 t frozen. Day 2: 300 t in."""
    reg = Registry(api.store, api.clock)
    assert reg.issue("iss", CEA, 10_000).ok
    assert reg.allocate("a1", "E1", CEA, 1_000).ok
    assert reg.transfer("t1", "E1", "E2", CEA, 100, actor="e1op").ok
    assert reg.freeze("f1", "E1", CEA, 50, "court-1").ok
    assert reg.deposit("d1", "E1", 123_45).ok
    api.clock.set(api.clock.now() + timedelta(days=1))
    assert reg.allocate("a2", "E1", CEA, 300).ok
    assert reg.unfreeze("u1", "court-1").ok


def test_a_statement_shows_holdings_as_they_stood_at_the_end_of_that_day(api: Api) -> None:
    day_one_and_two(api)
    first = api.get("/v1/holders/E1/statement", "e1op", date="2026-03-02").json()
    assert first["holdings"] == {CEA: {"total": 900, "encumbered": 50}}
    assert first["funds"] == {"total": "123.45", "encumbered": "0.00"}
    assert first["as_of"] == "2026-03-02T23:59:59.999999+08:00"
    second = api.get("/v1/holders/E1/statement", "e1op", date="2026-03-03").json()
    assert second["holdings"] == {CEA: {"total": 1200, "encumbered": 0}}
    before = api.get("/v1/holders/E1/statement", "e1op", date="2026-03-01").json()
    assert before["holdings"] == {CEA: {"total": 0, "encumbered": 0}}


def test_a_statement_as_csv_has_one_row_per_asset_and_one_for_funds(api_sqlite: Api) -> None:
    day_one_and_two(api_sqlite)
    answer = api_sqlite.get("/v1/holders/E1/statement", "e1op", date="2026-03-02", format="csv")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows == [["asset", "total", "encumbered"], [CEA, "900", "50"], ["CNY", "123.45", "0.00"]]


def test_history_pages_walk_the_accounts_transfers_newest_first_without_overlap(
    api: Api,
) -> None:
    day_one_and_two(api)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"asset": CEA, "limit": 2} | ({"before": cursor} if cursor else {})
        page = api.get("/v1/holders/E1/history", "e1op", **params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ["u1", "a2", "freeze:court-1", "t1", "a1"]
    lines = {
        item["id"]: item
        for item in api.get("/v1/holders/E1/history", "e1op", asset=CEA).json()["items"]
    }
    assert (lines["t1"]["posted"], lines["t1"]["counterparty"]) == (-100, "E2/holding")
    assert (lines["freeze:court-1"]["posted"], lines["freeze:court-1"]["held"]) == (0, 50)
    assert (lines["u1"]["posted"], lines["u1"]["held"]) == (0, -50)


def test_the_funds_history_is_the_fund_accounts_transfers(api_sqlite: Api) -> None:
    day_one_and_two(api_sqlite)
    items = api_sqlite.get("/v1/holders/E1/history", "e1op", asset="CNY").json()["items"]
    assert [(i["id"], i["posted"], i["counterparty"]) for i in items] == [
        ("d1", 12345, "bank/bank")
    ]


def test_people_and_holders_come_in_pages_that_together_list_each_once(api_sqlite: Api) -> None:
    for path, key in (("/v1/persons", "id"), ("/v1/holders", "id")):
        ids: list[str] = []
        after = None
        while True:
            params = {"limit": 3} | ({"after": after} if after else {})
            page = api_sqlite.get(path, "reg1", **params).json()
            ids += [item[key] for item in page["items"]]
            after = page["next"]
            if after is None:
                break
        assert ids == sorted(ids) and len(ids) == len(set(ids)) > 3, (path, ids)


def test_holders_under_one_actual_controller_are_listed_together(api_sqlite: Api) -> None:
    reg = Registry(api_sqlite.store, api_sqlite.clock)
    assert reg.open_holder(Holder("E7", "key_emitter", "Sister plant", "G1"), actor="t").ok
    related = api_sqlite.get("/v1/holders", "sup1", controller="G1").json()["items"]
    assert [h["id"] for h in related] == ["E2", "E7"]
    assert api_sqlite.get("/v1/holders", "sup1", controller="G9").json()["items"] == []
