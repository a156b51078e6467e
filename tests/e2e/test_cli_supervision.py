"""`cets supervision ...` end to end: the installed `cets` console script as subprocesses on a
real SQLite file made by `cets init`, acting as a supervisor (`--as sup`) and, to be refused, as
the authority `cets init` creates (`admin`).

The story (2024-03-04): E1 and E2 share controller G1; E1 sells E2 300 t at 60.00 at 10:00 (a
wash trade), the day closes. `cets supervision scan` raises the wash-trade alert with its
evidence; the supervisor investigates, restricts E2 (which can then no longer transfer), closes
the alert as `measures_taken`. E2's units cross 80% of a 1,000 t position limit, so the same
scan also files a large-holder report with E2's position history (and one for E1, whose
5,000 t allocation crossed it at once).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import Policy, PositionLimit
from cets.domain.registry.access import Person, Role
from cets.domain.registry.holders import Holder
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.exchange import Exchange
from cets.service.people import People
from cets.service.registry import Registry
from cli_support import ok, refused

SUP = ("--as", "sup")
CONFIG = "position_limit: {key_emitter_extra_t: 1000, other_t: 1000}\n"


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/cets.db"
    ok("init", db=url)
    store = SqlStore.open(url)
    clock = SettableClock(datetime(2024, 3, 4, 9, tzinfo=SHANGHAI))
    reg = Registry(store, clock)
    policy = Policy(position_limit=PositionLimit(1_000, 1_000))
    exchange = Exchange(store, clock, policy)
    people = People(store, clock)
    people.add(Person("sup", "Supervisor", Role.supervisor), actor="setup")
    for holder in ("E1", "E2"):
        assert reg.open_holder(Holder(holder, "institution", holder, "G1"), actor="setup").ok
    people.add(Person("op2", "E2's operator", Role.investor, "E2"), actor="setup")
    assert reg.issue("iss", "CEA-2023", 100_000).ok
    assert reg.allocate("a1", "E1", "CEA-2023", 5_000).ok
    assert reg.allocate("a2", "E2", "CEA-2023", 600).ok
    assert reg.deposit("d2", "E2", 10_000_000).ok
    assert exchange.list_instrument("CEA-2023", 6000, actor="setup").ok
    clock.set(datetime(2024, 3, 4, 10, tzinfo=SHANGHAI))
    assert exchange.place("S1", "E1", "CEA-2023", "sell", 300, 6000, actor="E1").ok
    assert exchange.place("B1", "E2", "CEA-2023", "buy", 300, 6000, actor="E2").ok
    clock.set(datetime(2024, 3, 4, 15, 5, tzinfo=SHANGHAI))
    assert exchange.end_of_day(actor="setup").ok
    store.close()
    return url


def as_json(*args: str, db: str) -> Any:
    return json.loads(ok(*args, "--json", *SUP, db=db))


def test_a_supervisor_scans_investigates_restricts_and_closes(db: str, tmp_path: Path) -> None:
    config = tmp_path / "policy.yaml"
    config.write_text(CONFIG)
    at = ("--at", "2024-03-04T15:10:00")
    scan = json.loads(
        ok("supervision", "scan", "--json", "--config", str(config), *at, *SUP, db=db)
    )
    alerts = as_json("supervision", "alerts", db=db)
    wash = [a for a in alerts if a["type"] == "wash_trade"]
    assert [(a["id"], a["accounts"], a["trades"]) for a in wash] == [
        (wash[0]["id"], ["E1", "E2"], ["T1"])
    ]
    # Both cross 800 t: E1 by its allocation of 5,000 t, E2 by the 300 t it bought.
    assert wash[0]["id"] in scan["raised"] and scan["reports"] == ["LH1", "LH2"]
    alert = wash[0]["id"]
    shown = as_json("supervision", "show", alert, db=db)
    assert [t["id"] for t in shown["evidence"]["trades"]] == ["T1"]
    assert {o["id"] for o in shown["evidence"]["orders"]} == {"S1", "B1"}
    assert shown["evidence"]["trades"][0]["price"] == "60.00"

    # The authority may not touch supervision: not_authorized, exit 1.
    assert "not_authorized" in refused("supervision", "alerts", "--as", "admin", db=db)
    assert "not_authorized" in refused("supervision", "investigate", alert, db=db)

    ok("supervision", "investigate", alert, "--note", "same controller", "--id", "i1", *SUP, db=db)
    again = ok("supervision", "investigate", alert, "--id", "i1", "--note", "same controller",
               *SUP, db=db)  # fmt: skip
    assert "replayed" in again
    ok("supervision", "measure", alert, "restrict_account", "--account", "E2", *SUP, db=db)
    stopped = refused("registry", "transfer", "from=E2", "to=E1", "asset=CEA-2023",
                      "quantity=1", "--as", "op2", db=db)  # fmt: skip
    assert "account_restricted" in stopped
    ok("supervision", "close", alert, "measures_taken", *SUP, db=db)
    assert "alert_state_does_not_allow" in refused(
        "supervision", "measure", alert, "freeze", "--account", "E1", *SUP, db=db
    )
    assert "invalid_field" in refused("supervision", "close", alert, "fine", *SUP, db=db)
    history = as_json("supervision", "show", alert, db=db)["history"]
    assert [(h["action"], h["state"], h["measure"]) for h in history] == [
        ("raised", "open", None),
        ("investigate", "investigating", None),
        ("measure", "investigating", "restrict_account"),
        ("close", "closed", None),
    ]
    closed = as_json("supervision", "alerts", "--state", "closed", db=db)
    assert [a["id"] for a in closed] == [alert]

    report = as_json("supervision", "report", "LH2", db=db)
    assert (report["holder"], report["position"], report["threshold"]) == ("E2", 900, 800)
    delivered = {a["id"]: a for a in alerts}[report["alert"]]  # delivered at the day's end
    assert (delivered["type"], delivered["trades"]) == ("large_holder", ["T1"])
    assert report["history"] == [{"day": "2024-03-04", "position": 900, "change": 900}]
    lh = as_json("supervision", "large-holders", "--holder", "E2", db=db)
    assert [r["id"] for r in lh] == ["LH2"]
    assert "--from" in refused("supervision", "scan", "--from", "4 March", *SUP, db=db,
                               exit_code=2)  # fmt: skip
