"""The reads the dashboard needs: the instruments (listed and history-only), an account's orders,
the quotes a pick may take, what a holder has traded but not yet received or delivered, and the
daily K-line of a day still trading."""

from __future__ import annotations

from datetime import date

from cets.adapters.sql.bars import DailyBar, write_bars
from cets.domain.policy import Policy
from cets.service.exchange import Exchange
from cets.service.registry import Registry
from conftest import Api

CEA = "CEA-2024"


def market(api: Api) -> Exchange:
    """CEA-2024 listed at 60.00; E1 holds 5,000 t, E2 and I1 have money."""
    reg = Registry(api.store, api.clock)
    assert reg.issue("issue", CEA, 10_000).ok
    assert reg.allocate("allocate", "E1", CEA, 5_000).ok
    assert reg.deposit("deposit-E2", "E2", 100_000_000).ok
    assert reg.deposit("deposit-I1", "I1", 100_000_000).ok
    venue = Exchange(api.store, api.clock, Policy())
    assert venue.list_instrument(CEA, 6000, actor="setup").ok
    return venue


def test_instruments_are_those_listed_and_those_with_imported_history(api: Api) -> None:
    market(api)
    with api.store.engine.begin() as conn:
        write_bars(
            conn, [DailyBar("HBEA", date(2014, 4, 2), 2100, 2100, 2100, 2100, 510, 1_071_000)]
        )
    answer = api.get("/v1/market/instruments", None)
    assert answer.status_code == 200
    assert answer.json()["instruments"] == [
        {
            "symbol": CEA,
            "listed": True,
            "halted": False,
            "prev_close": "60.00",
            "bars": 0,
            "first_day": None,
            "last_day": None,
        },
        {
            "symbol": "HBEA",
            "listed": False,
            "halted": False,
            "prev_close": None,
            "bars": 1,
            "first_day": "2014-04-02",
            "last_day": "2014-04-02",
        },
    ]


def test_an_operator_lists_their_own_orders_and_only_open_ones_when_asked(api: Api) -> None:
    venue = market(api)
    assert venue.place("S1", "E1", CEA, "sell", 100, 6050, actor="e1op").ok
    assert venue.place("S2", "E1", CEA, "sell", 50, 6100, actor="e1op").ok
    assert venue.place("B1", "E2", CEA, "buy", 50, 6100, actor="e2op").ok  # half of S1
    mine = api.get("/v1/orders", "e1op").json()
    assert mine["account"] == "E1"
    assert [(o["id"], o["status"], o["filled"]) for o in mine["orders"]] == [
        ("S1", "partially_filled", 50),
        ("S2", "open", 0),
    ]
    assert api.get("/v1/orders", "e2op").json()["orders"][0]["id"] == "B1"
    assert api.get("/v1/orders", "e2op", open="true").json()["orders"] == []  # B1 filled
    refused = api.get("/v1/orders", "e2op", account="E1")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_authorized")
    staff = api.get("/v1/orders", "sup1")
    assert (staff.status_code, staff.json()["field"]) == (422, "account")
    assert len(api.get("/v1/orders", "sup1", account="E1").json()["orders"]) == 2


def test_quotes_are_the_resting_orders_of_the_best_levels_without_their_holder(api: Api) -> None:
    venue = market(api)
    for i in range(7):  # seven ask levels: only the best five may be picked
        assert venue.place(f"S{i}", "E1", CEA, "sell", 10 + i, 6010 + 10 * i, actor="e1op").ok
    assert venue.place("S0b", "E1", CEA, "sell", 5, 6010, actor="e1op").ok  # behind S0
    assert venue.place("B1", "E2", CEA, "buy", 20, 5990, actor="e2op").ok
    quotes = api.get(f"/v1/market/{CEA}/quotes", None).json()["quotes"]
    assert [(q["id"], q["side"], q["price"], q["quantity"]) for q in quotes] == [
        ("B1", "buy", "59.90", 20),
        ("S0", "sell", "60.10", 10),
        ("S0b", "sell", "60.10", 5),
        ("S1", "sell", "60.20", 11),
        ("S2", "sell", "60.30", 12),
        ("S3", "sell", "60.40", 13),
        ("S4", "sell", "60.50", 14),
    ]
    assert "account" not in quotes[0]
    assert api.get("/v1/market/CEA-2031/quotes", None).status_code == 404


def test_positions_show_what_is_traded_but_not_yet_settled_until_the_day_closes(
    api: Api,
) -> None:
    venue = market(api)
    assert venue.place("S1", "E1", CEA, "sell", 100, 6000, actor="e1op").ok
    assert venue.place("B1", "I1", CEA, "buy", 40, 6000, actor="i1op").ok
    seller = api.get("/v1/holders/E1/positions", "e1op").json()
    buyer = api.get("/v1/holders/I1/positions", "i1op").json()
    assert seller["undelivered"] == {CEA: {"bought": 0, "sold": 40}}
    assert buyer["undelivered"] == {CEA: {"bought": 40, "sold": 0}}
    assert CEA not in buyer["holdings"]  # delivered at the day's settlement, not before

    # Today's trades make today's daily bar before the close writes it.
    day = api.get(f"/v1/market/{CEA}/klines", None, interval="1d").json()["bars"]
    assert [(b["time"], b["close"], b["volume"]) for b in day] == [("2026-03-02", "60.00", 40)]

    api.clock.set(api.clock.now().replace(hour=7, minute=5))  # 15:05 in Shanghai
    assert venue.end_of_day(actor="setup").ok
    after = api.get("/v1/holders/I1/positions", "i1op").json()
    assert after["undelivered"] == {}
    assert after["holdings"][CEA]["total"] == 40
    closed = api.get(f"/v1/market/{CEA}/klines", None, interval="1d").json()["bars"]
    assert [(b["time"], b["volume"]) for b in closed] == [("2026-03-02", 40)]  # not twice


def test_the_journal_tail_is_the_last_entries_oldest_first(api: Api) -> None:
    market(api)
    every = api.get("/v1/journal", "auth1", limit=1000).json()["items"]
    tail = api.get("/v1/journal", "auth1", tail="true", limit=3).json()["items"]
    assert len(every) > 3
    assert [e["seq"] for e in tail] == [e["seq"] for e in every[-3:]]
    whole = api.get("/v1/journal", "auth1", tail="true", limit=1000).json()["items"]
    assert whole == every  # fewer entries than the limit: all of them


def test_allocations_are_each_entitys_units_of_the_counted_vintages_net_of_true_ups(
    api: Api,
) -> None:
    reg = Registry(api.store, api.clock)
    for vintage in ("CEA-2023", "CEA-2024"):
        assert reg.issue(f"issue-{vintage}", vintage, 100_000).ok
    assert reg.allocate("a1", "E1", "CEA-2024", 5_000).ok
    assert reg.allocate("a2", "E1", "CEA-2023", 7_000).ok  # another year's vintage
    assert reg.allocate("a3", "E2", "CEA-2024", 3_000).ok
    assert reg.true_up("t1", "E2", "CEA-2024", -500).ok  # a recovery
    answer = api.get("/v1/compliance/status/2024/allocations", "auth1").json()
    assert answer["vintages"] == ["CEA-2024"]
    assert answer["allocations"] == {"E1": 5_000, "E2": 2_500}
    own = api.get("/v1/compliance/status/2024/allocations", "e2op").json()
    assert own["allocations"] == {"E2": 2_500}  # an operator sees its own entity only
