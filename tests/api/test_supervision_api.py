"""Supervision over HTTP (`/v1/supervision`), on Monday 2026-03-02 at 10:00 in Shanghai (the
morning session).

E3 and E4 are key emitters controlled by G1, as E2 is. E2 sells 100 t of CEA-2024 at 60.00 to E3
(orders S1 and B1, trade T1), then 50 t to E4 (S2, B2, T2): the scan raises two wash-trade
alerts, AL1 (E2 and E3) and AL2 (E2 and E4). The supervisor takes AL1 up, restricts E3 and
closes it as `measures_taken`. Nobody but the supervisor reads or touches any of it.
"""

from __future__ import annotations

from typing import Any

import httpx

from cets.domain.policy import Policy
from cets.domain.registry.holders import Holder
from cets.service.exchange import Exchange
from cets.service.registry import Registry
from conftest import Api

V = "/v1/supervision"
CEA = "CEA-2024"
DAY = "2026-03-02"  # conftest.START's day, in Shanghai
PROBLEM_JSON = "application/problem+json"
NOT_SUPERVISORS = ("auth1", "reg1", "e2op")  # the authority, the registry, a holder's operator


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def assert_problem(
    answer: httpx.Response, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    assert (answer.status_code, answer.headers["content-type"]) == (status, PROBLEM_JSON), (
        answer.text
    )
    body: dict[str, Any] = answer.json()
    assert (body["code"], body.get("field")) == (code, field), body
    return body


def wash_trades(api: Api) -> None:
    """E2 sells 100 t to E3 (S1, B1: T1) and 50 t to E4 (S2, B2: T2), all three under G1."""
    reg = Registry(api.store, api.clock)
    for holder in ("E3", "E4"):
        opened = reg.open_holder(Holder(holder, "key_emitter", f"Plant {holder}", "G1"), actor="t")
        assert opened.ok
        assert reg.deposit(f"seed-deposit-{holder}", holder, 10_000_000).ok
    assert reg.issue("seed-issue", CEA, 1_000).ok
    assert reg.allocate("seed-allocate", "E2", CEA, 500).ok
    venue = Exchange(api.store, api.clock, Policy())
    assert venue.list_instrument(CEA, 6000, actor="setup").ok
    assert venue.place("S1", "E2", CEA, "sell", 100, 6000, actor="setup").ok
    assert venue.place("B1", "E3", CEA, "buy", 100, 6000, actor="setup").ok
    assert venue.place("S2", "E2", CEA, "sell", 50, 6000, actor="setup").ok
    assert venue.place("B2", "E4", CEA, "buy", 50, 6000, actor="setup").ok


def scanned(api: Api) -> dict[str, Any]:
    wash_trades(api)
    found: dict[str, Any] = ok(api.post(f"{V}/scan", "sup1", {}))
    return found


def journal_length(api: Api) -> int:
    return sum(1 for _ in api.store.journal_entries())


# -- the scan and the alerts ------------------------------------------------------------------


def test_the_scan_raises_each_wash_trade_once_with_its_evidence(api: Api) -> None:
    found = scanned(api)
    assert (found["raised"], found["updated"], found["reports"]) == (["AL1", "AL2"], [], [])
    assert isinstance(found["seq"], int)
    again = ok(api.post(f"{V}/scan", "sup1", {"from": DAY, "to": DAY}))
    assert again == {"raised": [], "updated": [], "reports": [], "seq": None}

    items = ok(api.get(f"{V}/alerts", "sup1"))["items"]
    assert [a["id"] for a in items] == ["AL1", "AL2"]  # in the order raised
    first = items[0]
    assert {k: first[k] for k in ("type", "severity", "state", "resolution", "instrument")} == {
        "type": "wash_trade",
        "severity": "medium",
        "state": "open",
        "resolution": None,
        "instrument": CEA,
    }
    assert (first["day"], first["accounts"], first["orders"], first["trades"]) == (
        DAY,
        ["E2", "E3"],
        ["B1", "S1"],
        ["T1"],
    )
    assert "G1" in first["explanation"] and "T1" in first["explanation"]
    assert first["detected_at"] == first["updated_at"] == f"{DAY}T10:00:00+08:00"
    assert (items[1]["accounts"], items[1]["trades"]) == (["E2", "E4"], ["T2"])


def test_the_alert_shows_its_history_and_the_orders_and_trades_it_names(api_sqlite: Api) -> None:
    seq = scanned(api_sqlite)["seq"]
    detail = ok(api_sqlite.get(f"{V}/alerts/AL1", "sup1"))
    assert detail["alert"]["id"] == "AL1"
    assert [
        (x["action"], x["state"], x["actor"], x["command"], x["seq"]) for x in detail["history"]
    ] == [("raised", "open", "sup1", None, seq)]
    orders = {o["id"]: o for o in detail["orders"]}
    assert list(orders) == ["B1", "S1"]
    assert (orders["B1"]["account"], orders["B1"]["side"], orders["B1"]["price"]) == (
        "E3",
        "buy",
        "60.00",
    )
    assert (orders["S1"]["status"], orders["S1"]["filled"], orders["S1"]["remaining"]) == (
        "filled",
        100,
        0,
    )
    assert detail["trades"] == [
        {
            "id": "T1",
            "instrument": CEA,
            "mode": "listed",
            "buyer": "E3",
            "seller": "E2",
            "price": "60.00",
            "quantity": 100,
            "at": f"{DAY}T10:00:00+08:00",
            "buy_order": "B1",
            "sell_order": "S1",
        }
    ]


def test_alerts_are_filtered_and_paged(api_sqlite: Api) -> None:
    scanned(api_sqlite)

    def ids(**params: object) -> list[str]:
        return [a["id"] for a in ok(api_sqlite.get(f"{V}/alerts", "sup1", **params))["items"]]

    assert ids(account="E4") == ["AL2"]
    assert ids(account="E2") == ["AL1", "AL2"]
    assert ids(account="E1") == []
    assert ids(type="wash_trade", state="open") == ["AL1", "AL2"]
    assert ids(type="spoofing") == [] and ids(state="closed") == []
    assert ids(**{"from": DAY, "to": DAY}) == ["AL1", "AL2"]
    assert ids(**{"from": "2026-03-03"}) == [] and ids(to="2026-03-01") == []
    page = ok(api_sqlite.get(f"{V}/alerts", "sup1", limit=1))
    assert ([a["id"] for a in page["items"]], page["next_offset"]) == (["AL1"], 1)
    last = ok(api_sqlite.get(f"{V}/alerts", "sup1", limit=1, offset=1))
    assert [a["id"] for a in last["items"]] == ["AL2"]
    assert ok(api_sqlite.get(f"{V}/alerts", "sup1", limit=5))["next_offset"] is None

    backwards = api_sqlite.get(f"{V}/alerts", "sup1", **{"from": "2026-03-03", "to": DAY})
    assert_problem(backwards, 422, "invalid_field", "from")
    assert_problem(
        api_sqlite.get(f"{V}/alerts", "sup1", state="shut"), 422, "invalid_field", "state"
    )
    assert_problem(api_sqlite.get(f"{V}/alerts", "sup1", limit=1001), 422, "invalid_field", "limit")


def test_a_scan_from_a_day_after_its_last_is_refused(api_sqlite: Api) -> None:
    body = {"from": "2026-03-03", "to": DAY}
    assert_problem(api_sqlite.post(f"{V}/scan", "sup1", body), 422, "invalid_field", "from")
    wrong = {"from": "3 March"}
    assert_problem(api_sqlite.post(f"{V}/scan", "sup1", wrong), 422, "invalid_field", "from")
    assert (
        ok(api_sqlite.client.post(f"{V}/scan", headers=api_sqlite.headers("sup1")))["seq"] is None
    )


# -- the workflow -----------------------------------------------------------------------------


def holder_state(api: Api, holder: str) -> str:
    state: str = ok(api.get(f"/v1/holders/{holder}", "reg1"))["state"]
    return state


def test_investigate_restrict_and_close_each_recorded_with_its_actor(api: Api) -> None:
    scanned(api)
    taken = ok(api.post(f"{V}/alerts/AL1/investigate", "sup1", {"id": "inv-1"}), 201)
    assert (taken["status"], taken["replayed"]) == ("accepted", False)
    again = ok(api.post(f"{V}/alerts/AL1/investigate", "sup1", {"id": "inv-1"}))
    assert (again["replayed"], again["seq"]) == (True, taken["seq"])  # the first answer, 200

    # Two accounts in the alert: the measure must name one.
    no_account = {"id": "m-0", "measure": "restrict_account"}
    assert_problem(
        api.post(f"{V}/alerts/AL1/measures", "sup1", no_account), 422, "invalid_field", "account"
    )
    measure = {"id": "m-1", "measure": "restrict_account", "account": "E3"}
    ok(api.post(f"{V}/alerts/AL1/measures", "sup1", measure), 201)
    assert holder_state(api, "E3") == "restricted"
    twice = {"id": "m-2", "measure": "restrict_account", "account": "E3"}
    refused = api.post(f"{V}/alerts/AL1/measures", "sup1", twice)
    assert_problem(refused, 409, "account_state_does_not_allow", "account")

    close = {"id": "close-1", "resolution": "measures_taken", "note": "E3 restricted"}
    ok(api.post(f"{V}/alerts/AL1/close", "sup1", close), 201)
    assert ok(api.post(f"{V}/alerts/AL1/close", "sup1", close))["replayed"] is True

    detail = ok(api.get(f"{V}/alerts/AL1", "sup1"))
    alert = detail["alert"]
    assert (alert["state"], alert["resolution"]) == ("closed", "measures_taken")
    assert alert["updated_at"] >= alert["detected_at"]
    assert [
        (x["action"], x["state"], x["measure"], x["account"], x["command"], x["actor"])
        for x in detail["history"]
    ] == [
        ("raised", "open", None, None, None, "sup1"),
        ("investigate", "investigating", None, None, "inv-1", "sup1"),
        ("measure", "investigating", "restrict_account", "E3", "m-1", "sup1"),
        ("close", "closed", None, None, "close-1", "sup1"),
    ]
    assert "AL1" in detail["history"][2]["text"]  # the measure's text tells the alert's story
    assert detail["history"][3]["text"] == "E3 restricted"
    assert [a["id"] for a in ok(api.get(f"{V}/alerts", "sup1", state="closed"))["items"]] == ["AL1"]


def test_a_closed_alert_takes_no_measure_and_cannot_be_taken_up_again(api_sqlite: Api) -> None:
    scanned(api_sqlite)
    close = {"id": "close-1", "resolution": "no_violation"}
    ok(api_sqlite.post(f"{V}/alerts/AL2/close", "sup1", close), 201)
    text = "Dear E4,\nplease explain these trades."
    letter = {"id": "m-1", "measure": "risk_warning_letter", "account": "E4", "text": text}
    late = api_sqlite.post(f"{V}/alerts/AL2/measures", "sup1", letter)
    assert_problem(late, 409, "alert_state_does_not_allow", "alert")
    again = api_sqlite.post(f"{V}/alerts/AL2/investigate", "sup1", {"id": "inv-1"})
    assert again.status_code == 409 and again.json()["code"] == "alert_state_does_not_allow"
    # The refusal is the command's answer for good: the same id again gets it again.
    assert api_sqlite.post(f"{V}/alerts/AL2/measures", "sup1", letter).status_code == 409
    assert holder_state(api_sqlite, "E4") == "normal"


def test_an_alert_there_is_not_is_404_unknown_alert(api_sqlite: Api) -> None:
    scanned(api_sqlite)
    assert_problem(api_sqlite.get(f"{V}/alerts/AL9", "sup1"), 404, "unknown_alert", "alert")
    commands = {
        "investigate": {"id": "c-1"},
        "close": {"id": "c-2", "resolution": "no_violation"},
        "measures": {"id": "c-3", "measure": "freeze", "account": "E3"},
    }
    for path, body in commands.items():
        answer = api_sqlite.post(f"{V}/alerts/AL9/{path}", "sup1", body)
        assert_problem(answer, 404, "unknown_alert", "alert")
    assert holder_state(api_sqlite, "E3") == "normal"


def test_a_resolution_or_measure_of_no_known_kind_is_422_naming_it(api_sqlite: Api) -> None:
    scanned(api_sqlite)
    bad = {"id": "c-1", "resolution": "forgiven"}
    assert_problem(
        api_sqlite.post(f"{V}/alerts/AL1/close", "sup1", bad), 422, "invalid_field", "resolution"
    )
    worse = {"id": "c-2", "measure": "fine", "account": "E3"}
    assert_problem(
        api_sqlite.post(f"{V}/alerts/AL1/measures", "sup1", worse), 422, "invalid_field", "measure"
    )
    extra = {"id": "c-3", "colour": "red"}
    assert_problem(
        api_sqlite.post(f"{V}/alerts/AL1/investigate", "sup1", extra),
        422,
        "invalid_field",
        "colour",
    )
    assert ok(api_sqlite.get(f"{V}/alerts/AL1", "sup1"))["alert"]["state"] == "open"


def test_nobody_but_the_supervisor_reads_or_acts(api_sqlite: Api) -> None:
    scanned(api_sqlite)
    before = journal_length(api_sqlite)
    reads = (f"{V}/alerts", f"{V}/alerts/AL1", f"{V}/large-holders", f"{V}/large-holders/LH1")
    writes: dict[str, dict[str, Any]] = {
        f"{V}/scan": {},
        f"{V}/alerts/AL1/investigate": {"id": "x-1"},
        f"{V}/alerts/AL1/close": {"id": "x-2", "resolution": "no_violation"},
        f"{V}/alerts/AL1/measures": {"id": "x-3", "measure": "freeze", "account": "E3"},
    }
    for person in NOT_SUPERVISORS:
        for path in reads:
            assert_problem(api_sqlite.get(path, person), 403, "not_authorized")
        for path, body in writes.items():
            assert_problem(api_sqlite.post(path, person, body), 403, "not_authorized")
    assert journal_length(api_sqlite) == before
    assert ok(api_sqlite.get(f"{V}/alerts/AL1", "sup1"))["alert"]["state"] == "open"
    assert holder_state(api_sqlite, "E3") == "normal"
    assert_problem(api_sqlite.get(f"{V}/alerts", None), 401, "not_authenticated")


# -- large holders ----------------------------------------------------------------------------


def test_a_holder_crossing_its_reporting_threshold_is_reported(api_sqlite: Api) -> None:
    """I1 (an individual: 1,000,000 t at most, reported from 800,000 t) is allocated 850,000 t."""
    reg = Registry(api_sqlite.store, api_sqlite.clock)
    assert reg.issue("seed-issue", CEA, 1_000_000).ok
    assert reg.allocate("seed-allocate", "I1", CEA, 850_000).ok
    found = ok(api_sqlite.post(f"{V}/scan", "sup1", {}))
    assert (found["raised"], found["reports"]) == (["AL1"], ["LH1"])
    items = ok(api_sqlite.get(f"{V}/large-holders", "sup1"))["items"]
    assert len(items) == 1
    report = items[0]
    assert {k: v for k, v in report.items() if k not in ("transfer", "crossed_at")} == {
        "id": "LH1",
        "holder": "I1",
        "asset": CEA,
        "position": 850_000,
        "threshold": 800_000,
        "limit": 1_000_000,
        "history": [{"day": DAY, "position": 850_000, "change": 850_000}],
        "alert": "AL1",
    }
    assert report["transfer"] and report["crossed_at"] == f"{DAY}T10:00:00+08:00"
    assert ok(api_sqlite.get(f"{V}/large-holders/LH1", "sup1")) == report
    assert ok(api_sqlite.get(f"{V}/large-holders", "sup1", holder="E1"))["items"] == []
    assert ok(api_sqlite.get(f"{V}/alerts/AL1", "sup1"))["alert"]["type"] == "large_holder"
    assert_problem(api_sqlite.get(f"{V}/large-holders/LH9", "sup1"), 404, "not_found")
