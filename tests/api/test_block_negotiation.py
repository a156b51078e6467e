"""A block negotiation over HTTP: an inquiry, counter-offers both ways, the acceptance, the thread
as each party (and a stranger) sees it, repeats answered 200, and the day's end settling it."""

from __future__ import annotations

import pytest

from cets.domain.policy import Policy
from cets.service.exchange import Exchange
from cets.service.registry import Registry
from conftest import Api

CEA = "CEA-2024"


@pytest.fixture
def market(api: Api) -> Api:
    """14:00 in Shanghai (the block session): E1 holds 200,000 t, E2 has 20,000,000.00 yuan."""
    reg = Registry(api.store, api.clock)
    assert reg.issue("seed-issue", CEA, 200_000).ok
    assert reg.allocate("seed-allocate", "E1", CEA, 200_000).ok
    assert reg.deposit("seed-deposit", "E2", 2_000_000_000).ok
    assert Exchange(api.store, api.clock, Policy()).list_instrument(CEA, 6000, actor="t").ok
    api.clock.set(api.clock.now().replace(hour=6))
    return api


def test_an_inquiry_is_answered_countered_and_accepted_and_the_thread_shows_each_party_its_part(
    market: Api,
) -> None:
    inquiry = {"id": "Q1", "account": "E2", "instrument": CEA, "side": "buy", "quantity": 200_000}
    asked = market.post("/v1/block/inquiries", "e2op", inquiry | {"price": "65.00"})
    assert asked.status_code == 201, asked.text
    assert (asked.json()["status"], asked.json()["price"]) == ("open", "65.00")
    again = market.post("/v1/block/inquiries", "e2op", inquiry | {"price": "65.00"})
    assert again.status_code == 200 and again.json() == asked.json()
    offer = {"id": "C1", "account": "E1", "reply_to": "Q1", "quantity": 200_000, "price": "68.00"}
    answered = market.post("/v1/block/counter-offers", "e1op", offer)
    assert answered.status_code == 201, answered.text
    assert {k: answered.json()[k] for k in ("side", "to", "reply_to", "thread", "status")} == {
        "side": "sell",
        "to": "E2",
        "reply_to": "Q1",
        "thread": "Q1",
        "status": "open",
    }
    back = {"id": "C2", "account": "E2", "reply_to": "C1", "quantity": 200_000, "price": "66.00"}
    assert market.post("/v1/block/counter-offers", "e2op", back).status_code == 201
    taken = market.post("/v1/block-accepts", "e1op", {"id": "A1", "account": "E1", "quote": "C2"})
    assert taken.status_code == 201, taken.text
    assert (taken.json()["status"], taken.json()["price"]) == ("filled", "66.00")

    seen = market.get("/v1/block/threads/C2", "e2op")
    assert seen.status_code == 200, seen.text
    assert seen.json()["inquiry"]["id"] == "Q1"
    assert [(o["id"], o["status"], o["reason"]) for o in seen.json()["offers"]] == [
        ("C1", "cancelled", "taken_up_by_the_accepted_reply"),
        ("C2", "filled", None),
    ]
    assert market.get("/v1/block/threads/Q1", "sup1").json() == seen.json()
    stranger = market.get("/v1/block/threads/C2", "i1op")
    assert (stranger.status_code, stranger.json()["code"]) == (404, "not_found")
    public = market.get("/v1/block/threads/Q1", "i1op")  # the inquiry was put to anyone
    assert public.status_code == 200 and public.json()["offers"] == []

    assert market.post("/v1/market/end-of-day", "exch1").status_code == 200
    e2 = market.get("/v1/holders/E2/positions", "reg1").json()
    assert e2["holdings"][CEA]["total"] == 200_000
    assert market.get("/v1/block/threads/Q1", "e2op").json()["inquiry"]["status"] == "expired"


def test_an_addressed_quote_is_refused_to_others_and_an_inquiry_is_withdrawn_by_its_poster(
    market: Api,
) -> None:
    quote = {"id": "K1", "account": "E1", "instrument": CEA, "side": "sell"}
    quote |= {"quantity": 100_000, "price": "70.00", "to": "I1"}
    posted = market.post("/v1/block/quotes", "e1op", quote)
    assert posted.status_code == 201 and posted.json()["to"] == "I1", posted.text
    refused = market.post("/v1/block-accepts", "e2op", {"id": "A1", "account": "E2", "quote": "K1"})
    assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (
        409,
        "quote_not_addressed_to_account",
        "account",
    )
    inquiry = {"id": "Q1", "account": "E2", "instrument": CEA, "side": "buy", "quantity": 100_000}
    assert market.post("/v1/block/inquiries", "e2op", inquiry).status_code == 201
    assert market.post("/v1/block/inquiries/Q1/cancel", "e1op").status_code == 404
    withdrawn = market.post("/v1/block/inquiries/Q1/cancel", "e2op")
    assert (withdrawn.status_code, withdrawn.json()["status"]) == (200, "cancelled")
    twice = market.post("/v1/block/inquiries/Q1/cancel", "e2op")
    assert (twice.status_code, twice.json()["code"]) == (422, "unknown_order")
    small = {"id": "C1", "account": "E2", "reply_to": "K1", "quantity": 100, "price": "70.00"}
    assert market.post("/v1/block/counter-offers", "e2op", small).json()["code"] == (
        "quote_not_addressed_to_account"
    )
