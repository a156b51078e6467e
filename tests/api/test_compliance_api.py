"""Compliance over HTTP (`/v1/compliance`), told as one year's story on Monday 2026-03-02, the
surrender deadline for 2025 being 2026-12-31 (the policy's default).

The authority opens 2025 as a period and plans it: E1's line L1 makes 10,000 units of output at a
benchmark of 0.8 (factor 1.0), E2's 5,000 at 0.9, so the pre-allocation (70%) gives E1 5,600 t
and E2 3,150 t of CEA-2025. Verified emissions: E1 9,000 t, corrected (with a reason) to
10,000 t; E2 4,000 t. E1 surrenders 5,000 t of CEA-2025 and puts 300 t of CCER to offset,
which the authority uses; the offset cap is 5% of 10,000 t = 500 t. The status then: E1
obligation 10,000, surrendered 5,300 (B); E2 obligation 4,000, surrendered 0 (B); rates 0.00% by
count and 5,300 / 14,000 = 37.86% by volume.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from openpyxl import Workbook, load_workbook

from cets.domain.policy import Policy
from conftest import Api, build_api

C = "/v1/compliance"
CEA = "CEA-2025"
PROBLEM_JSON = "application/problem+json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PLAN = [
    {"year": 2025, "account": "E1", "line": "L1", "benchmark": "0.8", "factors": ["1.0"]}
    | {"previous_output": 10_000},
    {"year": 2025, "account": "E2", "line": "L1", "benchmark": "0.9", "previous_output": 5_000},
]


def ok(answer: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    return body


def assert_problem(
    answer: httpx.Response, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    assert (answer.status_code, answer.headers["content-type"]) == (status, PROBLEM_JSON), (
        answer.text
    )
    body: dict[str, Any] = answer.json()
    assert (body["code"], body.get("field")) == (code, field), body
    return body


def upload(api: Api, path: str, cmd_id: str, name: str, data: bytes) -> httpx.Response:
    answer: httpx.Response = api.client.post(
        path, headers=api.headers("auth1"), params={"id": cmd_id}, files={"file": (name, data)}
    )
    return answer


def issue(api: Api, cmd_id: str, asset: str, quantity: int, to: str | None = None) -> None:
    body = {"client_id": cmd_id, "asset": asset, "quantity": quantity}
    ok(api.post("/v1/registry/issue", "auth1", body | ({"to": to} if to else {})))


def emissions(api: Api, cmd_id: str, account: str, tonnes: int, **more: Any) -> httpx.Response:
    body = {"id": cmd_id, "account": account, "year": 2025, "tonnes": tonnes} | more
    answer: httpx.Response = api.post(f"{C}/emissions", "auth1", body)
    return answer


def surrender(
    api: Api, cmd_id: str, asset: str, quantity: int, person: str = "e1op", account: str = "E1"
) -> httpx.Response:
    body = {"id": cmd_id, "account": account, "year": 2025, "asset": asset, "quantity": quantity}
    answer: httpx.Response = api.post(f"{C}/surrenders", person, body)
    return answer


def holding(api: Api, holder: str, asset: str) -> int:
    found = ok(api.get(f"/v1/holders/{holder}/positions", "reg1"), 200)["holdings"].get(asset)
    return 0 if found is None else int(found["total"])


def planned(api: Api) -> None:
    """2025 opened, planned and pre-allocated: E1 holds 5,600 t and E2 3,150 t of CEA-2025."""
    ok(api.post(f"{C}/periods", "auth1", {"id": "p2025", "first_year": 2025}))
    issue(api, "issue-2025", CEA, 100_000)
    ok(api.post(f"{C}/plans", "auth1", {"id": "plan-2025", "lines": PLAN}))
    ok(api.post(f"{C}/plans/2025/pre-allocation", "auth1", {"id": "pre-2025"}))


def entered(api: Api) -> None:
    """`planned`, with the verified emissions in (E1 10,000 t, E2 4,000 t) and 1,000 t of CCER
    issued to E1."""
    planned(api)
    ok(emissions(api, "em-e1", "E1", 10_000))
    ok(emissions(api, "em-e2", "E2", 4_000))
    issue(api, "issue-ccer", "CCER", 1_000, to="E1")


def surrendered(api: Api) -> None:
    """`entered`, then E1 surrendered 5,000 t of CEA and 300 t of CCER the authority used."""
    entered(api)
    ok(surrender(api, "s-cea", CEA, 5_000))
    ok(surrender(api, "s-ccer", "CCER", 300))
    ok(api.post(f"{C}/offsets/s-ccer/use", "auth1", {"id": "use-ccer"}))


# -- the story --------------------------------------------------------------------------------


def test_a_planned_year_is_pre_allocated_and_the_units_arrive_once(api: Api) -> None:
    planned(api)
    assert (holding(api, "E1", CEA), holding(api, "E2", CEA)) == (5_600, 3_150)
    again = api.post(f"{C}/plans/2025/pre-allocation", "auth2", {"id": "pre-2025"})
    assert ok(again, 200)["replayed"] is True
    other = api.post(f"{C}/plans/2025/pre-allocation", "auth1", {"id": "pre-again"})
    assert_problem(other, 409, "allocation_already_made", "year")
    assert holding(api, "E1", CEA) == 5_600


def test_emissions_are_corrected_only_with_a_reason(api_sqlite: Api) -> None:
    planned(api_sqlite)
    ok(emissions(api_sqlite, "em-1", "E1", 9_000))
    assert_problem(emissions(api_sqlite, "em-2", "E1", 10_000), 422, "invalid_field", "reason")
    ok(emissions(api_sqlite, "em-3", "E1", 10_000, reason="verifier's second report"))
    row = ok(api_sqlite.get(f"{C}/status/2025", "auth1"), 200)["rows"][0]
    assert (row["account"], row["obligation"]) == ("E1", 10_000)
    again = emissions(api_sqlite, "em-1", "E1", 9_500)  # the first id with another body
    assert_problem(again, 409, "duplicate_id")
    history = ok(api_sqlite.get(f"{C}/emissions/E1/2025", "auth1"), 200)["entries"]
    assert [(e["revision"], e["tonnes"], e["previous"], e["reason"]) for e in history] == [
        (1, 9_000, None, None),
        (2, 10_000, 9_000, "verifier's second report"),
    ]
    assert history[1]["entered_by"] == "auth1" and history[1]["command"] == "em-3"


def test_tonnes_and_excluded_are_one_or_the_other(api_sqlite: Api) -> None:
    both = emissions(api_sqlite, "em-1", "E1", 5, excluded=True)
    assert_problem(both, 422, "invalid_field", "tonnes")
    body = {"id": "em-2", "account": "E1", "year": 2025}
    assert_problem(api_sqlite.post(f"{C}/emissions", "auth1", body), 422, "invalid_field", "tonnes")
    ok(api_sqlite.post(f"{C}/emissions", "auth1", body | {"excluded": True}))
    row = ok(api_sqlite.get(f"{C}/status/2025", "sup1"), 200)["rows"][0]
    assert (row["account"], row["status"]) == ("E1", "EXCLUDED")


def test_cea_is_surrendered_and_ccer_is_pending_until_the_authority_uses_it(api: Api) -> None:
    entered(api)
    cea = ok(surrender(api, "s-cea", CEA, 5_000))
    assert (cea["kind"], cea["state"], cea["period"]) == ("surrender", "used", "2025")
    assert ok(surrender(api, "s-cea", CEA, 5_000), 200)["replayed"] is True
    assert holding(api, "E1", CEA) == 600  # surrendered once
    ccer = ok(surrender(api, "s-ccer", "CCER", 300))
    assert (ccer["kind"], ccer["state"]) == ("offset", "pending")
    row = ok(api.get(f"{C}/status/2025", "auth1"), 200)["rows"][0]
    assert (row["surrendered"], row["offset"], row["offset_pending"]) == (5_000, 0, 300)
    ok(api.post(f"{C}/offsets/s-ccer/use", "auth1", {"id": "use-ccer"}))
    row = ok(api.get(f"{C}/status/2025", "auth1"), 200)["rows"][0]
    assert (row["surrendered"], row["offset"], row["offset_pending"]) == (5_300, 300, 0)
    assert ok(surrender(api, "s-ccer", "CCER", 300), 200)["state"] == "used"
    again = api.post(f"{C}/offsets/s-ccer/reject", "auth1", {"id": "reject-ccer"})
    assert_problem(again, 409, "offset_not_pending", "offset")


def test_ccer_beyond_five_percent_of_the_obligation_is_refused(api_sqlite: Api) -> None:
    surrendered(api_sqlite)
    over = surrender(api_sqlite, "s-ccer-2", "CCER", 201)  # 300 + 201 > 500
    assert_problem(over, 409, "offset_cap_exceeded", "quantity")
    assert ok(surrender(api_sqlite, "s-ccer-3", "CCER", 200))["state"] == "pending"  # = 500


def test_frozen_units_cannot_be_surrendered(api_sqlite: Api) -> None:
    surrendered(api_sqlite)
    freeze = {"client_id": "f1", "account": "E1", "asset": CEA, "quantity": 600, "ref": "F1"}
    ok(api_sqlite.post("/v1/registry/freeze", "reg1", freeze))
    assert_problem(surrender(api_sqlite, "s-frozen", CEA, 100), 409, "units_encumbered")


def test_cea_of_a_later_vintage_cannot_be_surrendered(api_sqlite: Api) -> None:
    entered(api_sqlite)
    issue(api_sqlite, "issue-2026", "CEA-2026", 100, to="E1")
    later = surrender(api_sqlite, "s-later", "CEA-2026", 10)
    assert_problem(later, 409, "vintage_not_eligible", "asset")


def test_a_rejected_offset_gives_the_units_back(api_sqlite: Api) -> None:
    entered(api_sqlite)
    ok(surrender(api_sqlite, "s-ccer", "CCER", 300))
    assert holding(api_sqlite, "E1", "CCER") == 1_000  # held, pending offset
    body = {"id": "reject-ccer", "reason": "project not eligible"}
    ok(api_sqlite.post(f"{C}/offsets/s-ccer/reject", "auth1", body))
    assert ok(surrender(api_sqlite, "s-ccer", "CCER", 300), 200)["state"] == "rejected"
    assert holding(api_sqlite, "E1", "CCER") == 1_000
    missing = api_sqlite.post(f"{C}/offsets/s-none/use", "auth1", {"id": "use-none"})
    assert_problem(missing, 404, "unknown_reference", "offset")


# -- the status -------------------------------------------------------------------------------

ROWS = [
    {"account": "E1", "status": "B", "obligation": 10_000, "surrendered": 5_300, "offset": 300}
    | {"offset_pending": 0, "borrowed": 0, "shortfall": 0, "penalty": "0.00"},
    {"account": "E2", "status": "B", "obligation": 4_000, "surrendered": 0, "offset": 0}
    | {"offset_pending": 0, "borrowed": 0, "shortfall": 0, "penalty": "0.00"},
]
RATES = {"entities": 2, "compliant": 0, "by_count_pct": "0.00", "obligation": 14_000}
RATES |= {"covered": 5_300, "by_volume_pct": "37.86"}


def test_the_status_reads_the_same_as_json_csv_and_xlsx(api: Api) -> None:
    surrendered(api)
    status = ok(api.get(f"{C}/status/2025", "sup1"), 200)
    head = {"period": "2025", "label": "2025", "deadline": "2026-12-31", "closed": False}
    assert status == head | {"rates": RATES, "rows": ROWS}
    assert ok(api.get(f"{C}/status/2025/rates", "reg1"), 200) == head | RATES
    csv = api.get(f"{C}/status/2025", "auth1", format="csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[1] == "E1,B,10000,5300,300,0,0,0,0.00"
    xlsx = api.get(f"{C}/status/2025", "auth1", format="xlsx")
    assert xlsx.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(xlsx.content))["Status"]
    header = [c.value for c in sheet[1]]
    e2 = dict(zip(header, [c.value for c in sheet[3]], strict=True))
    assert (e2["account"], e2["obligation"], e2["surrendered"]) == ("E2", 4_000, 0)


def test_a_key_emitters_person_sees_only_its_own_row(api_sqlite: Api) -> None:
    surrendered(api_sqlite)
    own = ok(api_sqlite.get(f"{C}/status/2025", "e2op"), 200)
    assert own["rows"] == [ROWS[1]]
    assert (own["rates"]["entities"], own["rates"]["obligation"]) == (1, 4_000)
    csv = api_sqlite.get(f"{C}/status/2025", "e1op", format="csv").text
    assert [line.split(",")[0] for line in csv.splitlines()] == ["account", "E1"]
    assert ok(api_sqlite.get(f"{C}/status/2025", "i1op"), 200)["rows"] == []
    refused = api_sqlite.get(f"{C}/status/2025", "exch1")
    assert_problem(refused, 403, "not_authorized")


def test_another_holders_person_cannot_surrender_for_an_entity(api_sqlite: Api) -> None:
    entered(api_sqlite)
    refused = surrender(api_sqlite, "s-e2", CEA, 10, person="e2op")
    assert_problem(refused, 403, "not_authorized", "account")
    assert holding(api_sqlite, "E1", CEA) == 5_600
    assert ok(surrender(api_sqlite, "s-e2", CEA, 10))["state"] == "used"  # the id stayed free


def test_a_year_is_closed_only_after_its_deadline_and_then_takes_no_surrender(
    api_sqlite: Api,
) -> None:
    surrendered(api_sqlite)
    early = api_sqlite.post(f"{C}/closes", "auth1", {"id": "close-1", "year": 2025})
    assert_problem(early, 409, "deadline_not_passed", "year")
    api_sqlite.clock.set(datetime(2027, 1, 1, 2, 0, tzinfo=UTC))
    ok(api_sqlite.post(f"{C}/closes", "auth1", {"id": "close-2", "year": 2025}))
    status = ok(api_sqlite.get(f"{C}/status/2025", "auth1"), 200)
    assert status["closed"] is True
    assert [(r["account"], r["shortfall"]) for r in status["rows"]] == [
        ("E1", 4_700),
        ("E2", 4_000),
    ]
    late = surrender(api_sqlite, "s-late", CEA, 100)
    assert_problem(late, 409, "period_closed", "year")


# -- files ------------------------------------------------------------------------------------


def test_a_bad_emissions_file_is_refused_whole_listing_every_problem(api_sqlite: Api) -> None:
    planned(api_sqlite)
    text = "account,year,tonnes\nE1,2025,10000\nE2,2025,lots\nE1,20x5,12\n"
    answer = upload(api_sqlite, f"{C}/emissions/import", "file-1", "emissions.csv", text.encode())
    body = assert_problem(answer, 422, "invalid_field", "file")
    assert [(p["row"], p["column"], p["value"]) for p in body["problems"]] == [
        (3, "tonnes", "lots"),
        (4, "year", "20x5"),
    ]
    rows = ok(api_sqlite.get(f"{C}/status/2025", "auth1"), 200)["rows"]
    assert [r["status"] for r in rows] == ["C", "C"]  # nothing entered
    no_file = api_sqlite.client.post(
        f"{C}/emissions/import", headers=api_sqlite.headers("auth1"), params={"id": "file-2"}
    )
    assert_problem(no_file, 422, "invalid_field", "file")


def test_an_emissions_csv_and_a_plan_workbook_are_entered_whole(api_sqlite: Api) -> None:
    text = "account,year,tonnes,reason\nE1,2025,10000,\nE2,2025,excluded,closed plant\n"
    ok(upload(api_sqlite, f"{C}/emissions/import", "file-em", "em.csv", text.encode()))
    again = upload(api_sqlite, f"{C}/emissions/import", "file-em", "em.csv", text.encode())
    assert ok(again, 200)["replayed"] is True
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["year", "account", "line", "benchmark", "factors", "previous_output"])
    sheet.append([2025, "E1", "L1", "0.8", "1.0", 10_000])
    data = io.BytesIO()
    book.save(data)
    ok(upload(api_sqlite, f"{C}/plans/import", "file-plan", "plan.xlsx", data.getvalue()))
    issue(api_sqlite, "issue-2025", CEA, 10_000)
    ok(api_sqlite.post(f"{C}/plans/2025/pre-allocation", "auth1", {"id": "pre"}))
    assert holding(api_sqlite, "E1", CEA) == 5_600
    rows = ok(api_sqlite.get(f"{C}/status/2025", "auth1"), 200)["rows"]
    assert [(r["account"], r["status"]) for r in rows] == [("E1", "B"), ("E2", "EXCLUDED")]


# -- final allocation, relief, operation years, four-eyes -------------------------------------


def test_the_final_allocation_tops_up_on_verified_output(api_sqlite: Api) -> None:
    entered(api_sqlite)
    early = api_sqlite.post(f"{C}/plans/2025/final-allocation", "auth1", {"id": "final-0"})
    assert_problem(early, 409, "verified_output_missing", "year")
    for account, output in (("E1", 12_000), ("E2", 4_000)):
        body = {"id": f"out-{account}", "account": account, "line": "L1", "output": output}
        ok(api_sqlite.post(f"{C}/plans/2025/outputs", "auth1", body))
    final = ok(api_sqlite.post(f"{C}/plans/2025/final-allocation", "auth1", {"id": "final-1"}))
    assert [(t["id"], t["amount"]) for t in final["transfers"]] == [
        ("final-1/E1", 4_000),  # 12,000 x 0.8 = 9,600, less the 5,600 pre-allocated
        ("final-1/E2", 450),  # 4,000 x 0.9 = 3,600, less 3,150
    ]
    assert holding(api_sqlite, "E1", CEA) == 9_600


def test_an_entity_short_by_a_tenth_borrows_up_to_half_its_gap(api_sqlite: Api) -> None:
    entered(api_sqlite)  # E2: emissions 4,000, allocation 3,150: a gap of 850, half is 425
    issue(api_sqlite, "issue-2026", "CEA-2026", 10_000)
    body = {"id": "b-1", "account": "E2", "year": 2025, "quantity": 426}
    assert_problem(
        api_sqlite.post(f"{C}/borrowings", "auth1", body),
        409,
        "borrowing_limit_exceeded",
        "quantity",
    )
    ok(api_sqlite.post(f"{C}/borrowings", "auth1", body | {"id": "b-2", "quantity": 425}))
    row = ok(api_sqlite.get(f"{C}/status/2025", "e2op"), 200)["rows"][0]
    assert (row["borrowed"], row["surrendered"]) == (425, 425)


def test_an_entity_outside_its_years_of_operation_is_left_out(api_sqlite: Api) -> None:
    years = {"id": "y-1", "first_year": 2026}
    answer = api_sqlite.client.put(
        f"{C}/entities/E2/years", headers=api_sqlite.headers("auth1"), json=years
    )
    assert ok(answer, 200)["status"] == "accepted"
    rows = ok(api_sqlite.get(f"{C}/status/2025", "auth1"), 200)["rows"]
    assert [r["account"] for r in rows] == ["E1"]


def test_a_period_has_its_own_deadline_and_rules_and_no_year_of_another(api_sqlite: Api) -> None:
    body = {"id": "p-1", "first_year": 2024, "last_year": 2025, "deadline": "2026-06-30"}
    ok(api_sqlite.post(f"{C}/periods", "auth1", body | {"rules": {"offset_cap_pct": 10}}))
    status = ok(api_sqlite.get(f"{C}/status/2024", "auth1"), 200)
    assert (status["period"], status["label"], status["deadline"]) == (
        "2024-2025",
        "2024-2025",
        "2026-06-30",
    )
    other = api_sqlite.post(f"{C}/periods", "auth1", {"id": "p-2", "first_year": 2025})
    assert_problem(other, 409, "period_overlaps", "first_year")
    for n, (changes, field) in enumerate(
        (
            ({"rules": {"offset_cap_pct": 101}}, "rules.offset_cap_pct"),
            ({"deadline": "2031-6-30"}, "deadline"),
            ({"deadline": "9999-12-31"}, "deadline"),
            ({"deadline": "2030-06-30"}, "deadline"),  # within the period
        )
    ):
        bad = {"id": f"p-bad-{n}", "first_year": 2030} | changes
        assert_problem(api_sqlite.post(f"{C}/periods", "auth1", bad), 422, "invalid_field", field)


@pytest.fixture
def four_eyes_surrender(sqlite_url: str) -> Iterator[Api]:
    """Four-eyes on for surrender alone; the journal and the ledger audit clean afterwards."""
    built = build_api(sqlite_url, Policy(four_eyes=True, four_eyes_ops=("surrender",)))
    yield built
    try:
        assert built.store.audit().ok
    finally:
        built.store.close()


def test_a_surrender_under_four_eyes_waits_for_a_second_operator(four_eyes_surrender: Api) -> None:
    api = four_eyes_surrender
    entered(api)
    pending = surrender(api, "s-1", CEA, 100)
    assert (pending.status_code, pending.json()["state"]) == (202, "pending_approval")
    assert holding(api, "E1", CEA) == 5_600
    ok(api.post("/v1/approvals/s-1/approve", "e1op2"))
    assert ok(surrender(api, "s-1", CEA, 100), 200)["state"] == "used"
    assert holding(api, "E1", CEA) == 5_500
