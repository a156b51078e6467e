"""Who may call which route: every route of the app, for every person of the fixtures and for
callers without a usable key, checked against `cets.domain.registry.access.RULES`.

A row of `MATRIX` arranges the state its route needs and builds one valid request. The people
the row names as allowed get it carried out (2xx, which proves the request passed
authorisation); every other person gets 403 `not_authorized`; a caller with no key, a malformed,
an unknown, a revoked or an expired key gets 401 `not_authenticated`. The revoked and expired
keys belong to someone allowed on the route, so it is the key that is refused, not the role.

The table is keyed by the app's OpenAPI operations: a new route without a row fails
`test_every_route_of_the_app_has_a_row_in_the_role_matrix`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from cets.domain.compliance.allocation import PlanLine
from cets.domain.compliance.records import EmissionEntry
from cets.domain.policy import Policy
from cets.domain.units import CASH
from cets.service.clock import to_us
from cets.service.compliance import Compliance
from cets.service.exchange import Exchange
from cets.service.funds import Funds
from cets.service.operations import OPERATIONS
from cets.service.people import People
from cets.service.registry import Registry
from conftest import PEOPLE, Api

CEA = "CEA-2024"
STATEMENT_DAY = "2026-03-02"  # the fixtures' day (START, Shanghai)

AUTHORITY = frozenset({"auth1", "auth2"})
REGISTRY = frozenset({"reg1", "reg2"})
SUPERVISOR = frozenset({"sup1"})
BANK = frozenset({"bank1"})
READERS = AUTHORITY | REGISTRY | SUPERVISOR  # read_registry, and read_holder as staff
E1_OPERATORS = frozenset({"e1op", "e1op2"})
OTHER_OPERATORS = frozenset({"e2op", "i1op"})  # operators of holders other than E1
PEOPLE_MANAGERS = AUTHORITY | REGISTRY
EXCHANGE = frozenset({"exch1"})
EVERYONE = frozenset(PEOPLE)
SETTLEMENT_READERS = READERS | EXCHANGE | BANK

# Callers whose key cannot authenticate, and how each is made.
NO_KEY, MALFORMED_KEY, UNKNOWN_KEY, REVOKED_KEY, EXPIRED_KEY = (
    "no-key",
    "malformed-key",
    "unknown-key",
    "revoked-key",
    "expired-key",
)
KEYLESS = (NO_KEY, MALFORMED_KEY, UNKNOWN_KEY, REVOKED_KEY, EXPIRED_KEY)
CALLERS = (*PEOPLE, *KEYLESS)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    json: Any = None
    params: dict[str, str] = field(default_factory=dict)
    csv: str | None = None  # a text/csv body (a bank's statement) instead of JSON
    files: dict[str, Any] | None = None  # a multipart upload (a compliance file) instead


@dataclass(frozen=True)
class Row:
    """A route's case: `prepare` arranges the state and returns the request to send."""

    allowed: frozenset[str]
    prepare: Callable[[Api], Request]
    four_eyes: bool = False  # the route needs a pending four-eyes request
    public: bool = False  # answers without authentication
    # Callers refused with 404 not_found rather than 403, so as not to give away that what they
    # asked for exists (another holder's cancellation certificate).
    hidden: frozenset[str] = frozenset()


# -- arranging state (straight through the registry: no route, no roles) --------------------


def registry(api: Api) -> Registry:
    return Registry(api.store, api.clock)


def with_units(api: Api) -> Registry:
    """1,000 t issued; 500 t of it allocated to E1."""
    reg = registry(api)
    assert reg.issue("seed-issue", CEA, 1000).ok
    assert reg.allocate("seed-allocate", "E1", CEA, 500).ok
    return reg


def with_freeze(api: Api) -> None:
    assert with_units(api).freeze("seed-freeze", "E1", CEA, 100, "F1").ok


def with_pledge(api: Api) -> None:
    assert with_units(api).pledge("seed-pledge", "E1", "E2", CEA, 100, "P1").ok


def with_funds(api: Api) -> None:
    assert registry(api).deposit("seed-deposit", "E1", 100_000).ok


def with_account_freeze(api: Api) -> None:
    assert registry(api).freeze_account("seed-freeze-account", "E1").ok


def with_restriction(api: Api) -> None:
    assert registry(api).restrict("seed-restrict", "E1").ok


def with_cancellation(api: Api) -> None:
    assert with_units(api).cancel("seed-cancel", "E1", CEA, 10, actor="e1op").ok


def with_market(api: Api) -> Exchange:
    """CEA-2023 listed at 60.00 and E1 holding 500 t of it."""
    with_units(api)
    venue = Exchange(api.store, api.clock, Policy())
    assert venue.list_instrument(CEA, 6000, actor="setup").ok
    return venue


def with_resting_order(api: Api) -> None:
    """E1's sell quote S1 resting, and E2 with money to pick it."""
    assert with_market(api).place("S1", "E1", CEA, "sell", 100, 6000, actor="setup").ok
    assert registry(api).deposit("seed-deposit-e2", "E2", 10_000_000).ok


def with_block_quote(api: Api) -> None:
    """E1's block quote K1 of 100,000 t posted in the afternoon, and E2 with money to take it."""
    reg = registry(api)
    assert reg.issue("seed-block-issue", CEA, 100_000).ok
    assert reg.allocate("seed-block-allocate", "E1", CEA, 100_000).ok
    assert reg.deposit("seed-block-deposit", "E2", 700_000_000).ok
    venue = Exchange(api.store, api.clock, Policy())
    assert venue.list_instrument(CEA, 6000, actor="setup").ok
    api.clock.set(api.clock.now().replace(hour=6))  # 14:00 in Shanghai: the block session
    assert venue.place("K1", "E1", CEA, "sell", 100_000, 6000, mode="block", actor="setup").ok


def with_block_negotiation(api: Api) -> None:
    """In the afternoon: E1's block quote K1 of 100,000 t put to E2, E1 holding 100,000 t more,
    E2 with money and an inquiry Q1 of its own."""
    reg = registry(api)
    assert reg.issue("seed-block-issue", CEA, 200_000).ok
    assert reg.allocate("seed-block-allocate", "E1", CEA, 200_000).ok
    assert reg.deposit("seed-block-deposit", "E2", 700_000_000).ok
    venue = Exchange(api.store, api.clock, Policy())
    assert venue.list_instrument(CEA, 6000, actor="setup").ok
    api.clock.set(api.clock.now().replace(hour=6))  # 14:00 in Shanghai: the block session
    assert venue.quote("K1", "E1", CEA, "sell", 100_000, 6000, to="E2", actor="setup").ok
    assert venue.inquire("Q1", "E2", CEA, "buy", 100_000, actor="setup").ok


def with_auction(api: Api) -> Exchange:
    """E1's auction MA1 of 100 t (reserve 50.00, bids 10:00-10:30), E2 with money to bid."""
    venue = with_market(api)
    assert registry(api).deposit("seed-auction-deposit", "E2", 10_000_000).ok
    now = api.clock.now()  # 10:00 in Shanghai
    window = (now, now + timedelta(minutes=30))
    assert venue.open_auction("MA1", "E1", CEA, 100, 5000, "uniform", window=window, actor="x").ok
    return venue


def with_ended_auction(api: Api) -> None:
    """MA1 with one bid, its window over: the exchange may close it."""
    venue = with_auction(api)
    assert venue.bid("seed-bid", "MA1", "E2", 10, 5000, actor="setup").ok
    api.clock.set(api.clock.now() + timedelta(minutes=30))


def with_withdrawal_request(api: Api) -> None:
    """E1 asked its bank (the default one) to pay out 10.00 of its 1,000.00: request W1."""
    with_funds(api)
    assert Funds(api.store, api.clock).request_withdrawal("W1", "E1", 10_00, actor="setup").ok


def statement_upload(api: Api) -> Request:
    csv = "date,reference,account,type,amount\n2026-03-02,R1,E1,deposit,10.00\n"
    return Request("POST", "/v1/funds/statements", csv=csv)


RUN = "R2026-03-02"


def with_day_closed(api: Api, policy: Policy) -> None:
    """E2 bought E1's quote S1 (100 t at 60.00, trade T1) and the day ended at 15:05: run RUN."""
    with_resting_order(api)
    venue = Exchange(api.store, api.clock, policy)
    assert venue.place("B1", "E2", CEA, "buy", 100, 6000, actor="setup").ok
    api.clock.set(api.clock.now().replace(hour=7, minute=5))  # 15:05 in Shanghai
    closed = venue.end_of_day(actor="setup")
    assert closed.ok and closed.message == RUN, closed


def with_settled_day(api: Api) -> None:
    with_day_closed(api, Policy())


def with_prepared_day(api: Api) -> None:
    """As `with_settled_day`, the run left for a person to confirm."""
    with_day_closed(api, Policy(settlement_auto_confirm=False))


def with_pending_issue(api: Api) -> None:
    answer = api.post(
        "/v1/registry/issue", "auth1", {"client_id": "pending-issue", "asset": CEA, "quantity": 5}
    )
    assert answer.status_code == 202, answer.text


def compliance(api: Api) -> Compliance:
    return Compliance(api.store, api.clock, Policy())


def with_plan(api: Api) -> None:
    """`with_units` (500 t of CEA-2024 left in the reserve) and a 2024 plan: E1's line L1."""
    with_units(api)
    line = PlanLine(2024, "E1", "L1", Decimal(1), (), 100)
    assert compliance(api).import_plan("seed-plan", [line]).ok


def with_verified_plan(api: Api) -> None:
    """`with_plan`, with L1's verified output and E1's 2024 emissions (100 t) entered."""
    with_plan(api)
    desk = compliance(api)
    assert desk.record_output("seed-output", 2024, "E1", "L1", 100).ok
    assert desk.enter_emissions("seed-emissions", [EmissionEntry("E1", 2024, 100)]).ok


def with_emissions(api: Api) -> Compliance:
    """`with_units` (E1 allocated 500 t of CEA-2024) and E1's 2024 emissions, 1,000 t."""
    with_units(api)
    desk = compliance(api)
    assert desk.enter_emissions("seed-emissions", [EmissionEntry("E1", 2024, 1000)]).ok
    return desk


def with_pending_offset(api: Api) -> None:
    """`with_emissions`, and E1's offset O1 of 10 t of CCER pending (the cap is 50 t)."""
    desk = with_emissions(api)
    assert registry(api).issue("seed-ccer", "CCER", 100, to="E1").ok
    assert desk.surrender("O1", "E1", 2024, "CCER", 10).ok


def with_next_vintage(api: Api) -> None:
    """`with_emissions` (a gap of 500 t: E1 may borrow 250 t) and CEA-2025 in the reserve."""
    with_emissions(api)
    assert registry(api).issue("seed-2025", "CEA-2025", 1000).ok


def with_alert(api: Api) -> None:
    """Alert AL1 open: E1 sold 100 t to E2 and E2 sold 100 t back at once (a round trip)."""
    venue = with_market(api)
    reg = registry(api)
    assert reg.allocate("seed-allocate-e2", "E2", CEA, 100).ok
    for holder in ("E1", "E2"):
        assert reg.deposit(f"seed-deposit-{holder}", holder, 10_000_000).ok
    for n, (seller, buyer) in enumerate((("E1", "E2"), ("E2", "E1"))):
        assert venue.place(f"S{n}", seller, CEA, "sell", 100, 6000, actor="setup").ok
        assert venue.place(f"B{n}", buyer, CEA, "buy", 100, 6000, actor="setup").ok
    scan = api.post("/v1/supervision/scan", "sup1", {})
    assert scan.status_code == 200 and scan.json()["raised"] == ["AL1"], scan.text


def with_large_holder(api: Api) -> None:
    """Report LH1: I1 allocated 850,000 t, over its reporting threshold (800,000 t)."""
    reg = registry(api)
    assert reg.issue("seed-large-issue", CEA, 1_000_000).ok
    assert reg.allocate("seed-large-allocate", "I1", CEA, 850_000).ok
    scan = api.post("/v1/supervision/scan", "sup1", {})
    assert scan.status_code == 200 and scan.json()["reports"] == ["LH1"], scan.text


def compliance_file(path: str, name: str, text: str) -> Prepare:
    def prepare(api: Api) -> Request:
        files = {"file": (name, text.encode())}
        return Request("POST", path, params={"id": f"matrix-{name}"}, files=files)

    return prepare


Arrange = Callable[[Api], object]
Prepare = Callable[[Api], Request]


def post(path: str, body: dict[str, Any], arrange: Arrange | None = None) -> Prepare:
    def prepare(api: Api) -> Request:
        if arrange is not None:
            arrange(api)
        return Request("POST", path, body)

    return prepare


def get(path: str, arrange: Arrange | None = None, **params: str) -> Prepare:
    def prepare(api: Api) -> Request:
        if arrange is not None:
            arrange(api)
        return Request("GET", path, params=params)

    return prepare


def revoke_a_key_of_sup1(api: Api) -> Request:
    issued = People(api.store, api.clock).issue_key("sup1", actor="setup")
    return Request("DELETE", f"/v1/keys/{issued.id}")


def op(kind: str, body: dict[str, Any], arrange: Arrange | None = None) -> Prepare:
    return post(f"/v1/registry/{kind}", {"client_id": f"matrix-{kind}", **body}, arrange)


HOLDER_E1 = "/v1/holders/E1"
COMPLIANCE = "/v1/compliance"
SUPERVISION = "/v1/supervision"
PLAN_LINE = {"year": 2024, "account": "E1", "line": "L1", "benchmark": "1", "previous_output": 100}
CERTIFICATE = "/v1/certificates/seed-cancel"

MATRIX: dict[str, Row] = {
    "GET /healthz": Row(EVERYONE, get("/healthz"), public=True),
    # registry operations (POST /v1/registry/<kind>)
    "POST /v1/registry/issue": Row(AUTHORITY, op("issue", {"asset": CEA, "quantity": 100})),
    "POST /v1/registry/allocate": Row(
        AUTHORITY, op("allocate", {"to": "E1", "asset": CEA, "quantity": 10}, with_units)
    ),
    "POST /v1/registry/true_up": Row(
        AUTHORITY, op("true_up", {"to": "E1", "asset": CEA, "quantity": -10}, with_units)
    ),
    "POST /v1/registry/forced_surrender": Row(
        AUTHORITY,
        op(
            "forced_surrender",
            {"account": "E1", "asset": CEA, "quantity": 10, "year": 2024},
            with_units,
        ),
    ),
    "POST /v1/registry/transfer": Row(
        E1_OPERATORS,
        op("transfer", {"from": "E1", "to": "E2", "asset": CEA, "quantity": 10}, with_units),
    ),
    "POST /v1/registry/cancel": Row(
        E1_OPERATORS, op("cancel", {"account": "E1", "asset": CEA, "quantity": 10}, with_units)
    ),
    "POST /v1/registry/freeze": Row(
        REGISTRY,
        op("freeze", {"account": "E1", "asset": CEA, "quantity": 10, "ref": "F9"}, with_units),
    ),
    "POST /v1/registry/unfreeze": Row(
        REGISTRY, op("unfreeze", {"ref": "F1", "quantity": 10}, with_freeze)
    ),
    "POST /v1/registry/deduct": Row(
        REGISTRY, op("deduct", {"ref": "F1", "to": "E2", "quantity": 10}, with_freeze)
    ),
    "POST /v1/registry/pledge": Row(
        REGISTRY,
        op(
            "pledge",
            {"account": "E1", "pledgee": "E2", "asset": CEA, "quantity": 10, "ref": "P9"},
            with_units,
        ),
    ),
    "POST /v1/registry/release": Row(REGISTRY, op("release", {"ref": "P1"}, with_pledge)),
    "POST /v1/registry/enforce": Row(
        REGISTRY, op("enforce", {"ref": "P1", "quantity": 10}, with_pledge)
    ),
    "POST /v1/registry/succeed": Row(
        REGISTRY, op("succeed", {"account": "E1", "to": "E2"}, with_units)
    ),
    "POST /v1/registry/restrict": Row(REGISTRY | SUPERVISOR, op("restrict", {"account": "E1"})),
    "POST /v1/registry/unrestrict": Row(
        REGISTRY | SUPERVISOR, op("unrestrict", {"account": "E1"}, with_restriction)
    ),
    "POST /v1/registry/freeze_account": Row(REGISTRY, op("freeze_account", {"account": "E1"})),
    "POST /v1/registry/unfreeze_account": Row(
        REGISTRY, op("unfreeze_account", {"account": "E1"}, with_account_freeze)
    ),
    "POST /v1/registry/begin_closure": Row(REGISTRY, op("begin_closure", {"account": "I1"})),
    "POST /v1/registry/close_account": Row(REGISTRY, op("close_account", {"account": "I1"})),
    "POST /v1/registry/deposit": Row(BANK, op("deposit", {"account": "E1", "amount": "10.00"})),
    "POST /v1/registry/withdraw": Row(
        BANK, op("withdraw", {"account": "E1", "amount": "10.00"}, with_funds)
    ),
    # funds at settlement banks
    "POST /v1/funds/accounts": Row(
        REGISTRY, post("/v1/funds/accounts", {"holder": "E1", "bank": "bank", "number": "62-01"})
    ),
    "GET /v1/funds/{holder}": Row(READERS | E1_OPERATORS, get("/v1/funds/E1", with_funds)),
    "POST /v1/funds/withdrawals": Row(
        REGISTRY | E1_OPERATORS,
        post(
            "/v1/funds/withdrawals",
            {"client_id": "mw1", "account": "E1", "amount": "10.00"},
            with_funds,
        ),
    ),
    "GET /v1/funds/withdrawals": Row(
        READERS | BANK, get("/v1/funds/withdrawals", with_withdrawal_request)
    ),
    "POST /v1/funds/withdrawals/{withdrawal_id}/paid": Row(
        BANK, post("/v1/funds/withdrawals/W1/paid", {}, with_withdrawal_request)
    ),
    "POST /v1/funds/withdrawals/{withdrawal_id}/rejected": Row(
        BANK,
        post("/v1/funds/withdrawals/W1/rejected", {"reason": "closed"}, with_withdrawal_request),
    ),
    "GET /v1/funds/instructions": Row(
        READERS | BANK, get("/v1/funds/instructions", with_withdrawal_request, bank="bank")
    ),
    "POST /v1/funds/statements": Row(BANK, statement_upload),
    # holders
    "POST /v1/holders": Row(
        REGISTRY, post("/v1/holders", {"id": "H9", "kind": "institution", "name": "Nine Co"})
    ),
    "GET /v1/holders": Row(READERS, get("/v1/holders")),
    "GET /v1/holders/{holder}": Row(READERS | E1_OPERATORS, get(HOLDER_E1)),
    "GET /v1/holders/{holder}/positions": Row(
        READERS | E1_OPERATORS, get(f"{HOLDER_E1}/positions", with_units)
    ),
    "GET /v1/holders/{holder}/statement": Row(
        READERS | E1_OPERATORS, get(f"{HOLDER_E1}/statement", with_units, date=STATEMENT_DAY)
    ),
    "GET /v1/holders/{holder}/history": Row(
        READERS | E1_OPERATORS, get(f"{HOLDER_E1}/history", with_units, asset=CEA)
    ),
    "GET /v1/certificates/{cmd_id}": Row(
        READERS | E1_OPERATORS,
        get(CERTIFICATE, with_cancellation),
        hidden=OTHER_OPERATORS,
    ),
    "GET /v1/certificates/{cmd_id}/print": Row(
        READERS | E1_OPERATORS,
        get(f"{CERTIFICATE}/print", with_cancellation),
        hidden=OTHER_OPERATORS,
    ),
    # people, keys, approvals, journal, audit
    "GET /v1/me": Row(EVERYONE, get("/v1/me")),
    # the venue
    "POST /v1/orders": Row(
        E1_OPERATORS,
        post(
            "/v1/orders",
            {"id": "mo1", "account": "E1", "instrument": CEA, "side": "sell"}
            | {"quantity": 10, "price": "60.00"},
            with_market,
        ),
    ),
    "POST /v1/picks": Row(
        frozenset({"e2op"}),
        post(
            "/v1/picks",
            {"id": "mp1", "account": "E2", "quote": "S1", "quantity": 5},
            with_resting_order,
        ),
    ),
    "POST /v1/block-accepts": Row(
        frozenset({"e2op"}),
        post(
            "/v1/block-accepts",
            {"id": "ma1", "account": "E2", "quote": "K1"},
            with_block_quote,
        ),
    ),
    "POST /v1/block/quotes": Row(
        E1_OPERATORS,
        post(
            "/v1/block/quotes",
            {"id": "mk1", "account": "E1", "instrument": CEA, "side": "sell"}
            | {"quantity": 100_000, "price": "60.00", "to": "I1"},
            with_block_negotiation,
        ),
    ),
    "POST /v1/block/inquiries": Row(
        frozenset({"e2op"}),
        post(
            "/v1/block/inquiries",
            {"id": "mq1", "account": "E2", "instrument": CEA, "side": "buy", "quantity": 100_000},
            with_block_negotiation,
        ),
    ),
    "POST /v1/block/counter-offers": Row(
        frozenset({"e2op"}),
        post(
            "/v1/block/counter-offers",
            {"id": "mc1", "account": "E2", "reply_to": "K1", "quantity": 100_000}
            | {"price": "59.00"},
            with_block_negotiation,
        ),
    ),
    "POST /v1/block/inquiries/{inquiry_id}/cancel": Row(
        frozenset({"e2op"}),
        post("/v1/block/inquiries/Q1/cancel", {}, with_block_negotiation),
        hidden=E1_OPERATORS | {"i1op"},
    ),
    # K1 is put to E2: I1's operator is not shown that it exists.
    "GET /v1/block/threads/{thread_id}": Row(
        READERS | EXCHANGE | E1_OPERATORS | {"e2op"},
        get("/v1/block/threads/K1", with_block_negotiation),
        hidden=frozenset({"i1op"}),
    ),
    "GET /v1/orders/{order_id}": Row(
        READERS | EXCHANGE | E1_OPERATORS,
        get("/v1/orders/S1", with_resting_order),
        hidden=OTHER_OPERATORS,
    ),
    "GET /v1/orders": Row(
        READERS | EXCHANGE | E1_OPERATORS, get("/v1/orders", with_resting_order, account="E1")
    ),
    "POST /v1/orders/{order_id}/cancel": Row(
        E1_OPERATORS,
        post("/v1/orders/S1/cancel", {}, with_resting_order),
        hidden=OTHER_OPERATORS,
    ),
    "POST /v1/instruments": Row(
        EXCHANGE, post("/v1/instruments", {"symbol": CEA, "prev_close": "60.00"})
    ),
    "POST /v1/market/{instrument}/halt": Row(
        EXCHANGE, post(f"/v1/market/{CEA}/halt", {}, with_market)
    ),
    "POST /v1/market/{instrument}/resume": Row(
        EXCHANGE, post(f"/v1/market/{CEA}/resume", {}, with_market)
    ),
    "POST /v1/market/end-of-day": Row(
        EXCHANGE | REGISTRY, post("/v1/market/end-of-day", {}, with_market)
    ),
    "GET /v1/market/{instrument}/depth": Row(
        EVERYONE, get(f"/v1/market/{CEA}/depth", with_resting_order), public=True
    ),
    "GET /v1/market/{instrument}/quotes": Row(
        EVERYONE, get(f"/v1/market/{CEA}/quotes", with_resting_order), public=True
    ),
    "GET /v1/market/clock": Row(EVERYONE, get("/v1/market/clock"), public=True),
    "GET /v1/market/instruments": Row(
        EVERYONE, get("/v1/market/instruments", with_market), public=True
    ),
    "GET /v1/market/{instrument}/trades": Row(
        EVERYONE, get(f"/v1/market/{CEA}/trades", with_market), public=True
    ),
    "GET /v1/market/{instrument}/klines": Row(
        EVERYONE, get(f"/v1/market/{CEA}/klines", with_market, interval="1d"), public=True
    ),
    # A live stream never ends by itself: `once` ends it after the depth, so the request returns.
    "GET /v1/market/{instrument}/stream": Row(
        EVERYONE, get(f"/v1/market/{CEA}/stream", with_resting_order, once="true"), public=True
    ),
    # settlement runs (tests/api/test_settlement_api.py)
    "GET /v1/settlement/runs": Row(
        SETTLEMENT_READERS, get("/v1/settlement/runs", with_settled_day)
    ),
    "GET /v1/settlement/runs/{run}": Row(
        SETTLEMENT_READERS, get(f"/v1/settlement/runs/{RUN}", with_settled_day)
    ),
    "GET /v1/settlement/runs/{run}/breaks": Row(
        SETTLEMENT_READERS, get(f"/v1/settlement/runs/{RUN}/breaks", with_settled_day)
    ),
    "GET /v1/settlement/runs/{run}/accounts/{account}": Row(
        SETTLEMENT_READERS | E1_OPERATORS,
        get(f"/v1/settlement/runs/{RUN}/accounts/E1", with_settled_day),
    ),
    "POST /v1/settlement/runs/{run}/confirm": Row(
        REGISTRY, post(f"/v1/settlement/runs/{RUN}/confirm", {"client_id": "c1"}, with_prepared_day)
    ),
    "POST /v1/settlement/runs/{run}/deliver": Row(
        REGISTRY, post(f"/v1/settlement/runs/{RUN}/deliver", {}, with_settled_day)
    ),
    "POST /v1/settlement/runs/{run}/objections": Row(
        REGISTRY | E1_OPERATORS,
        post(
            f"/v1/settlement/runs/{RUN}/objections",
            {"client_id": "o1", "account": "E1", "text": "the price"},
            with_settled_day,
        ),
    ),
    "POST /v1/settlement/corrections": Row(
        REGISTRY,
        post(
            "/v1/settlement/corrections",
            {"client_id": "C1", "corrects": RUN, "reverse": "T1", "reason": "agreed"},
            with_settled_day,
        ),
    ),
    # one-way auctions (an auction of the authority's reserve: tests/api/test_auctions.py)
    "POST /v1/auctions": Row(
        EXCHANGE,
        post(
            "/v1/auctions",
            {"id": "MA9", "seller": "E1", "instrument": CEA, "quantity": 10}
            | {"reserve_price": "50.00", "pricing": "uniform"},
            with_market,
        ),
    ),
    "POST /v1/auctions/{auction_id}/bids": Row(
        frozenset({"e2op"}),
        post(
            "/v1/auctions/MA1/bids",
            {"id": "mb1", "account": "E2", "quantity": 10, "price": "55.00"},
            with_auction,
        ),
    ),
    "POST /v1/auctions/{auction_id}/close": Row(
        EXCHANGE, post("/v1/auctions/MA1/close", {}, with_ended_auction)
    ),
    "GET /v1/auctions/{auction_id}": Row(
        READERS | EXCHANGE | E1_OPERATORS | OTHER_OPERATORS, get("/v1/auctions/MA1", with_auction)
    ),
    "POST /v1/persons": Row(
        PEOPLE_MANAGERS, post("/v1/persons", {"id": "p9", "name": "Nine", "role": "supervisor"})
    ),
    "GET /v1/persons": Row(PEOPLE_MANAGERS, get("/v1/persons")),
    "POST /v1/persons/{person_id}/keys": Row(PEOPLE_MANAGERS, post("/v1/persons/sup1/keys", {})),
    "GET /v1/persons/{person_id}/keys": Row(PEOPLE_MANAGERS, get("/v1/persons/sup1/keys")),
    "DELETE /v1/keys/{key_id}": Row(PEOPLE_MANAGERS, revoke_a_key_of_sup1),
    "GET /v1/approvals": Row(EVERYONE, get("/v1/approvals")),
    # auth1 requested the issue: only the other authority may approve it; either may reject it
    # (the requester's rejection is a withdrawal).
    "POST /v1/approvals/{approval_id}/approve": Row(
        AUTHORITY - {"auth1"},
        post("/v1/approvals/pending-issue/approve", {}, with_pending_issue),
        four_eyes=True,
    ),
    "POST /v1/approvals/{approval_id}/reject": Row(
        AUTHORITY,
        post("/v1/approvals/pending-issue/reject", {"reason": "no"}, with_pending_issue),
        four_eyes=True,
    ),
    # compliance (tests/api/test_compliance_api.py)
    "POST /v1/compliance/periods": Row(
        AUTHORITY, post(f"{COMPLIANCE}/periods", {"id": "mpe", "first_year": 2024})
    ),
    "PUT /v1/compliance/entities/{account}/years": Row(
        AUTHORITY,
        lambda api: Request(
            "PUT", f"{COMPLIANCE}/entities/E1/years", {"id": "my", "first_year": 2020}
        ),
    ),
    "POST /v1/compliance/emissions": Row(
        AUTHORITY,
        post(f"{COMPLIANCE}/emissions", {"id": "me", "account": "E1", "year": 2024, "tonnes": 9}),
    ),
    "POST /v1/compliance/emissions/import": Row(
        AUTHORITY,
        compliance_file(
            f"{COMPLIANCE}/emissions/import", "e.csv", "account,year,tonnes\nE1,2024,9"
        ),
    ),
    "POST /v1/compliance/plans": Row(
        AUTHORITY,
        post(f"{COMPLIANCE}/plans", {"id": "mpl", "lines": [PLAN_LINE]}),
    ),
    "POST /v1/compliance/plans/import": Row(
        AUTHORITY,
        compliance_file(
            f"{COMPLIANCE}/plans/import",
            "p.csv",
            "year,account,line,benchmark,previous_output\n2024,E1,L1,1,100",
        ),
    ),
    "POST /v1/compliance/plans/{year}/outputs": Row(
        AUTHORITY,
        post(
            f"{COMPLIANCE}/plans/2024/outputs",
            {"id": "mo", "account": "E1", "line": "L1", "output": 100},
            with_plan,
        ),
    ),
    "POST /v1/compliance/plans/{year}/pre-allocation": Row(
        AUTHORITY, post(f"{COMPLIANCE}/plans/2024/pre-allocation", {"id": "mpa"}, with_plan)
    ),
    "POST /v1/compliance/plans/{year}/final-allocation": Row(
        AUTHORITY,
        post(f"{COMPLIANCE}/plans/2024/final-allocation", {"id": "mfa"}, with_verified_plan),
    ),
    "POST /v1/compliance/surrenders": Row(
        E1_OPERATORS,
        post(
            f"{COMPLIANCE}/surrenders",
            {"id": "ms", "account": "E1", "year": 2024, "asset": CEA, "quantity": 10},
            with_units,
        ),
    ),
    "POST /v1/compliance/offsets/{offset_id}/use": Row(
        AUTHORITY, post(f"{COMPLIANCE}/offsets/O1/use", {"id": "mu"}, with_pending_offset)
    ),
    "POST /v1/compliance/offsets/{offset_id}/reject": Row(
        AUTHORITY, post(f"{COMPLIANCE}/offsets/O1/reject", {"id": "mr"}, with_pending_offset)
    ),
    "POST /v1/compliance/borrowings": Row(
        AUTHORITY,
        post(
            f"{COMPLIANCE}/borrowings",
            {"id": "mb", "account": "E1", "year": 2024, "quantity": 10},
            with_next_vintage,
        ),
    ),
    "POST /v1/compliance/closes": Row(
        AUTHORITY, post(f"{COMPLIANCE}/closes", {"id": "mc", "year": 2024})
    ),
    # A holder's operator reads the table with its own row only (filtered, not refused).
    "GET /v1/compliance/emissions/{account}/{year}": Row(
        READERS | E1_OPERATORS, get(f"{COMPLIANCE}/emissions/E1/2024", with_units)
    ),
    "GET /v1/compliance/status/{year}": Row(
        READERS | E1_OPERATORS | OTHER_OPERATORS, get(f"{COMPLIANCE}/status/2024", with_units)
    ),
    "GET /v1/compliance/status/{year}/allocations": Row(
        READERS | E1_OPERATORS | OTHER_OPERATORS,
        get(f"{COMPLIANCE}/status/2024/allocations", with_units),
    ),
    "GET /v1/compliance/status/{year}/rates": Row(
        READERS | E1_OPERATORS | OTHER_OPERATORS,
        get(f"{COMPLIANCE}/status/2024/rates", with_units),
    ),
    # supervision (tests/api/test_supervision_api.py): the supervisor's alone
    "GET /v1/supervision/alerts": Row(SUPERVISOR, get(f"{SUPERVISION}/alerts", with_alert)),
    "GET /v1/supervision/alerts/{alert_id}": Row(
        SUPERVISOR, get(f"{SUPERVISION}/alerts/AL1", with_alert)
    ),
    "POST /v1/supervision/alerts/{alert_id}/investigate": Row(
        SUPERVISOR, post(f"{SUPERVISION}/alerts/AL1/investigate", {"id": "mi"}, with_alert)
    ),
    "POST /v1/supervision/alerts/{alert_id}/close": Row(
        SUPERVISOR,
        post(
            f"{SUPERVISION}/alerts/AL1/close",
            {"id": "mcl", "resolution": "no_violation"},
            with_alert,
        ),
    ),
    "POST /v1/supervision/alerts/{alert_id}/measures": Row(
        SUPERVISOR,
        post(
            f"{SUPERVISION}/alerts/AL1/measures",
            {"id": "mm", "measure": "risk_warning_letter", "account": "E1"},
            with_alert,
        ),
    ),
    "POST /v1/supervision/scan": Row(SUPERVISOR, post(f"{SUPERVISION}/scan", {})),
    "GET /v1/supervision/large-holders": Row(
        SUPERVISOR, get(f"{SUPERVISION}/large-holders", with_large_holder)
    ),
    "GET /v1/supervision/large-holders/{report_id}": Row(
        SUPERVISOR, get(f"{SUPERVISION}/large-holders/LH1", with_large_holder)
    ),
    "GET /v1/journal": Row(READERS, get("/v1/journal")),
    "GET /v1/audit": Row(READERS, get("/v1/audit")),
}


def app_operations(api: Api) -> set[str]:
    document = api.client.app.openapi()  # type: ignore[attr-defined]
    return {f"{method.upper()} {path}" for path, ops in document["paths"].items() for method in ops}


def test_every_route_of_the_app_has_a_row_in_the_role_matrix(api_sqlite: Api) -> None:
    assert app_operations(api_sqlite) == set(MATRIX)


def test_every_operation_the_gate_dispatches_has_a_registry_route(api_sqlite: Api) -> None:
    routes = {p.removeprefix("POST /v1/registry/") for p in app_operations(api_sqlite)}
    assert set(OPERATIONS) - routes == set()


def add_unusable_keys(api: Api, owner: str) -> None:
    """Keys of `owner` that no longer authenticate, and two that never did."""
    people = People(api.store, api.clock)
    revoked = people.issue_key(owner, actor="setup")
    people.revoke_key(revoked.id, actor="setup")
    now = api.clock.now()
    expired = people.issue_key(owner, actor="setup", expires_at=to_us(now + timedelta(minutes=1)))
    api.clock.set(now + timedelta(minutes=2))
    api.keys[REVOKED_KEY] = revoked.token
    api.keys[EXPIRED_KEY] = expired.token
    api.keys[MALFORMED_KEY] = "not-a-key"
    api.keys[UNKNOWN_KEY] = f"cets_{'0' * 16}_{'A' * 43}"


def expected(row: Row, caller: str) -> str:
    if row.public:
        return "allowed"
    if caller in KEYLESS:
        return "401 not_authenticated"
    if caller in row.hidden:
        return "404 not_found"
    return "allowed" if caller in row.allowed else "403 not_authorized"


def outcome(answer: httpx.Response, row: Row) -> str:
    """ "allowed" when the request got past authentication and authorisation."""
    if answer.status_code in (401, 403) or (answer.status_code == 404 and row.hidden):
        assert answer.headers["content-type"] == "application/problem+json"
        return f"{answer.status_code} {answer.json()['code']}"
    return "allowed"


def send(api: Api, request: Request, caller: str) -> httpx.Response:
    answer: httpx.Response = api.client.request(
        request.method,
        request.path,
        headers=api.headers(None if caller == NO_KEY else caller)
        | ({} if request.csv is None else {"content-type": "text/csv"}),
        json=request.json,
        content=request.csv,
        files=request.files,
        params=request.params,
    )
    return answer


def journal_length(api: Api) -> int:
    return sum(1 for _ in api.store.journal_entries())


@pytest.fixture
def matrix_api(request: pytest.FixtureRequest) -> Iterator[Api]:
    """`api_four_eyes` for the approval routes, `api_sqlite` for everything else."""
    row = MATRIX[request.node.callspec.params["route"]]
    yield request.getfixturevalue("api_four_eyes" if row.four_eyes else "api_sqlite")


@pytest.mark.parametrize("route", list(MATRIX))
def test_each_caller_gets_from_each_route_what_the_access_rules_give_its_role(
    route: str, matrix_api: Api
) -> None:
    """One app per route: the refused callers go first and must leave no trace; then the first
    allowed caller's request must be carried out (so the request is valid and "allowed" means
    it passed authorisation); the other allowed callers repeat it (a replay, or a refusal on the
    state the first one left, but never 401 or 403)."""
    row = MATRIX[route]
    request = row.prepare(matrix_api)
    add_unusable_keys(matrix_api, min(row.allowed))
    allowed = [c for c in CALLERS if expected(row, c) == "allowed"]
    refused = [c for c in CALLERS if c not in allowed]

    before = journal_length(matrix_api)
    outcomes = {caller: outcome(send(matrix_api, request, caller), row) for caller in refused}
    assert journal_length(matrix_api) == before, "a refused caller changed something"
    first = send(matrix_api, request, allowed[0])
    assert first.is_success, f"{allowed[0]}: {first.status_code} {first.text}"
    outcomes |= {caller: outcome(send(matrix_api, request, caller), row) for caller in allowed}

    assert outcomes == {caller: expected(row, caller) for caller in CALLERS}


# -- ownership: a holder's operator acts on its own holder only (both databases) -------------


def e1op_acts_on(api: Api, holder: str, action: str) -> httpx.Response:
    """What e1op sends to read or move `holder`'s units and funds."""
    other = "E2" if holder == "E1" else "E1"
    reads: dict[str, tuple[str, dict[str, str]]] = {
        "holder": (f"/v1/holders/{holder}", {}),
        "positions": (f"/v1/holders/{holder}/positions", {}),
        "statement": (f"/v1/holders/{holder}/statement", {"date": STATEMENT_DAY}),
        "statement as csv": (
            f"/v1/holders/{holder}/statement",
            {"date": STATEMENT_DAY, "format": "csv"},
        ),
        "history": (f"/v1/holders/{holder}/history", {"asset": CEA}),
        "funds history": (f"/v1/holders/{holder}/history", {"asset": CASH}),
        "certificate": (f"/v1/certificates/cancel-{holder}", {}),
        "printed certificate": (f"/v1/certificates/cancel-{holder}/print", {}),
    }
    moves: dict[str, tuple[str, dict[str, Any]]] = {
        "transfer": (
            "/v1/registry/transfer",
            {"client_id": f"t-{holder}", "from": holder, "to": other, "asset": CEA, "quantity": 10},
        ),
        "cancel": (
            "/v1/registry/cancel",
            {"client_id": f"c-{holder}", "account": holder, "asset": CEA, "quantity": 10},
        ),
    }
    if action in moves:
        path, body = moves[action]
        request = Request("POST", path, body)
    else:
        path, params = reads[action]
        request = Request("GET", path, params=params)
    return send(api, request, "e1op")


OWNER_ACTIONS = (
    "holder",
    "positions",
    "statement",
    "statement as csv",
    "history",
    "funds history",
    "certificate",
    "printed certificate",
    "transfer",
    "cancel",
)


@pytest.fixture
def two_holders(api: Api) -> Api:
    """E1 and E2 with 500 t, 100.00 yuan and one cancellation of 10 t each."""
    reg = registry(api)
    assert reg.issue("seed-issue", CEA, 1000).ok
    for holder in ("E1", "E2"):
        assert reg.allocate(f"seed-{holder}", holder, CEA, 500).ok
        assert reg.deposit(f"fund-{holder}", holder, 10_000).ok
        assert reg.cancel(f"cancel-{holder}", holder, CEA, 10, actor="setup").ok
    return api


def holding(api: Api, holder: str) -> int:
    accounts = api.store.accounts_of(holder)
    return sum(a.balance for a in accounts if (a.purpose, a.asset) == ("holding", CEA))


def test_a_holder_operator_may_read_and_move_its_own_holders_units_and_funds(
    two_holders: Api,
) -> None:
    statuses = {
        action: e1op_acts_on(two_holders, "E1", action).status_code for action in OWNER_ACTIONS
    }
    assert statuses == {
        action: 201 if action in ("transfer", "cancel") else 200 for action in OWNER_ACTIONS
    }
    assert (holding(two_holders, "E1"), holding(two_holders, "E2")) == (470, 500)


def test_a_holder_operator_is_refused_every_read_and_move_of_another_holders_units_and_funds(
    two_holders: Api,
) -> None:
    answers = {action: e1op_acts_on(two_holders, "E2", action) for action in OWNER_ACTIONS}
    refusals = {
        action: (a.status_code, a.headers["content-type"], a.json()["code"])
        for action, a in answers.items()
    }
    refused = (403, "application/problem+json", "not_authorized")
    # Another holder's certificate is "not found", as if it did not exist: a 403 would say it does.
    hidden = (404, "application/problem+json", "not_found")
    assert refusals == {
        action: hidden if "certificate" in action else refused for action in OWNER_ACTIONS
    }
    assert (holding(two_holders, "E1"), holding(two_holders, "E2")) == (490, 490)


def test_an_operator_without_the_transfer_permission_may_read_but_not_move_units(
    api_sqlite: Api,
) -> None:
    with_units(api_sqlite)
    person = {"id": "e1read", "name": "Reader", "role": "key_emitter", "holder": "E1"}
    added = api_sqlite.post("/v1/persons", "reg1", {**person, "permissions": ["read"]})
    assert added.status_code == 201, added.text
    key = api_sqlite.post("/v1/persons/e1read/keys", "reg1", {})
    assert key.status_code == 201, key.text
    api_sqlite.keys["e1read"] = key.json()["key"]

    assert api_sqlite.get("/v1/holders/E1/positions", "e1read").status_code == 200
    body = {"client_id": "t1", "from": "E1", "to": "E2", "asset": CEA, "quantity": 10}
    moved = api_sqlite.post("/v1/registry/transfer", "e1read", body)
    cancelled = api_sqlite.post(
        "/v1/registry/cancel",
        "e1read",
        {"client_id": "c1", "account": "E1", "asset": CEA, "quantity": 10},
    )
    assert [moved.status_code, cancelled.status_code] == [403, 403]
    assert holding(api_sqlite, "E1") == 500


def test_an_operator_sees_the_approval_requests_of_its_own_holder_only(
    api_four_eyes: Api,
) -> None:
    reg = registry(api_four_eyes)
    assert reg.issue("seed-issue", CEA, 300_000).ok
    assert reg.allocate("seed-allocate", "E1", CEA, 200_000).ok
    body = {"client_id": "big", "from": "E1", "to": "E2", "asset": CEA, "quantity": 150_000}
    assert api_four_eyes.post("/v1/registry/transfer", "e1op", body).status_code == 202

    def visible(person: str) -> list[str]:
        answer = api_four_eyes.get("/v1/approvals", person)
        assert answer.status_code == 200, answer.text
        return [a["id"] for a in answer.json()["items"]]

    assert visible("e1op2") == ["big"]
    assert visible("e2op") == []
    assert visible("reg1") == []  # staff may not transfer, so may not decide it either
