"""Compliance at the service level (Compliance over SqlStore on SQLite): what the scenario files
do not show. Corrections kept with what they replaced, multi-year and cumulative periods,
banking switched off, idempotent commands, offsets lapsing at the close, the compliance rates,
and the rounding of benchmark allocations. Every test ends with the store auditing clean."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from cets.adapters.sql import compliance_tables as c
from cets.adapters.sql.store import SqlStore
from cets.domain.compliance.allocation import PlanLine, allowance, gap_capped, relief_limit
from cets.domain.compliance.records import EmissionEntry
from cets.domain.compliance.status import Status
from cets.domain.errors import RejectCode
from cets.domain.ledger.model import Purpose
from cets.domain.policy import Policy
from cets.domain.registry.access import Person, Role
from cets.domain.registry.holders import Holder
from cets.domain.units import CCER
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.compliance import Compliance
from cets.service.operations import Gate
from cets.service.ports import CommandResult
from cets.service.registry import Registry

START = datetime(2024, 6, 3, 10, 0, tzinfo=SHANGHAI)


@dataclass
class World:
    store: SqlStore
    clock: SettableClock
    registry: Registry
    compliance: Compliance

    def give(self, holder: str, asset: str, quantity: int) -> None:
        ok(self.registry.issue(f"give-{holder}-{asset}-{quantity}", asset, quantity, to=holder))

    def units(self, holder: str, asset: str) -> tuple[int, int]:
        for account in self.store.accounts_of(holder):
            if (account.purpose, account.asset) == (Purpose.holding, asset):
                return account.balance, account.available
        return 0, 0

    def status(self, year: int, holder: str) -> tuple[str, int, int]:
        table = self.compliance.status_table(year)
        (row,) = [r for r in table.rows if r.line.holder == holder]
        return row.line.status.value, row.line.obligation, row.line.surrendered


@pytest.fixture
def world(tmp_path: object) -> Iterator[World]:
    store = SqlStore.open(f"sqlite:///{tmp_path}/c.db", durable=False)
    clock = SettableClock(START)
    policy = Policy()
    registry = Registry(store, clock)
    for holder in ("E1", "E2", "E3"):
        ok(registry.open_holder(Holder(holder, "key_emitter", holder), actor="test"))
    yield World(store, clock, registry, Compliance(store, clock, policy))
    report = store.audit()
    store.close()
    assert report.ok, report.violations


def ok(result: CommandResult) -> CommandResult:
    assert result.ok, (result.code, result.message)
    return result


def refused(result: CommandResult, code: RejectCode) -> None:
    assert not result.ok and result.code == code, (result.code, result.message)


def test_a_correction_keeps_the_entry_it_replaced_and_the_status_follows_it(world: World) -> None:
    c_ = world.compliance
    ok(c_.enter_emissions("e1", [EmissionEntry("E1", 2023, 1000)]))
    ok(c_.enter_emissions("e2", [EmissionEntry("E1", 2023, 800, "verifier's correction")]))
    assert world.status(2023, "E1") == ("B", 800, 0)
    with world.store.engine.connect() as conn:
        history = conn.execute(
            select(c.emission_entries.c.tonnes, c.emission_entries.c.previous_tonnes)
            .where(c.emission_entries.c.holder == "E1")
            .order_by(c.emission_entries.c.id)
        ).all()
    assert [tuple(r) for r in history] == [(1000, None), (800, 1000)]


def test_a_file_of_emissions_is_all_or_nothing(world: World) -> None:
    entries = [EmissionEntry("E1", 2023, 10), EmissionEntry("NOPE", 2023, 5)]
    result = world.compliance.enter_emissions("file", entries)
    refused(result, RejectCode.unknown_account)
    assert result.field == "entries[1].account"
    assert world.status(2023, "E1")[0] == "C"  # E1's line did not stay either


def test_repeating_a_command_id_replays_it_and_a_different_body_is_refused(world: World) -> None:
    world.give("E1", "CEA-2023", 100)
    first = ok(world.compliance.surrender("s1", "E1", 2023, "CEA-2023", 40))
    again = world.compliance.surrender("s1", "E1", 2023, "CEA-2023", 40)
    assert again.ok and again.replayed and again.seq == first.seq
    refused(world.compliance.surrender("s1", "E1", 2023, "CEA-2023", 41), RejectCode.duplicate_id)
    assert world.units("E1", "CEA-2023") == (60, 60)


def test_a_two_year_period_has_one_obligation_and_one_status(world: World) -> None:
    c_ = world.compliance
    ok(c_.open_period("p", 2021, 2022))
    world.give("E1", "CEA-2021", 300)
    ok(c_.enter_emissions("e", [EmissionEntry("E1", 2021, 100), EmissionEntry("E1", 2022, 200)]))
    ok(c_.surrender("s", "E1", 2022, "CEA-2021", 300))
    table = c_.status_table(2021)
    assert table.label == "2021-2022" and table.deadline == date(2023, 12, 31)
    assert world.status(2022, "E1") == ("A", 300, 300)
    assert world.status(2021, "E2")[0] == "C"


def test_a_cumulative_period_has_a_status_per_year_over_the_years_so_far(world: World) -> None:
    c_ = world.compliance
    ok(c_.open_period("uk", 2021, 2030, deadline=date(2031, 4, 30), cumulative=True))
    world.give("E1", "CEA-2021", 250)
    entries = [EmissionEntry("E1", 2021, 100), EmissionEntry("E1", 2022, 200)]
    ok(c_.enter_emissions("e", entries))
    ok(c_.surrender("s", "E1", 2021, "CEA-2021", 250))
    assert world.status(2021, "E1") == ("A", 100, 250)
    assert world.status(2022, "E1") == ("B", 300, 250)
    assert world.status(2023, "E1")[0] == "C"  # 2023's emissions are not entered
    assert c_.status_table(2022).deadline == date(2023, 4, 30)


def test_operation_years_bound_the_obligation(world: World) -> None:
    c_ = world.compliance
    ok(c_.set_operation_years("o", "E1", 2024, None))
    ok(c_.set_operation_years("o2", "E2", None, 2022))
    assert world.status(2023, "E1")[0] == "NOT_APPLICABLE"
    assert world.status(2023, "E2")[0] == "NOT_APPLICABLE"
    assert world.status(2023, "E3")[0] == "C"


def test_without_banking_only_the_periods_own_vintages_may_be_surrendered(world: World) -> None:
    c_ = world.compliance
    ok(c_.open_period("p", 2024, rules={"banking": False}))
    world.give("E1", "CEA-2023", 10)
    world.give("E1", "CEA-2024", 10)
    refused(c_.surrender("s1", "E1", 2024, "CEA-2023", 10), RejectCode.vintage_not_eligible)
    ok(c_.surrender("s2", "E1", 2024, "CEA-2024", 10))
    # with banking (the default), 2023's vintage counts for 2025
    ok(c_.surrender("s3", "E1", 2025, "CEA-2023", 10))


def test_a_period_cannot_overlap_another_nor_take_unknown_rules(world: World) -> None:
    c_ = world.compliance
    ok(c_.open_period("p", 2021, 2022))
    refused(c_.open_period("q", 2022, 2023), RejectCode.period_overlaps)
    bad = c_.open_period("r", 2024, rules={"offset_cap_pct": 101})
    refused(bad, RejectCode.invalid_field)
    assert bad.field == "rules.offset_cap_pct"
    refused(c_.open_period("s", 2024, rules={"colour": 1}), RejectCode.invalid_field)


def test_an_offset_still_pending_at_the_close_lapses_and_its_units_come_back(world: World) -> None:
    c_ = world.compliance
    world.give("E1", CCER, 50)
    ok(c_.enter_emissions("e", [EmissionEntry("E1", 2023, 1000)]))
    ok(c_.surrender("o", "E1", 2023, CCER, 50))
    assert world.units("E1", CCER) == (50, 0)
    world.clock.set(datetime(2025, 1, 2, 9, 0, tzinfo=SHANGHAI))
    ok(c_.close("close", 2023))
    assert world.units("E1", CCER) == (50, 50)
    (row,) = c_.status_table(2023).rows[:1]
    assert (row.line.holder, row.line.status, row.line.offset, row.shortfall) == (
        "E1",
        Status.B,
        0,
        1000,
    )
    refused(c_.decide_offset("u", "o", use=True, actor="a"), RejectCode.offset_not_pending)


def test_rates_count_entities_and_volume_and_leave_out_the_excluded(world: World) -> None:
    c_ = world.compliance
    world.give("E1", "CEA-2023", 1000)
    world.give("E2", "CEA-2023", 500)
    entries = [
        EmissionEntry("E1", 2023, 1000),
        EmissionEntry("E2", 2023, 1000),
        EmissionEntry("E3", 2023, None),
    ]
    ok(c_.enter_emissions("e", entries))
    ok(c_.surrender("s1", "E1", 2023, "CEA-2023", 1000))
    ok(c_.surrender("s2", "E2", 2023, "CEA-2023", 500))
    rates = c_.status_table(2023).rates
    assert (rates.entities, rates.compliant, rates.obligation, rates.covered) == (2, 1, 2000, 1500)
    assert (rates.by_count_pct, rates.by_volume_pct) == ("50.00", "75.00")


def test_a_recovery_the_holder_cannot_bear_refuses_the_whole_final_allocation(
    world: World,
) -> None:
    c_ = world.compliance
    ok(world.registry.issue("i", "CEA-2023", 10_000))
    lines = [
        PlanLine(2023, "E1", "l", Decimal("1"), (), 1000),
        PlanLine(2023, "E2", "l", Decimal("1"), (), 1000),
    ]
    ok(c_.import_plan("plan", lines))
    ok(c_.pre_allocate("pre", 2023))  # 700 each
    ok(world.registry.transfer("t", "E1", "E3", "CEA-2023", 700, actor="E1"))
    for holder in ("E1", "E2"):
        ok(c_.record_output(f"o{holder}", 2023, holder, "l", 100))
        ok(c_.enter_emissions(f"e{holder}", [EmissionEntry(holder, 2023, 100)]))
    refused(c_.final_allocate("final", 2023), RejectCode.insufficient_units)
    assert world.units("E2", "CEA-2023") == (700, 700)  # E2's recovery did not happen alone


def test_an_allowance_rounds_once_per_entity_half_up() -> None:
    lines = [
        PlanLine(2023, "E1", "a", Decimal("0.8"), (Decimal("1.0125"),), 1),  # 0.81
        PlanLine(2023, "E1", "b", Decimal("0.8"), (Decimal("1.0125"),), 1),  # 0.81
    ]
    assert allowance(lines, verified=False) == 2  # 1.62 -> 2; per line it would be 1 + 1
    half = [PlanLine(2023, "E1", "a", Decimal("0.5"), (), 5)]
    assert allowance(half, verified=False) == 3  # 2.5 -> 3, half-up


def test_the_gap_cap_rounds_its_floor_up_and_relief_needs_the_threshold() -> None:
    assert gap_capped(0, 1001, 20) == 801  # 800.8 rounds up
    assert gap_capped(900, 1000, None) == 900
    assert relief_limit(1000, 900, gap_pct=10, borrow_pct=50) == (True, 50)
    assert relief_limit(1000, 901, gap_pct=10, borrow_pct=50) == (False, 0)


def test_the_audit_finds_a_surrender_record_that_disagrees_with_the_surrender_account(
    world: World,
) -> None:
    world.give("E1", "CEA-2023", 100)
    world.give("E1", CCER, 10)
    ok(world.compliance.enter_emissions("e", [EmissionEntry("E1", 2023, 1000)]))
    ok(world.compliance.surrender("s", "E1", 2023, "CEA-2023", 100))
    ok(world.compliance.surrender("o", "E1", 2023, CCER, 10))
    assert world.store.audit().ok
    with world.store.engine.begin() as conn:
        conn.execute(c.surrenders.update().where(c.surrenders.c.id == "s").values(quantity=99))
        conn.execute(c.surrenders.update().where(c.surrenders.c.id == "o").values(state="used"))
    rules = [(v.rule, v.message) for v in world.store.audit().violations]
    assert rules == [
        (
            "surrenders_match_the_surrender_account",
            "CCER: surrenders recorded pending 0, the surrender account has 10",
        ),
        (
            "surrenders_match_the_surrender_account",
            "CCER: surrenders recorded used 10, the surrender account has 0",
        ),
        (
            "surrenders_match_the_surrender_account",
            "CEA-2023: surrenders recorded used 99, the surrender account has 100",
        ),
    ]
    with world.store.engine.begin() as conn:  # put it back, for the fixture's final audit
        conn.execute(c.surrenders.update().where(c.surrenders.c.id == "s").values(quantity=100))
        conn.execute(c.surrenders.update().where(c.surrenders.c.id == "o").values(state="pending"))


def test_under_four_eyes_a_parked_plan_and_period_run_as_given_once_approved(
    world: World,
) -> None:
    policy = Policy(four_eyes=True, four_eyes_ops=("allocation_plan", "open_period"))
    gate = Gate(world.registry, policy, check_roles=False, compliance=world.compliance)
    first, second = (Person(p, p, Role.authority) for p in ("auth1", "auth2"))
    line = PlanLine(2024, "E1", "kiln", Decimal("0.85"), (Decimal("1.1"),), 1000)
    refused(
        gate.submit(first, "allocation_plan", "plan", {"lines": [line]}),
        RejectCode.approval_required,
    )
    params = {"first_year": 2024, "deadline": date(2025, 6, 30), "rules": {"relief": False}}
    refused(gate.submit(first, "open_period", "period", params), RejectCode.approval_required)
    ok(gate.approve(second, "plan"))
    ok(gate.approve(second, "period"))
    with world.store.unit_of_work() as uow:
        assert uow.plan_lines(2024) == [line]  # type: ignore[attr-defined]
    assert world.compliance.status_table(2024).deadline == date(2025, 6, 30)


def test_a_refused_file_of_emissions_names_every_bad_entry(world: World) -> None:
    entries = [
        EmissionEntry("X1", 2023, 10),
        EmissionEntry("E1", 2023, 5),
        EmissionEntry("E1", 2023, 6),
        EmissionEntry("X2", 2023, 7),
    ]
    result = world.compliance.enter_emissions("file", entries)
    refused(result, RejectCode.unknown_account)
    assert result.field == "entries[0].account"
    assert result.message.startswith("3 entries refused: entries[0].account: no account holder")
    assert "entries[2].year: E1 2023 is entered twice" in result.message
    assert "entries[3].account: no account holder 'X2'" in result.message


def test_a_shortfall_is_deducted_only_when_its_own_periods_rules_say_so(world: World) -> None:
    c_ = world.compliance
    ok(c_.open_period("p22", 2022, rules={"shortfall_deduction": False}))
    entries = [EmissionEntry("E1", 2022, 100), EmissionEntry("E1", 2023, 100)]
    ok(c_.enter_emissions("e", entries))
    world.clock.set(datetime(2025, 1, 2, 9, 0, tzinfo=SHANGHAI))
    ok(c_.close("c22", 2022))  # E1 short by 100, not to be deducted
    ok(c_.close("c23", 2023))  # E1 short by 100 again, deducted (the default)
    ok(world.registry.issue("i", "CEA-2025", 10_000))
    ok(c_.import_plan("plan", [PlanLine(2025, "E1", "l", Decimal("1"), (), 1000)]))
    ok(c_.pre_allocate("pre", 2025))
    assert world.units("E1", "CEA-2025") == (600, 600)  # 700 less 2023's 100 only
