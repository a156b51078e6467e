"""The dashboard's operator views in a real browser: registry operations through the form (the
holder's positions show them, a refusal shows its code), the compliance overview (statuses,
rates and one chart group per entity), the supervisor's alert workflow (evidence, investigate,
close) checked against the API, and a key emitter's holdings and surrender."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page, expect
from web_support import CEA, TODAY, Site, log_in


def call(site: Site, person: str, method: str, path: str, body: Any = None) -> Any:
    answer = httpx.request(
        method, f"{site.url}{path}", json=body, headers={"X-API-Key": site.keys[person]}
    )
    assert answer.status_code < 300, answer.text
    return answer.json()


def operate(page: Page, kind: str, **fields: str) -> None:
    page.get_by_test_id("op-kind").select_option(kind)
    for name, value in fields.items():
        page.get_by_test_id(f"op-field-{name}").fill(value)
    page.get_by_test_id("op-submit").click()


def test_registry_operations_from_the_form_show_in_the_holders_positions(
    site: Site, page: Page
) -> None:
    log_in(page, site, "auth1", "#/registry")
    kinds = (
        page.get_by_test_id("op-kind")
        .locator("option")
        .evaluate_all("options => options.map(o => o.value)")
    )
    assert kinds == ["issue", "allocate", "true_up", "forced_surrender"]  # the authority's
    operate(page, "issue", asset=CEA, quantity="1000")
    expect(page.get_by_test_id("op-result")).to_have_attribute("data-status", "accepted")
    operate(page, "allocate", to="E2", asset=CEA, quantity="5000")
    expect(page.get_by_test_id("op-result")).to_have_attribute("data-status", "accepted")
    page.get_by_test_id("holders").locator("tr[data-holder=E2]").click()
    row = page.get_by_test_id("holder-positions").locator("tbody tr", has_text=CEA)
    expect(row.locator("td").nth(1)).to_have_text("25,000")  # 20,000 seeded + 5,000
    expect(page.get_by_test_id("journal")).to_contain_text("allocate")

    page.get_by_role("button", name="退出").click()
    log_in(page, site, "reg1", "#/registry")
    page.get_by_test_id("holder-search").fill("xiangyang")
    expect(page.get_by_test_id("holders").locator("tbody tr")).to_have_count(1)
    page.get_by_test_id("holders").locator("tr[data-holder=E2]").click()
    operate(page, "freeze", asset=CEA, quantity="3000", ref="court-2026-1")
    expect(page.get_by_test_id("op-result")).to_have_attribute("data-status", "accepted")
    row = page.get_by_test_id("holder-positions").locator("tbody tr", has_text=CEA)
    expect(row.locator("td").nth(2)).to_have_text("22,000")  # available
    expect(row.locator("td").nth(3)).to_have_text("3,000")  # frozen
    held = call(site, "reg1", "GET", "/v1/holders/E2/positions")["holdings"][CEA]
    assert (held["total"], held["available"], held["frozen"]) == (25_000, 22_000, 3_000)

    # A refusal is shown with its code and nothing moves.
    operate(page, "freeze", account="E2", asset=CEA, quantity="999999", ref="court-2026-2")
    expect(page.get_by_test_id("op-result")).to_have_attribute("data-status", "refused")
    expect(page.locator(".toast.error").filter(has_text="insufficient_units").first).to_be_visible()
    held = call(site, "reg1", "GET", "/v1/holders/E2/positions")["holdings"][CEA]
    assert held["frozen"] == 3_000


def test_the_compliance_overview_shows_each_entitys_status_and_charts_them(
    site: Site, page: Page
) -> None:
    # E1 emitted 40,000 t and surrendered them (A); E2 emitted 30,000 t, surrendered 10,000 (B).
    for holder, tonnes in (("E1", 40_000), ("E2", 30_000)):
        body = {"id": f"em-{holder}", "account": holder, "year": 2025, "tonnes": tonnes}
        call(site, "auth1", "POST", "/v1/compliance/emissions", body)
    for person, holder, quantity in (("e1op", "E1", 40_000), ("e2op", "E2", 10_000)):
        body = {"id": f"s-{holder}", "account": holder, "year": 2025, "asset": CEA}
        call(site, person, "POST", "/v1/compliance/surrenders", body | {"quantity": quantity})

    log_in(page, site, "sup1", "#/compliance")
    page.get_by_test_id("year").select_option("2025")
    expect(page.get_by_test_id("kpi-entities").locator("b")).to_have_text("2")
    expect(page.get_by_test_id("kpi-compliant").locator("b")).to_have_text("1")
    expect(page.get_by_test_id("kpi-by-count").locator("b")).to_have_text("50.00%")
    table = page.get_by_test_id("status-table")
    expect(table.locator("tr[data-account=E1] .pill")).to_have_text("A")
    expect(table.locator("tr[data-account=E2] .pill")).to_have_text("B")
    # Sorted by shortfall, largest first: E2 lacks 20,000 t.
    expect(table.locator("tbody tr").first).to_have_attribute("data-account", "E2")
    expect(table.locator("tr[data-account=E2] td").nth(7)).to_have_text("20,000")
    page.get_by_test_id("status-filter").select_option("A")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr")).to_have_attribute("data-account", "E1")

    groups = page.get_by_test_id("alloc-chart").locator("[data-testid=chart-group]")
    expect(groups).to_have_count(2)
    drawn = groups.evaluate_all(
        "gs => gs.map(g => [g.dataset.account, g.dataset.allocation, g.dataset.emissions,"
        " g.querySelectorAll('rect').length])"
    )
    assert drawn == [["E1", "50000", "40000", 2], ["E2", "20000", "30000", 2]]
    expect(page.get_by_test_id("status-chart").locator("[data-status=A]")).to_have_attribute(
        "data-count", "1"
    )
    expect(page.get_by_test_id("chart-legend").first).to_be_visible()


def test_a_supervisor_scans_opens_an_alert_sees_its_evidence_investigates_and_closes_it(
    site: Site, page: Page
) -> None:
    # E1 sells I1 2,000 t in one trade: the seller has the whole day's volume.
    venue = site.exchange
    assert venue.place("S1", "E1", CEA, "sell", 2_000, 6000, actor="e1op").ok
    assert venue.place("B1", "I1", CEA, "buy", 2_000, 6000, actor="i1op").ok
    site.at(TODAY, 15, 5)
    assert venue.end_of_day(actor="setup").ok

    log_in(page, site, "sup1", "#/supervision")
    expect(page.get_by_test_id("alerts")).to_contain_text("暂无数据")
    page.get_by_test_id("scan-submit").click()
    expect(page.locator(".toast.ok").filter(has_text="扫描完成").first).to_be_visible()
    alerts = call(site, "sup1", "GET", "/v1/supervision/alerts")["items"]
    mine = next(a for a in alerts if a["accounts"] == ["E1"])

    page.get_by_test_id("alerts").locator(f"tr[data-alert={mine['id']}]").click()
    detail = page.get_by_test_id("alert-detail")
    expect(detail.get_by_test_id("alert-explanation")).to_have_text(mine["explanation"])
    expect(detail.get_by_test_id("alert-accounts")).to_have_text("E1")
    expect(detail.get_by_test_id("evidence-orders").locator("tbody tr")).to_have_count(1)
    expect(detail.get_by_test_id("evidence-orders")).to_contain_text("S1")
    trade = detail.get_by_test_id("evidence-trades").locator("tbody tr")
    expect(trade).to_have_count(1)
    expect(trade).to_contain_text("2,000")
    expect(trade).to_contain_text("60.00")

    detail.get_by_test_id("investigate-note").fill("asked E1 for its reasons")
    detail.get_by_test_id("investigate").click()
    expect(detail.get_by_test_id("alert-state")).to_have_attribute("data-state", "investigating")
    got = call(site, "sup1", "GET", f"/v1/supervision/alerts/{mine['id']}")
    assert got["alert"]["state"] == "investigating"
    assert got["history"][-1]["text"] == "asked E1 for its reasons"
    expect(detail.get_by_test_id("investigate")).to_be_disabled()

    detail.get_by_test_id("close-resolution").select_option("warning_issued")
    detail.get_by_test_id("close-alert").click()
    expect(detail.get_by_test_id("alert-state")).to_have_attribute("data-state", "closed")
    got = call(site, "sup1", "GET", f"/v1/supervision/alerts/{mine['id']}")
    assert (got["alert"]["state"], got["alert"]["resolution"]) == ("closed", "warning_issued")
    expect(detail.get_by_test_id("close-alert")).to_be_disabled()
    expect(detail.get_by_test_id("alert-history").locator("tbody tr")).to_have_count(3)
    page.get_by_test_id("filter-state").select_option("closed")
    expect(page.get_by_test_id("alerts").locator("tbody tr[data-alert]")).to_have_count(1)


def test_a_key_emitter_sees_its_holdings_and_surrenders_from_the_form(
    site: Site, page: Page
) -> None:
    body = {"id": "em-E1", "account": "E1", "year": 2025, "tonnes": 30_000}
    call(site, "auth1", "POST", "/v1/compliance/emissions", body)
    log_in(page, site, "e1op", "#/account")
    row = page.get_by_test_id("positions").locator("tbody tr", has_text=CEA)
    expect(row.locator("td").nth(2)).to_have_text("50,000")  # available
    expect(page.get_by_test_id("funds")).to_contain_text("50,000,000.00")

    page.get_by_test_id("surrender-year").fill("2025")
    page.get_by_test_id("surrender-year").dispatch_event("change")
    page.get_by_test_id("surrender-quantity").fill("30000")
    page.get_by_test_id("surrender-submit").click()
    expect(page.locator(".toast.ok").filter(has_text="已生效").first).to_be_visible()
    expect(page.get_by_test_id("own-compliance").locator(".pill")).to_have_text("A")
    row = page.get_by_test_id("positions").locator("tbody tr", has_text=CEA)
    expect(row.locator("td").nth(2)).to_have_text("20,000")
    status = call(site, "e1op", "GET", "/v1/compliance/status/2025")
    assert [(r["account"], r["status"]) for r in status["rows"]] == [("E1", "A")]
    page.get_by_test_id("surrender-quantity").fill("1.5")
    page.get_by_test_id("surrender-submit").click()
    expect(page.locator(".toast.error").first).to_be_visible()  # whole tonnes only, nothing sent
