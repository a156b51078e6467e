"""Supervision through the service (`cets.service.supervision`) on real stores: alerts raised by
the live and the batch scan from the stored orders and trades, kept once and updated while open;
rules that judge a whole day waiting for its close; the workflow and its measures, each
all-or-nothing, idempotent and journaled; large-holder reports on crossing the threshold."""

from __future__ import annotations

import json
import time as time_
from datetime import date, datetime, time
from pathlib import Path

import pytest

from cets.adapters.sql.store import SqlStore
from cets.domain.errors import RejectCode
from cets.domain.policy import Policy, PositionLimit
from cets.domain.registry.holders import Holder
from cets.domain.trading.calendar import local_datetime
from cets.service.clock import SettableClock, to_us
from cets.service.exchange import Exchange
from cets.service.registry import Registry
from cets.service.supervision import Supervision
from cets.service.surveillance import Surveillance

CEA = "CEA-2024"
DAY = date(2024, 3, 4)  # a Monday


def at(hour: int, minute: int = 0, second: int = 0, day: date = DAY) -> datetime:
    return local_datetime(day, time(hour, minute, second))


class Market:
    """E1 and E2 share controller G1; I1 and I2 are independent; everyone has units and money."""

    def __init__(self, url: str, policy: Policy | None = None) -> None:
        self.policy = policy or Policy()
        self.store = SqlStore.open(url, durable=False)
        self.clock = SettableClock(at(9))
        self.registry = Registry(self.store, self.clock)
        self.exchange = Exchange(self.store, self.clock, self.policy)
        self.supervision = Supervision(self.store, self.clock, self.policy)
        holders = [
            Holder("E1", "key_emitter", "Wuhan Power", "G1"),
            Holder("E2", "key_emitter", "Xiangyang Thermal", "G1"),
            Holder("I1", "institution", "Fund One"),
            Holder("I2", "institution", "Fund Two"),
        ]
        for h in holders:
            assert self.registry.open_holder(h, actor="t").ok
        assert self.registry.issue("iss", CEA, 1_000_000).ok
        for h in holders:
            assert self.registry.allocate(f"alloc-{h.id}", h.id, CEA, 5_000).ok
            assert self.registry.deposit(f"dep-{h.id}", h.id, 100_000_000).ok
        assert self.exchange.list_instrument(CEA, 6000, actor="t").ok
        self.n = 0

    def trade(self, seller: str, buyer: str, quantity: int, price: int = 6000) -> None:
        self.n += 1
        assert self.exchange.place(f"S{self.n}", seller, CEA, "sell", quantity, price, actor="t").ok
        assert self.exchange.place(f"B{self.n}", buyer, CEA, "buy", quantity, price, actor="t").ok

    def journal_kinds(self) -> list[str]:
        return [e.kind for e in self.store.journal_entries()]


@pytest.fixture
def market(tmp_path: Path) -> Market:
    return Market(f"sqlite:///{tmp_path}/m.db")


def test_a_wash_trade_is_raised_live_with_its_evidence_kept_once_and_updated_while_open(
    market: Market,
) -> None:
    market.clock.set(at(10))
    market.trade("E1", "E2", 100)
    first = market.supervision.scan_live(actor="sv")
    assert first.raised == ["AL1"] and first.seq is not None
    stored = market.supervision.alerts()[0]
    assert stored.alert.type == "wash_trade" and stored.state == "open"
    assert stored.alert.accounts == ("E1", "E2")
    assert stored.alert.trades == ("T1",) and set(stored.alert.orders) == {"S1", "B1"}
    assert stored.day == DAY
    assert market.supervision.scan_live(actor="sv").raised == []  # kept once, by key

    market.clock.set(at(10, 5))
    market.trade("E2", "E1", 50)  # the same related pair trades again: the same alert grows
    again = market.supervision.scan_live(actor="sv")
    assert again.raised == [] and again.updated == ["AL1"]
    assert market.supervision.alerts()[0].alert.trades == ("T1", "T2")
    _, history = market.supervision.alert("AL1") or (None, [])
    assert [(x.action, x.seq) for x in history] == [
        ("raised", first.seq),
        ("updated", again.seq),
    ]
    scans = [e for e in market.store.journal_entries() if e.kind == "supervision_scan"]
    assert json.loads(scans[0].body)["raised"] == [{"id": "AL1", "key": stored.alert.key}]


def test_an_alert_taken_up_keeps_its_evidence_and_what_comes_later_is_a_new_alert(
    market: Market,
) -> None:
    market.clock.set(at(10))
    market.trade("E1", "E2", 100)
    market.supervision.scan_live(actor="sv")
    assert market.supervision.investigate("inv", "AL1", note="calling E1", actor="sup").ok
    assert market.supervision.scan_live(actor="sv").raised == []  # nothing new: nothing raised
    market.trade("E2", "E1", 50)
    result = market.supervision.scan_live(actor="sv")
    assert result.raised == ["AL2"] and result.updated == []
    first, second = market.supervision.alerts()
    assert first.alert.trades == ("T1",) and first.state == "investigating"
    assert second.alert.trades == ("T1", "T2") and second.state == "open"
    assert second.alert.key == first.alert.key  # the same topic, a new alert
    market.trade("E1", "E2", 20)
    assert market.supervision.scan_live(actor="sv").updated == ["AL2"]  # it grows while open
    assert [a.id for a in market.supervision.alerts()] == ["AL1", "AL2"]
    scans = [json.loads(e.body) for e in market.store.journal_entries()]
    keys = [r["key"] for b in scans if "raised" in b for r in b["raised"]]
    assert keys == [first.alert.key, f"{first.alert.key}#2"]


def test_rules_that_judge_a_whole_day_wait_for_its_close(market: Market) -> None:
    market.clock.set(at(10))
    market.trade("I1", "I2", 1_200)  # I2 buys all of a 1,200 t day: 100% of the volume
    assert market.supervision.scan_live(actor="sv").raised == []
    market.clock.set(at(15, 1))
    assert market.exchange.end_of_day(actor="t").ok
    market.supervision.scan_live(actor="sv")
    kinds = {(a.alert.type, a.alert.accounts) for a in market.supervision.alerts()}
    assert kinds == {("concentration", ("I2",)), ("concentration", ("I1",))}


def test_the_batch_scan_reads_history_and_the_band_each_day_was_measured_from(
    market: Market,
) -> None:
    market.clock.set(at(10))
    market.trade("I1", "I2", 100, 6000)
    market.clock.set(at(15, 1))
    assert market.exchange.end_of_day(actor="t").ok  # the close becomes 60.00 again
    day2 = date(2024, 3, 5)
    market.clock.set(at(10, day=day2))
    market.trade("I2", "I1", 10, 6600)  # at the upper band limit of 60.00 + 10%
    market.clock.set(at(15, 1, day=day2))
    assert market.exchange.end_of_day(actor="t").ok
    result = market.supervision.scan(actor="sv")
    spikes = [a for a in market.supervision.alerts() if a.alert.type == "price_spike"]
    assert [(a.day, a.alert.trades) for a in spikes] == [(day2, ("T2",))] * len(spikes)
    assert {a.alert.key for a in spikes} >= {f"price_spike:{CEA}:2024-03-05:upper"}
    assert result.raised  # a second batch scan raises nothing more
    assert market.supervision.scan(actor="sv").raised == []


def test_cancel_and_expiry_times_are_kept_for_the_detectors(market: Market) -> None:
    market.clock.set(at(10))
    assert market.exchange.place("C1", "I1", CEA, "buy", 100, 5900, actor="t").ok
    market.clock.set(at(10, 0, 30))
    assert market.exchange.cancel("C1", actor="t").ok
    assert market.exchange.place("X1", "I1", CEA, "buy", 100, 5800, actor="t").ok
    market.clock.set(at(15, 1))
    assert market.exchange.end_of_day(actor="t").ok
    with market.store.unit_of_work() as uow:
        events = {o.id: o for o in uow.order_events(DAY, DAY)}
    assert events["C1"].cancelled_us == to_us(at(10, 0, 30))
    assert events["X1"].status == "expired" and events["X1"].cancelled_us is None


def test_the_workflow_moves_forward_only_and_every_command_is_idempotent(
    market: Market,
) -> None:
    market.clock.set(at(10))
    market.trade("E1", "E2", 100)
    market.supervision.scan_live(actor="sv")
    sv = market.supervision
    assert sv.investigate("i1", "AL1", actor="sup").ok
    assert sv.investigate("i1", "AL1", actor="sup").replayed  # the same id: the first answer
    refused = sv.investigate("i2", "AL1", actor="sup")
    assert refused.code == RejectCode.alert_state_does_not_allow
    assert sv.close_alert("c0", "AL1", "not_a_resolution", actor="sup").code == (
        RejectCode.invalid_field
    )
    assert sv.close_alert("c1", "AL1", "no_violation", note="hedging", actor="sup").ok
    assert sv.close_alert("c1", "AL1", "warning_issued", actor="sup").code == (
        RejectCode.duplicate_id
    )
    assert sv.close_alert("c2", "AL1", "no_violation", actor="sup").code == (
        RejectCode.alert_state_does_not_allow
    )
    assert sv.investigate("i3", "AL9", actor="sup").code == RejectCode.unknown_alert
    stored, history = sv.alert("AL1") or (None, [])
    assert stored is not None and (stored.state, stored.resolution) == ("closed", "no_violation")
    assert [(x.action, x.state, x.actor, x.command) for x in history] == [
        ("raised", "open", "sv", None),
        ("investigate", "investigating", "sup", "i1"),
        ("close", "closed", "sup", "c1"),
    ]
    assert market.journal_kinds().count("alert_investigate") == 1
    assert market.journal_kinds().count("alert_close") == 1


def test_a_measure_changes_the_account_in_the_same_transaction_or_not_at_all(
    market: Market,
) -> None:
    market.clock.set(at(10))
    market.trade("E1", "E2", 100)
    market.supervision.scan_live(actor="sv")
    sv = market.supervision
    # Two accounts in the alert: the measure must say which.
    no_account = sv.take_measure("m0", "AL1", "restrict_account", actor="sup")
    assert no_account.code == RejectCode.invalid_field and no_account.field == "account"
    stranger = sv.take_measure("m9", "AL1", "freeze", account="I1", actor="sup")
    assert stranger.code == RejectCode.invalid_field and "concerns E1, E2" in stranger.message
    assert sv.take_measure("m1", "AL1", "restrict_account", account="E2", actor="sup").ok
    with market.store.unit_of_work() as uow:
        assert (uow.holder("E2") or Holder("", "", "")).state == "restricted"
    blocked = market.registry.transfer("t1", "E2", "I1", CEA, 10, actor="E2")
    assert blocked.code == RejectCode.account_restricted
    # Restricting it again is refused, and leaves nothing behind: no action, no journal entry.
    kinds_before = market.journal_kinds()
    again = sv.take_measure("m2", "AL1", "restrict_account", account="E2", actor="sup")
    assert again.code == RejectCode.account_state_does_not_allow
    assert market.journal_kinds() == kinds_before
    assert sv.take_measure("m3", "AL1", "freeze", account="E1", actor="sup").ok
    letter = sv.take_measure("m4", "AL1", "risk_warning_letter", account="E1", actor="sup")
    assert letter.ok
    stored, history = sv.alert("AL1") or (None, [])
    assert stored is not None and stored.state == "investigating"  # a measure takes it up
    measures = [(x.measure, x.account) for x in history if x.action == "measure"]
    assert measures == [
        ("restrict_account", "E2"),
        ("freeze", "E1"),
        ("risk_warning_letter", "E1"),
    ]
    assert history[-1].text is not None and "E1 and E2" in history[-1].text  # the explanation
    with market.store.unit_of_work() as uow:
        assert (uow.holder("E1") or Holder("", "", "")).state == "frozen"
    assert sv.close_alert("c", "AL1", "measures_taken", actor="sup").ok
    late = sv.take_measure("m5", "AL1", "report_to_authority", account="E1", actor="sup")
    assert late.code == RejectCode.alert_state_does_not_allow
    assert market.store.audit().ok


def _large_holder_market(tmp_path: Path) -> Market:
    limit = PositionLimit(key_emitter_extra_t=20_000, other_t=10_000)  # threshold 8,000 t
    return Market(f"sqlite:///{tmp_path}/lh.db", Policy(position_limit=limit))


def test_crossing_the_large_holder_threshold_makes_one_report_with_the_history(
    tmp_path: Path,
) -> None:
    m = _large_holder_market(tmp_path)
    m.clock.set(at(9, 10))
    assert m.registry.transfer("t1", "I2", "I1", CEA, 2_000, actor="I2").ok  # I1: 7,000
    assert m.supervision.scan_live(actor="sv").reports == []
    m.clock.set(at(9, 10, day=date(2024, 3, 5)))
    assert m.registry.transfer("t2", "E1", "I1", CEA, 1_500, actor="E1").ok  # I1: 8,500
    result = m.supervision.scan_live(actor="sv")
    assert result.reports == ["LH1"]
    (report,) = m.supervision.large_holder_reports()
    assert (report.holder, report.asset, report.position, report.threshold, report.limit_t) == (
        "I1",
        CEA,
        8_500,
        8_000,
        10_000,
    )
    assert report.transfer == "t2"
    assert report.history == [("2024-03-04", 7_000, 7_000), ("2024-03-05", 8_500, 1_500)]
    alert = {a.id: a for a in m.supervision.alerts()}[report.alert]
    assert alert.alert.type == "large_holder" and alert.alert.accounts == ("I1",)
    assert "8,500 t" in alert.alert.explanation and "t2" in alert.alert.explanation
    assert m.supervision.scan_live(actor="sv").reports == []  # one report per crossing

    # Back under the threshold, then over it again: a second crossing, a second report.
    assert m.registry.transfer("t3", "I1", "I2", CEA, 1_000, actor="I1").ok
    assert m.supervision.scan_live(actor="sv").reports == []
    assert m.registry.transfer("t4", "I2", "I1", CEA, 600, actor="I2").ok
    assert m.supervision.scan_live(actor="sv").reports == ["LH2"]
    # A key emitter's limit is its allocation plus the extra: 25,000 t, threshold 20,000 t.
    assert m.registry.allocate("big", "E2", CEA, 14_000).ok  # 19,000: under
    assert m.supervision.scan_live(actor="sv").reports == []


def test_without_a_position_limit_there_is_no_threshold(tmp_path: Path) -> None:
    m = Market(f"sqlite:///{tmp_path}/nl.db", Policy(position_limit=None))
    assert m.registry.allocate("big", "I1", CEA, 900_000).ok
    assert m.supervision.scan(actor="sv").reports == []


def test_supervision_rows_on_postgresql(pg_url: str) -> None:
    market = Market(pg_url)
    market.clock.set(at(10))
    market.trade("E1", "E2", 100)
    assert market.supervision.scan_live(actor="sv").raised == ["AL1"]
    assert [a.id for a in market.supervision.alerts(account="E2")] == ["AL1"]
    assert market.supervision.alerts(account="I1") == []
    assert market.supervision.alerts(first=DAY, last=DAY, state="open")[0].day == DAY
    assert market.supervision.take_measure(
        "m", "AL1", "restrict_account", account="E1", actor="sup"
    ).ok
    assert market.store.audit().ok


def test_the_surveillance_thread_judges_yesterday_at_start_then_watches_today(
    market: Market,
) -> None:
    market.clock.set(at(10))
    market.trade("E1", "E2", 100)  # Monday: a wash trade nobody scanned
    market.clock.set(at(15, 1))
    assert market.exchange.end_of_day(actor="t").ok
    tuesday = date(2024, 3, 5)
    market.clock.set(at(10, day=tuesday))
    watcher = Surveillance(market.supervision, interval_s=0.02)
    assert watcher.run_once().raised == ["AL1"]  # the first round covers the previous day
    market.trade("E2", "E1", 30)
    watcher.start()
    try:
        deadline = time_.monotonic() + 10
        while len(market.supervision.alerts()) < 2 and time_.monotonic() < deadline:
            time_.sleep(0.02)
    finally:
        watcher.stop()
    days = [(a.id, a.day, a.alert.trades) for a in market.supervision.alerts()]
    assert days == [("AL1", DAY, ("T1",)), ("AL2", tuesday, ("T2",))]
