"""`cets compliance ...` end to end: the installed `cets` console script as subprocesses on a
real SQLite file made by `cets init`, acting as registered people (`--as`: `admin`, the authority
`cets init` creates, and op1/op2, the operators of E1/E2) at set local times (`--at`).

The story, compliance year 2023 (deadline 2024-06-30, CCER capped at 10% of the obligation, a
reference price of 60.00 for the penalty when nothing traded):
- plan: E1 one line, 100,000 x 0.8 x 1.0 x 0.95 = 76,000 t; E2 one line, 20,000 x 1 = 20,000 t;
  pre-allocation 70%: E1 53,200 t, E2 14,000 t of CEA-2023;
- verified emissions: E1 50,000 t, E2 20,000 t (so E1's CCER cap is 5,000 t);
- E1 surrenders 47,000 t CEA and 3,000 t CCER (used by the authority): 50,000 = its obligation, A;
  6,000 t CCER more is refused (the cap); E2 surrenders 10,000 t: B;
- rates: 1 of 2 entities (50.00%), 60,000 of 70,000 t (85.71%);
- the close is refused on the deadline and made the day after: E2's shortfall 10,000 t, its
  penalty 5 x 10,000 x 60.00 = 3,000,000.00.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from cets.adapters.sql.store import SqlStore
from cets.domain.registry.access import Person, Role
from cets.domain.registry.holders import Holder
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.people import People
from cets.service.registry import Registry
from cli_support import ok, refused

JANUARY = ("--at", "2024-01-10T10:00:00")
MAY = ("--at", "2024-05-20T10:00:00")
PLAN = (
    "year,account,line,benchmark,factors,previous_output,verified_output\n"
    "2023,E1,unit-1,0.8,1.0 0.95,100000,\n"
    "2023,E2,boiler,1,,20000,\n"
)


def status(db: str) -> Any:
    return json.loads(ok("compliance", "status", "2023", "--json", db=db))


def emissions_xlsx(path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["account", "year", "tonnes", "reason"], ["E1", 2023, 50000], ["E2", 2023, 20000]):
        sheet.append(row)
    book.save(path)
    return path


@pytest.fixture
def db(tmp_path: Path) -> str:
    """`cets init`; holders E1 and E2 with their operators op1 and op2; 1,000,000 t of CEA-2023
    in the authority's reserve; 10,000 t of CCER held by E1."""
    url = f"sqlite:///{tmp_path}/cets.db"
    ok("init", db=url)
    store = SqlStore.open(url)
    clock = SettableClock(datetime(2024, 1, 8, 9, tzinfo=SHANGHAI))
    reg = Registry(store, clock)
    people = People(store, clock)
    for holder in ("E1", "E2"):
        assert reg.open_holder(Holder(holder, "key_emitter", holder), actor="setup").ok
        people.add(Person(f"op{holder[1]}", holder, Role.key_emitter, holder), actor="setup")
    assert reg.issue("iss", "CEA-2023", 1_000_000).ok
    assert reg.issue("ccer", "CCER", 10_000, to="E1").ok
    store.close()
    return url


def holding(db: str, holder: str, asset: str) -> int:
    shown = json.loads(ok("account", "show", holder, "--json", db=db))
    total: int = shown["holdings"][asset]["total"]
    return total


def test_a_compliance_year_from_plan_to_close_through_the_cli(db: str, tmp_path: Path) -> None:
    ok("compliance", "period", "open", "2023", "--deadline", "2024-06-30",
       "--rule", "offset_cap_pct=10", "--rule", "penalty_reference_price_fen=6000",
       "--id", "p2023", *JANUARY, db=db)  # fmt: skip
    plan = tmp_path / "plan-2023.csv"
    plan.write_text(PLAN)
    said = ok("compliance", "plan", "import", str(plan), *JANUARY, db=db)
    assert "2 plan lines of 2 entities for 2023: accepted" in said
    assert "2 transfers" in ok("compliance", "plan", "pre-allocate", "2023", *JANUARY, db=db)
    assert holding(db, "E1", "CEA-2023") == 53_200
    assert holding(db, "E2", "CEA-2023") == 14_000

    emissions = emissions_xlsx(tmp_path / "emissions-2023.xlsx")
    assert "2 emissions entries" in ok("compliance", "emissions", "import", str(emissions), db=db)
    ok("compliance", "surrender", "E1", "2023", "CEA-2023", "47000", "--as", "op1", *MAY, db=db)
    capped = refused("compliance", "surrender", "E1", "2023", "CCER", "6000", "--as", "op1",
                     *MAY, db=db)  # fmt: skip
    assert capped.startswith("offset_cap_exceeded (field quantity): ")
    assert "cap 5000" in capped
    said = ok("compliance", "surrender", "E1", "2023", "CCER", "3000", "--id", "off-1",
              "--as", "op1", *MAY, db=db)  # fmt: skip
    assert "(offset off-1)" in said
    assert status(db)["rows"][0]["offset_pending"] == 3000
    ok("compliance", "offset", "use", "off-1", *MAY, db=db)
    ok("compliance", "surrender", "E2", "2023", "CEA-2023", "10000", "--as", "op2", *MAY, db=db)

    shown = status(db)
    assert [(r["account"], r["status"], r["surrendered"], r["offset"]) for r in shown["rows"]] == [
        ("E1", "A", 50_000, 3_000),
        ("E2", "B", 10_000, 0),
    ]
    assert {k: shown["rates"][k] for k in ("closed", "by_count_pct", "by_volume_pct")} == {
        "closed": False,
        "by_count_pct": "50.00",
        "by_volume_pct": "85.71",
    }

    table = tmp_path / "status.csv"
    ok("compliance", "status", "2023", "--csv", str(table), db=db)
    assert table.read_text() == (
        "account,status,obligation,surrendered,offset,offset_pending,borrowed,shortfall,penalty\n"
        "E1,A,50000,50000,3000,0,0,0,0.00\n"
        "E2,B,20000,10000,0,0,0,0,0.00\n"
    )

    due = refused("compliance", "close", "2023", "--at", "2024-06-30T23:00:00", db=db)
    assert due.startswith("deadline_not_passed (field year): ")
    ok("compliance", "close", "2023", "--at", "2024-07-01T09:00:00", db=db)

    book = tmp_path / "status.xlsx"
    said = ok("compliance", "status", "2023", "--xlsx", str(book), db=db)
    assert "50.00% by count (1 of 2 entities), 85.71% by volume (60,000 of 70,000 t)" in said
    sheets = load_workbook(book)
    rows = list(sheets["Status"].iter_rows(values_only=True))
    assert rows[1:] == [
        ("E1", "A", 50_000, 50_000, 3_000, 0, 0, 0, 0),
        ("E2", "B", 20_000, 10_000, 0, 0, 0, 10_000, 3_000_000),
    ]
    assert Decimal(str(rows[2][8])) == Decimal("3000000.00")
    rates = dict(sheets["Rates"].iter_rows(values_only=True))
    assert rates["closed"] is True
    assert (rates["entities"], rates["compliant"], rates["obligation"], rates["covered"]) == (
        2,
        1,
        70_000,
        60_000,
    )
    assert Decimal(str(rates["by_volume_pct"])) == Decimal("85.71")


def test_a_bad_file_is_refused_whole_listing_every_row_and_column(db: str, tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    plan.write_text(PLAN + "2023,E3,kiln,0.9.1,,-4,\n2023,,kiln,1,abc,5,\n")
    said = refused("compliance", "plan", "import", str(plan), db=db, exit_code=2)
    assert said.splitlines() == [
        f"{plan}: refused, nothing imported",
        "  row 4, benchmark: '0.9.1' is not a decimal number",
        "  row 4, previous_output: negative, was expected >= 0",
        "  row 5, account: empty, was expected a name",
        "  row 5, factors: 'abc' is not a decimal number",
    ]
    assert "no allocation plan" in refused("compliance", "plan", "pre-allocate", "2023", db=db)


def test_writes_are_the_gate_s_surrender_is_the_entity_s_and_the_rest_the_authority_s(
    db: str,
) -> None:
    ok("compliance", "emissions", "enter", "E1", "2023", "1000", db=db)
    wrong = refused("compliance", "surrender", "E1", "2023", "CEA-2023", "1", "--as", "op2", db=db)
    assert wrong.startswith("not_authorized (field account): ")
    entering = refused("compliance", "emissions", "enter", "E2", "2023", "5", "--as", "op2", db=db)
    assert entering.startswith("not_authorized: ")
    assert "-1" in refused("compliance", "emissions", "enter", "E2", "2023", "-1", db=db,
                           exit_code=2)  # fmt: skip
    correction = refused("compliance", "emissions", "enter", "E1", "2023", "900", db=db)
    assert correction.startswith("invalid_field (field reason): ")
    ok("compliance", "emissions", "enter", "E1", "2023", "900", "--reason", "verifier", db=db)
    history = json.loads(ok("compliance", "emissions", "history", "E1", "2023", "--json", db=db))
    assert [(e["revision"], e["tonnes"], e["previous"], e["reason"]) for e in history] == [
        (1, 1000, None, None),
        (2, 900, 1000, "verifier"),
    ]
    others = refused("compliance", "emissions", "history", "E1", "2023", "--as", "op2", db=db)
    assert others.startswith("not_authorized")
    assert "replayed" in ok("compliance", "period", "open", "2024", "--id", "p", db=db) + ok(
        "compliance", "period", "open", "2024", "--id", "p", db=db
    )
    own = json.loads(ok("compliance", "status", "2023", "--json", "--as", "op1", db=db))
    assert [r["account"] for r in own["rows"]] == ["E1"]
