"""The dashboard's market view in a real browser: logging in, the K-line chart's bars for each
interval, an order from the ticket in the depth then (matched by a pick from a second browser)
on the tape and in both holders' holdings, the language switch, and the real Hubei history."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from web_support import ARTIFACTS, CEA, TODAY, Site, log_in

from shared_data import shared_data

HUBEI = ("cn-pilot-prices", "hubei_daily_2014-2021.csv")


def cross(site: Site, day: date, hour: int, minute: int, price: int, quantity: int = 100) -> None:
    """A trade at `day hour:minute`: E1 sells, I1 buys at `price` fen."""
    site.at(day, hour, minute)
    venue = site.exchange
    tag = f"{day:%m%d}{hour:02d}{minute:02d}"
    assert venue.place(f"S{tag}", "E1", CEA, "sell", quantity, price, actor="e1op").ok
    assert venue.place(f"B{tag}", "I1", CEA, "buy", quantity, price, actor="i1op").ok


def close_day(site: Site, day: date) -> None:
    site.at(day, 15, 5)
    assert site.exchange.end_of_day(actor="setup").ok


def test_a_person_logs_in_by_key_and_sees_the_views_of_their_role(site: Site, page: Page) -> None:
    page.goto(f"{site.url}/")  # / sends the browser to the dashboard
    expect(page.get_by_test_id("login")).to_be_visible()
    page.get_by_test_id("login-key").fill("cets_0000000000000000_not-a-key")
    page.get_by_test_id("login-submit").click()
    expect(page.locator(".login .bad")).to_be_visible()

    log_in(page, site, "e1op")
    expect(page.get_by_test_id("who")).to_contain_text("重点排放单位")
    expect(page.get_by_test_id("clock")).to_have_text("2026-03-05 10:00 · 交易中")  # site's clock
    views = page.locator("#nav a").evaluate_all("links => links.map(a => a.dataset.view)")
    assert "market" in views and "registry" not in views and "supervision" not in views
    expect(page.get_by_test_id("ticket")).to_be_visible()

    page.get_by_role("button", name="退出").click()
    expect(page.get_by_test_id("login")).to_be_visible()
    log_in(page, site, "sup1")
    assert "supervision" in page.locator("#nav a").evaluate_all(
        "links => links.map(a => a.dataset.view)"
    )
    expect(page.get_by_test_id("ticket")).to_have_count(0)  # staff do not trade


def test_the_kline_chart_draws_one_bar_per_period_of_the_chosen_interval(
    site: Site, page: Page
) -> None:
    # Three closed days with one trade each at 10:00, then today's trades at six minutes.
    for back in (3, 2, 1):
        day = TODAY - timedelta(days=back)
        cross(site, day, 10, 0, 6000 + back * 10)
        close_day(site, day)
    minutes = [(9, 31), (9, 33), (9, 47), (10, 5), (10, 31), (13, 2)]
    for i, (hour, minute) in enumerate(minutes):
        cross(site, TODAY, hour, minute, 6010 + 5 * i)
    site.at(TODAY, 13, 30)

    # 1m shows today only; 5m..1h the last week (today's buckets plus one per earlier day);
    # 1d the three closed days and today, still trading; 1w and 1M one period.
    expected = {"1m": 6, "5m": 5 + 3, "15m": 5 + 3, "30m": 4 + 3, "1h": 3 + 3}
    expected |= {"1d": 4, "1w": 1, "1M": 1}
    log_in(page, site, "i1op")
    chart = page.get_by_test_id("kline")
    for interval, bars in expected.items():
        page.get_by_test_id("intervals").get_by_role("button", name=interval, exact=True).click()
        expect(chart).to_have_attribute("data-interval", interval)
        expect(chart).to_have_attribute("data-bars", str(bars))
        expect(page.get_by_test_id("legend")).to_contain_text(f"{bars} 根K线")
        page.screenshot(path=str(ARTIFACTS / f"kline-{interval}.png"))
    # The candles are drawn on the chart's canvas, not just counted.
    assert chart.locator("canvas").count() >= 2


def test_an_order_from_the_ticket_rests_in_the_depth_then_trades_on_the_tape_and_holdings(
    site: Site, page: Page, browser: Browser
) -> None:
    log_in(page, site, "e1op")
    page.get_by_test_id("ticket-sell").click()
    page.get_by_test_id("ticket-price").fill("60.50")
    page.get_by_test_id("ticket-quantity").fill("1.5")  # not whole tonnes: refused, not sent
    page.get_by_test_id("ticket-submit").click()
    expect(page.locator(".toast.error")).to_contain_text("quantity")
    page.get_by_test_id("ticket-price").fill("60.555")  # the server's rule: named by its field
    page.get_by_test_id("ticket-quantity").fill("300")
    page.get_by_test_id("ticket-submit").click()
    expect(page.locator(".toast.error").last).to_contain_text("[price]")
    assert site.store.venue_orders() == []  # nothing placed by either
    page.get_by_test_id("ticket-price").fill("60.50")
    page.get_by_test_id("ticket-submit").click()

    depth = page.get_by_test_id("depth")
    ask = depth.locator("tr.ask[data-price='60.50']")
    expect(ask).to_contain_text("300")
    expect(page.get_by_test_id("open-orders")).to_contain_text("60.50")
    expect(page.get_by_test_id(f"sold-{CEA}")).to_have_text("0")

    # A second browser, the investor, picks the quote for 120 t.
    other = browser.new_context(viewport={"width": 1440, "height": 960})
    buyer = other.new_page()
    try:
        log_in(buyer, site, "i1op")
        buyer.get_by_test_id("ticket-quantity").fill("120")
        buyer.get_by_test_id("quotes").get_by_role("button", name="摘牌").click()
        expect(buyer.get_by_test_id(f"bought-{CEA}")).to_have_text("120")
        buyer.screenshot(path=str(ARTIFACTS / "order-buyer.png"), full_page=True)
    finally:
        other.close()

    # The seller's page follows by itself (server-sent events): tape, depth, holdings.
    tape = page.get_by_test_id("tape")
    expect(tape.locator("tbody tr").first).to_contain_text("60.50")
    expect(tape.locator("tbody tr").first).to_contain_text("120")
    expect(ask).to_contain_text("180")
    expect(page.get_by_test_id(f"sold-{CEA}")).to_have_text("120")
    expect(page.get_by_test_id("open-orders")).to_contain_text("120")  # filled so far

    # Cancelling the rest takes it out of the depth.
    page.get_by_test_id("open-orders").get_by_role("button", name="撤单").click()
    expect(ask).to_have_count(0)


def test_switching_language_switches_the_labels(site: Site, page: Page) -> None:
    log_in(page, site, "e1op")
    nav = page.locator("#nav")
    expect(nav).to_contain_text("行情交易")
    expect(page.locator(".side")).to_contain_text("五档行情")
    page.get_by_test_id("lang").click()
    expect(nav).to_contain_text("Market")
    expect(nav).not_to_contain_text("行情交易")
    expect(page.locator(".side")).to_contain_text("Five-level depth")
    expect(page.get_by_test_id("ticket-submit")).to_have_text("Place order")
    expect(page.get_by_test_id("who")).to_contain_text("Key emitter")
    page.reload()  # the choice is remembered
    expect(nav).to_contain_text("Market")
    page.get_by_test_id("lang").click()
    expect(page.get_by_test_id("ticket-submit")).to_have_text("提交委托")


def test_the_dashboard_shows_the_hubei_history_imported_by_cets_import_prices(
    site: Site, page: Page
) -> None:
    hubei = shared_data(*HUBEI)
    db = site.store.engine.url.render_as_string(hide_password=False)
    cets = Path(sys.executable).with_name("cets")
    subprocess.run([str(cets), "import", "prices", str(hubei), "--db", db], check=True)
    # A row of the file with volume 0 repeats the day before (weekends): not a bar.
    rows = list(csv.reader(hubei.read_text(encoding="utf-8-sig").splitlines()))[1:]
    days = sum(1 for row in rows if row and float(row[3] or 0) > 0)
    assert 1_500 < days < len(rows), days

    log_in(page, site, "i1op")
    page.get_by_test_id("instrument").select_option("HBEA")
    page.get_by_test_id("intervals").get_by_role("button", name="1d", exact=True).click()
    chart = page.get_by_test_id("kline")
    expect(chart).to_have_attribute("data-bars", str(days))
    expect(page.locator(".bar")).to_contain_text("仅历史行情")
    expect(page.get_by_test_id("ticket-submit")).to_be_disabled()  # nothing to trade
    page.get_by_test_id("intervals").get_by_role("button", name="1M", exact=True).click()
    expect(chart).to_have_attribute("data-interval", "1M")
    months = int(chart.get_attribute("data-bars") or 0)
    assert 80 <= months <= 96, months  # 2014-2021, a bar per month with trading
