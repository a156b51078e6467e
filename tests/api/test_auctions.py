"""One-way auctions through the API, on SQLite and PostgreSQL: the authority alone announces an
auction of its reserve, holders' operators bid for their own holder, the exchange operator
closes, and reading it back shows each bid's allocation and price (a holder's operator sees its
own holder's bids only)."""

from __future__ import annotations

from typing import Any

import pytest

from cets.domain.policy import Policy
from cets.service.exchange import Exchange
from cets.service.registry import Registry
from conftest import Api

CEA = "CEA-2024"
DAY = "2026-03-02"  # the fixtures' Monday; it is 10:00 in Shanghai


def auction(seller: str = "authority", **changes: Any) -> dict[str, Any]:
    body = {
        "id": "A1",
        "seller": seller,
        "instrument": CEA,
        "quantity": 1000,
        "reserve_price": "50.00",
        "pricing": "uniform",
        "window": {"start": f"{DAY}T10:00:00", "end": f"{DAY}T11:00:00"},
    }
    return body | changes


@pytest.fixture
def market(api: Api) -> Api:
    """CEA-2024 listed at 60.00, 100,000 t in the reserve, E1 and E2 with 100,000.00 yuan."""
    reg = Registry(api.store, api.clock)
    assert reg.issue("seed-issue", CEA, 100_000).ok
    assert reg.deposit("seed-e1", "E1", 10_000_000).ok
    assert reg.deposit("seed-e2", "E2", 10_000_000).ok
    assert Exchange(api.store, api.clock, Policy()).list_instrument(CEA, 6000, actor="x").ok
    return api


def test_only_the_authority_announces_an_auction_of_its_reserve(market: Api) -> None:
    by_exchange = market.post("/v1/auctions", "exch1", auction())
    assert (by_exchange.status_code, by_exchange.json()["code"]) == (403, "not_authorized")
    by_authority_for_e1 = market.post("/v1/auctions", "auth1", auction("E1", id="A2"))
    assert by_authority_for_e1.status_code == 403
    opened = market.post("/v1/auctions", "auth1", auction())
    assert opened.status_code == 201, opened.text
    assert opened.json() | {"bids": []} == {
        "id": "A1",
        "seller": "authority",
        "instrument": CEA,
        "quantity": 1000,
        "reserve_price": "50.00",
        "pricing": "uniform",
        "window": {"start": f"{DAY}T10:00:00", "end": f"{DAY}T11:00:00"},
        "state": "open",
        "sold": 0,
        "clearing_price": None,
        "bids": [],
    }
    again = market.post("/v1/auctions", "auth1", auction())
    assert again.status_code == 200  # the same id and body: the first answer


def test_bids_close_and_results_each_bid_with_its_allocation_and_price(market: Api) -> None:
    assert market.post("/v1/auctions", "auth1", auction(quantity=500)).status_code == 201
    bids = [
        ("e1op", {"id": "B1", "account": "E1", "quantity": 300, "price": "52.00"}),
        ("e2op", {"id": "B2", "account": "E2", "quantity": 400, "price": "51.00"}),
        ("e2op", {"id": "B3", "account": "E2", "quantity": 100, "price": "50.00"}),
    ]
    for person, body in bids:
        answer = market.post("/v1/auctions/A1/bids", person, body)
        assert answer.status_code == 201, answer.text
        assert (answer.json()["mode"], answer.json()["status"]) == ("auction", "open")
    other = market.post("/v1/auctions/A1/bids", "e1op", {**bids[1][1], "id": "B9"})
    assert other.status_code == 403  # E1's operator bidding for E2
    early = market.post("/v1/auctions/A1/close", "exch1")
    assert (early.status_code, early.json()["code"]) == (409, "auction_window_not_ended")

    market.clock.set(market.clock.now().replace(hour=3))  # 11:00 in Shanghai
    closed = market.post("/v1/auctions/A1/close", "exch1")
    assert closed.status_code == 200, closed.text
    result = closed.json()
    assert (result["state"], result["sold"], result["clearing_price"]) == ("closed", 500, "51.00")
    assert [(b["id"], b["status"], b["allocated"], b["paid"]) for b in result["bids"]] == [
        ("B1", "filled", 300, "51.00"),
        ("B2", "expired", 200, "51.00"),
        ("B3", "expired", 0, None),
    ]
    # E2's operator sees E2's bids only; a supervisor sees all; the bank nothing.
    own = market.get("/v1/auctions/A1", "e2op").json()
    assert [b["id"] for b in own["bids"]] == ["B2", "B3"]
    assert own["clearing_price"] == "51.00"
    assert [b["id"] for b in market.get("/v1/auctions/A1", "sup1").json()["bids"]] == [
        "B1",
        "B2",
        "B3",
    ]
    assert market.get("/v1/auctions/A1", "bank1").status_code == 403
    late = market.post("/v1/auctions/A1/bids", "e1op", {**bids[0][1], "id": "B4"})
    assert (late.status_code, late.json()["code"], late.json()["field"]) == (
        409,
        "auction_not_open",
        "auction",
    )
    replay = market.post("/v1/auctions/A1/bids", "e1op", bids[0][1])
    assert (replay.status_code, replay.json()["status"]) == (200, "filled")


def test_a_window_that_is_no_date_is_invalid_field_naming_it(market: Api) -> None:
    body = auction(window={"start": f"{DAY}T10:00:00", "end": "2026-02-30T11:00:00"})
    answer = market.post("/v1/auctions", "auth1", body)
    assert (answer.status_code, answer.json()["code"], answer.json()["field"]) == (
        422,
        "invalid_field",
        "window.end",
    )
    other_day = auction(window={"start": "2026-03-03T10:00:00", "end": "2026-03-03T11:00:00"})
    refused = market.post("/v1/auctions", "auth1", other_day)
    assert (refused.status_code, refused.json()["field"]) == (422, "window")


def test_an_auction_there_is_not_is_404(market: Api) -> None:
    assert market.get("/v1/auctions/A9", "exch1").status_code == 404
