"""Settlement runs through the service (`cets.service.settlement`) on a real SQLite store: the run
a day's end prepares, who confirms it and when, reconciliation breaks (made here by changing a
stored row behind the ledger's back, as a bug or a hand edit would), delivery and its refusals,
objections and corrections, and the day closer with a run waiting for a person."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import pytest
from sqlalchemy import text

from cets.adapters.sql.store import SqlStore
from cets.domain.errors import RejectCode
from cets.domain.ledger.model import Purpose
from cets.domain.policy import FeeSchedule, Policy
from cets.domain.registry.bank_files import parse_statement
from cets.domain.registry.holders import Holder
from cets.domain.settlement.runs import CorrectionLeg, RunStatus
from cets.domain.trading.calendar import local_datetime
from cets.domain.units import CASH
from cets.service.clock import SettableClock
from cets.service.day_close import DayCloser
from cets.service.exchange import Exchange
from cets.service.funds import Funds
from cets.service.registry import Registry

CEA = "CEA-2024"
DAY = datetime(2024, 3, 4).date()  # a Monday
RUN = "R2024-03-04"
FEES = FeeSchedule(10, 10, 0)


def at(hour: int, minute: int = 0, day: int = 4) -> datetime:
    return local_datetime(DAY.replace(day=day), time(hour, minute))


class Day:
    """E1 sells 100 t at 60.00 to I1 at 10:00 (fees 10 bp a side: 6.00 each); the day ends."""

    def __init__(self, path: Path | str, policy: Policy) -> None:
        url = path if isinstance(path, str) else f"sqlite:///{path}/day.db"
        self.store = SqlStore.open(url, durable=False)
        self.clock = SettableClock(at(9))
        self.registry = Registry(self.store, self.clock)
        self.exchange = Exchange(self.store, self.clock, policy)
        for holder in ("E1", "I1", "I2"):
            assert self.registry.open_holder(Holder(holder, "institution", holder), actor="t").ok
        assert self.registry.issue("iss", CEA, 10_000).ok
        assert self.registry.allocate("alloc", "E1", CEA, 1_000).ok
        assert self.registry.deposit("dep", "I1", 1_000_000).ok
        assert self.exchange.list_instrument(CEA, 6000, actor="t").ok
        self.clock.set(at(10))
        assert self.exchange.place("S1", "E1", CEA, "sell", 100, 6000, actor="E1").ok
        assert self.exchange.place("B1", "I1", CEA, "buy", 100, 6100, actor="I1").ok
        self.clock.set(at(15, 5))
        closed = self.exchange.end_of_day(actor="exchange")
        assert closed.ok and closed.message == RUN, closed

    def balance(self, holder: str, purpose: str, asset: str) -> int:
        account = self.store.account(holder, purpose, asset)  # type: ignore[attr-defined]
        return 0 if account is None else account.balance

    def status(self) -> str:
        run = self.store.settlement_run(RUN)
        assert run is not None
        return run.status

    def tamper(self, sql: str) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(text(sql))


@pytest.fixture
def auto(tmp_path: Path) -> Day:
    return Day(tmp_path, Policy(fees=FEES))


@pytest.fixture
def manual(tmp_path: Path) -> Day:
    return Day(tmp_path, Policy(fees=FEES, settlement_auto_confirm=False))


def units(day: Day, holder: str) -> int:
    return sum(
        a.balance
        for a in day.store.all_accounts()
        if (a.holder, a.purpose, a.asset) == (holder, Purpose.holding, CEA)
    )


def money(day: Day, holder: str) -> tuple[int, int]:
    """(balance, available) of the holder's fund account."""
    for a in day.store.all_accounts():
        if (a.holder, a.purpose, a.asset) == (holder, Purpose.fund, CASH):
            return a.balance, a.available
    return 0, 0


def test_the_days_end_prepares_the_run_and_the_system_confirms_and_delivers_it(auto: Day) -> None:
    run = auto.store.settlement_run(RUN)
    assert run is not None
    assert (run.status, run.trades, run.confirmed_by) == (RunStatus.delivered, 1, "exchange")
    assert units(auto, "I1") == 100 and units(auto, "E1") == 900
    assert money(auto, "I1") == (1_000_000 - 600_000 - 600, 1_000_000 - 600_600)
    assert money(auto, "E1") == (600_000 - 600, 600_000 - 600)
    assert auto.store.settlement_breaks(run) == []
    assert not [h for h in auto.store.open_holds() if h.code == "order"]
    assert auto.store.audit().ok


def test_a_run_settles_the_same_on_both_databases(db_url: str) -> None:
    """The delivery's set-based writes and reconciliation's queries, on SQLite and PostgreSQL."""
    day = Day(db_url, Policy(fees=FEES))
    run = day.store.settlement_run(RUN)
    assert run is not None and run.status == RunStatus.delivered
    assert units(day, "I1") == 100 and money(day, "E1") == (599_400, 599_400)
    assert day.store.settlement_breaks(run) == []
    lines = {(line.account, line.asset): line for line in day.store.settlement_lines(run)}
    assert (lines["I1", CEA].units_in, lines["I1", CEA].funds_out, lines["I1", CEA].fees) == (
        100,
        600_000,
        600,
    )
    assert (lines["E1", CEA].units_out, lines["E1", CEA].funds_in) == (100, 600_000)
    report = day.store.audit()
    assert report.ok, report.violations


def test_a_run_left_for_a_person_holds_everything_until_confirmed(manual: Day) -> None:
    assert manual.status() == RunStatus.prepared
    assert units(manual, "I1") == 0
    # The buy order's excess over its trade (1.00 a tonne below its limit) is released already;
    # the trade's value and fee stay held until delivery.
    assert money(manual, "I1") == (1_000_000, 1_000_000 - 600_600)
    delivering = manual.exchange.deliver_run(RUN, actor="reg")
    assert delivering.code == RejectCode.run_state_does_not_allow
    confirmed = manual.exchange.confirm_run(RUN, actor="reg")
    assert confirmed.ok and confirmed.message == RunStatus.delivered
    assert units(manual, "I1") == 100
    again = manual.exchange.confirm_run(RUN, actor="reg")
    assert again.ok and again.replayed and units(manual, "I1") == 100
    assert manual.store.audit().ok


def test_a_break_blocks_confirmation_until_a_person_accepts_it_in_writing(manual: Day) -> None:
    manual.tamper("UPDATE transfers SET amount = amount - 1 WHERE id = 'proceeds:T1'")
    run = manual.store.settlement_run(RUN)
    assert run is not None
    (found,) = manual.store.settlement_breaks(run)
    assert (found.kind, found.ref, found.account, found.expected, found.actual) == (
        "proceeds_mismatch",
        "T1",
        "E1",
        600_000 - 600,
        600_000 - 601,
    )
    refused = manual.exchange.confirm_run(RUN, actor="reg")
    assert (refused.code, refused.field) == (RejectCode.run_has_breaks, "accept_breaks")
    assert manual.status() == RunStatus.prepared and units(manual, "I1") == 0
    accepted = manual.exchange.confirm_run(
        RUN, actor="reg", accept_breaks="the advance row was edited by hand; ticket 42"
    )
    assert accepted.ok
    run = manual.store.settlement_run(RUN)
    assert run is not None and run.status == RunStatus.delivered
    assert run.breaks_accepted == "the advance row was edited by hand; ticket 42"
    (entry,) = [e for e in manual.store.journal_entries() if e.kind == "settlement_confirmed"]
    assert '"proceeds_mismatch"' in entry.body and "ticket 42" in entry.body


def test_the_system_does_not_confirm_a_run_with_a_break(tmp_path: Path) -> None:
    day = Day(tmp_path, Policy(fees=FEES, settlement_auto_confirm=False))
    day.tamper("UPDATE holds SET remaining = remaining - 1 WHERE id = 'order:S1'")
    kinds = [b.kind for b in day.store.settlement_breaks(day.store.settlement_run(RUN))]  # type: ignore[arg-type]
    assert kinds == ["hold_short"]
    assert day.exchange.settle_run(RUN, actor="exchange").message == RunStatus.prepared
    assert day.status() == RunStatus.prepared


def test_after_delivery_a_changed_leg_is_a_break(auto: Day) -> None:
    auto.tamper("UPDATE transfers SET amount = 99 WHERE id = 'settle:T1/deliver'")
    run = auto.store.settlement_run(RUN)
    assert run is not None
    assert [(b.kind, b.expected, b.actual) for b in auto.store.settlement_breaks(run)] == [
        ("units_mismatch", 100, 99)
    ]


def test_closing_the_day_again_makes_no_second_run(auto: Day) -> None:
    again = auto.exchange.end_of_day(actor="exchange")
    assert again.ok and again.message == ""
    assert [r.id for r in auto.store.settlement_runs()] == [RUN]


def test_the_day_closer_leaves_a_day_whose_run_waits_for_a_person(manual: Day) -> None:
    manual.clock.set(at(16))
    closer = DayCloser(manual.exchange)
    assert closer.due() is None and closer.run_once() is None
    assert [r.id for r in manual.store.settlement_runs()] == [RUN]


def test_objections_are_taken_from_parties_until_the_next_trading_day_opens(auto: Day) -> None:
    x = auto.exchange
    auto.clock.set(at(18))
    assert x.object_to_run("OB1", RUN, account="I1", text="price", trade="T1", actor="i1").ok
    assert x.object_to_run("OB1", RUN, account="I1", text="price", trade="T1", actor="i1").replayed
    assert x.object_to_run("OB1", RUN, account="I1", text="other", actor="i1").code == (
        RejectCode.duplicate_id
    )
    assert x.object_to_run("OB2", RUN, account="I2", text="?", actor="i2").code == (
        RejectCode.not_a_party_to_run
    )
    assert x.object_to_run("OB3", "R1999-01-01", account="I1", text="?", actor="i").code == (
        RejectCode.unknown_run
    )
    auto.clock.set(at(9, 29, day=5))
    assert x.object_to_run("OB4", RUN, account="E1", text="late", actor="e1").ok
    auto.clock.set(at(9, 30, day=5))
    assert x.object_to_run("OB5", RUN, account="E1", text="too late", actor="e1").code == (
        RejectCode.objection_window_closed
    )
    assert [o.id for o in auto.store.settlement_objections(RUN)] == ["OB1", "OB4"]


def test_a_correction_that_cannot_be_delivered_is_not_confirmed_either(auto: Day) -> None:
    x = auto.exchange
    auto.clock.set(at(16))
    assert auto.registry.withdraw("w", "I1", 399_400, actor="bank").ok  # all it has left
    made = x.correct_run("C1", corrects=RUN, reverse="T1", reason="reverse T1", actor="reg")
    assert made.ok and made.message == RunStatus.prepared
    # E1 gives back the value (it has it); I1 gives back the units (it has them): this works.
    before = units(auto, "E1"), money(auto, "I1")
    extra = CorrectionLeg("I1", Purpose.fund, "E1", Purpose.fund, CASH, 1)
    assert x.correct_run("C2", corrects=RUN, legs=[extra], reason="1 fen", actor="reg").ok
    refused = x.confirm_run("C2", actor="reg")
    assert refused.code == RejectCode.insufficient_funds
    run = auto.store.settlement_run("C2")
    assert run is not None and run.status == RunStatus.prepared
    assert (units(auto, "E1"), money(auto, "I1")) == before
    assert x.confirm_run("C1", actor="reg").ok
    assert units(auto, "E1") == 1_000 and units(auto, "I1") == 0
    assert money(auto, "I1") == (600_600, 600_600)
    assert auto.store.audit().ok


@pytest.mark.parametrize(
    ("leg", "code"),
    [
        (CorrectionLeg("I1", Purpose.fees, "E1", Purpose.fund, CASH, 5), RejectCode.invalid_field),
        (
            CorrectionLeg("I1", Purpose.holding, "E1", Purpose.fees, CEA, 5),
            RejectCode.invalid_field,
        ),
        (CorrectionLeg("I1", "frozen", "E1", Purpose.fund, CASH, 5), RejectCode.invalid_field),
        (
            CorrectionLeg("I9", Purpose.fund, "E1", Purpose.fund, CASH, 5),
            RejectCode.unknown_account,
        ),
        (
            CorrectionLeg("I1", Purpose.fund, "E1", Purpose.fund, CASH, 0),
            RejectCode.amount_must_be_positive,
        ),
    ],
)
def test_a_correction_leg_that_is_not_valid_is_refused_and_nothing_is_made(
    auto: Day, leg: CorrectionLeg, code: RejectCode
) -> None:
    made = auto.exchange.correct_run("C1", corrects=RUN, legs=[leg], reason="r", actor="reg")
    assert made.code == code
    assert auto.store.settlement_run("C1") is None


def test_only_a_delivered_run_is_corrected(manual: Day) -> None:
    made = manual.exchange.correct_run("C1", corrects=RUN, reverse="T1", reason="r", actor="reg")
    assert (made.code, made.field) == (RejectCode.run_state_does_not_allow, "corrects")


def test_a_bank_statement_that_disagrees_with_the_ledger_is_a_break_of_the_days_run(
    tmp_path: Path,
) -> None:
    """The bank's statement for the day says 10,001.00 where the ledger booked 10,000.00 for
    `dep`; lists a 5.00 deposit (the import books it: no break) and a 3.00 one `ghost` the ledger
    never booked (a line stored as sent); and does not list the API deposit `api-1` of 7.00:
    three breaks, each with the bank's and the ledger's amounts."""
    day = Day(tmp_path, Policy(fees=FEES, settlement_auto_confirm=False))
    assert day.registry.deposit("api-1", "I2", 700, actor="bank").ok
    statement, problems = parse_statement(
        "date,reference,account,type,amount\n"
        "2024-03-04,dep,I1,deposit,10001.00\n"
        "2024-03-04,bank-5,I2,deposit,5.00\n"
    )
    assert not problems
    funds = Funds(day.store, day.clock)
    # `dep` is booked already with another amount: the import refuses that line, so book the
    # statement's other line and store the disagreeing line as the bank sent it.
    assert not funds.import_statement("bank", statement, actor="bank").ok
    assert funds.import_statement("bank", statement[1:], actor="bank").ok
    day.tamper(
        "INSERT INTO bank_statement_lines (bank, reference, day, account, type, amount_fen, "
        "imported_at) VALUES ('bank', 'dep', '2024-03-04', 'I1', 'deposit', 1000100, 0), "
        "('bank', 'ghost', '2024-03-04', 'I2', 'deposit', 300, 0)"
    )
    run = day.store.settlement_run(RUN)
    assert run is not None
    found = sorted((b.kind, b.ref, b.expected, b.actual) for b in day.store.settlement_breaks(run))
    assert found == [
        ("amount_mismatch", "dep", 1_000_100, 1_000_000),
        ("missing_in_ledger", "ghost", 300, None),
        ("missing_on_statement", "api-1", None, 700),
    ]
    assert day.exchange.confirm_run(RUN, actor="reg").code == RejectCode.run_has_breaks


def test_a_trade_is_reversed_once_and_a_correction_id_is_its_own(auto: Day) -> None:
    x = auto.exchange
    auto.clock.set(at(16))
    assert x.correct_run("C1", corrects=RUN, reverse="T1", reason="undo", actor="reg").ok
    again = x.correct_run("C1", corrects=RUN, reverse="T1", reason="undo", actor="reg")
    assert again.ok and again.replayed
    other_legs = [CorrectionLeg("I1", Purpose.fund, "E1", Purpose.fund, CASH, 1)]
    assert x.correct_run("C1", corrects=RUN, legs=other_legs, reason="undo", actor="reg").code == (
        RejectCode.duplicate_id
    )
    twice = x.correct_run("C2", corrects=RUN, reverse="T1", reason="undo", actor="reg")
    assert (twice.code, twice.field) == (RejectCode.duplicate_id, "reverse")
    run = auto.store.settlement_run("C1")
    assert run is not None and run.trades == 1


def test_an_objection_names_a_trade_of_its_own_account_in_the_run(auto: Day) -> None:
    x = auto.exchange
    auto.clock.set(at(16))
    wrong = x.object_to_run("OB1", RUN, account="I1", text="?", trade="T9", actor="i1")
    assert (wrong.code, wrong.field) == (RejectCode.unknown_reference, "trade")
    assert x.object_to_run("OB1", RUN, account="I1", text="?", trade="T1", actor="i1").ok
    assert x.object_to_run("OB1", RUN, account="I1", text="?", actor="i1").code == (
        RejectCode.duplicate_id
    )


def test_a_server_starting_after_a_crash_settles_the_run_the_day_end_left_prepared(
    manual: Day,
) -> None:
    """As if the process had stopped between the day's end and its settlement: the next server
    (auto-confirm on) settles the prepared run on its first poll, and not again after."""
    restarted = Exchange(manual.store, manual.clock, Policy(fees=FEES))
    closer = DayCloser(restarted)
    assert closer.run_once() is None  # no day to close
    assert manual.status() == RunStatus.delivered and units(manual, "I1") == 100
    assert restarted.resume_deliveries(actor="exchange") == []


def test_a_delivery_the_ledger_refuses_is_answered_not_raised_and_writes_nothing(
    manual: Day,
) -> None:
    confirmed = manual.exchange.confirm_run(RUN, actor="reg", deliver=False)
    assert confirmed.ok and manual.status() == RunStatus.confirmed
    manual.tamper("UPDATE holds SET remaining = remaining - 1 WHERE id = 'order:S1'")
    refused = manual.exchange.deliver_run(RUN, actor="reg")
    assert (refused.code, refused.field) == (RejectCode.amount_exceeds_hold, "run")
    assert manual.status() == RunStatus.confirmed and units(manual, "I1") == 0
    (outcome,) = manual.exchange.resume_deliveries(actor="exchange")
    assert outcome[0] == RUN and outcome[1].code == RejectCode.amount_exceeds_hold
