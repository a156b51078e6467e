"""Funds at settlement banks at the service level (Registry and Funds over SqlStore on SQLite):
one fund account at one bank, deposits and withdrawals only by that bank, withdrawal requests
paid or rejected by it, and T+1 on money (sale proceeds) and on units (purchases). Every test
ends with the store auditing clean (the fixture checks it after the test)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from cets.adapters.sql import tables as t
from cets.domain.errors import RejectCode
from cets.domain.policy import Policy
from cets.domain.registry.holders import BANK
from cets.service.exchange import Exchange
from cets.service.ports import CommandResult
from funds_support import CEA, MONDAY, World, audited_world

TODAY = MONDAY.date()


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    with audited_world(sqlite_url) as built:
        yield built


def refused(result: CommandResult, code: RejectCode, field: str | None = None) -> str:
    assert (result.code, result.ok) == (code, False), result
    if field is not None:
        assert result.field == field, result
    return result.message


def nothing_written(world: World) -> tuple[object, ...]:
    """What a refusal must leave as it was."""
    return (
        world.journal_length(),
        world.rows(t.fund_accounts),
        world.rows(t.withdrawals),
        [(a.id, a.buckets()) for a in world.store.all_accounts()],
    )


# -- one fund account at one bank ------------------------------------------------------------


def test_a_first_deposit_binds_the_holder_to_the_depositing_bank(world: World) -> None:
    assert world.registry.deposit("d1", "E1", 100_00, actor="b2op").ok

    view = world.funds.view("E1")
    assert view is not None
    assert (view.bank, view.number, view.balance) == ("B2", "E1", 100_00)
    assert world.bank_side("B2") == -100_00
    assert world.bank_side(BANK) == 0


def test_a_deposit_or_withdrawal_by_another_bank_is_refused_and_moves_nothing(
    world: World,
) -> None:
    assert world.registry.deposit("d1", "E1", 100_00, actor="b2op").ok
    before = nothing_written(world)

    deposit = world.registry.deposit("d2", "E1", 50_00, actor="bank1")
    withdrawal = world.registry.withdraw("w1", "E1", 50_00, actor="bank1")

    assert "at bank 'B2'" in refused(deposit, RejectCode.wrong_settlement_bank, "account")
    refused(withdrawal, RejectCode.wrong_settlement_bank, "account")
    assert nothing_written(world) == before
    assert world.registry.withdraw("w2", "E1", 50_00, actor="b2op").ok
    assert world.fund("E1") == (50_00, 50_00)


def test_the_default_bank_works_as_before_for_callers_that_name_no_bank(world: World) -> None:
    assert world.registry.deposit("d1", "I1", 250_000_00).ok  # actor "bank": the default
    assert world.registry.withdraw("w1", "I1", 12_345_67, actor="bank1").ok

    assert world.fund("I1") == (237_654_33, 237_654_33)
    assert world.bank_side(BANK) == -237_654_33
    assert world.funds.view("I1").bank == BANK  # type: ignore[union-attr]


def test_a_fund_account_is_opened_at_one_bank_once(world: World) -> None:
    assert world.funds.open_fund_account("E1", "B2", "6222-0001", actor="reg1").ok
    again = world.funds.open_fund_account("E1", "B2", "6222-0001", actor="reg1")
    assert (again.ok, again.replayed) == (True, True)
    before = nothing_written(world)

    elsewhere = world.funds.open_fund_account("E1", BANK, "E1", actor="reg1")
    renumbered = world.funds.open_fund_account("E1", "B2", "6222-0002", actor="reg1")
    number_taken = world.funds.open_fund_account("E2", "B2", "6222-0001", actor="reg1")

    assert "at bank 'B2'" in refused(elsewhere, RejectCode.fund_account_exists, "holder")
    refused(renumbered, RejectCode.fund_account_exists, "holder")
    assert "for E1" in refused(number_taken, RejectCode.fund_account_exists, "number")
    assert nothing_written(world) == before
    refused(
        world.registry.deposit("d1", "E1", 1_00, actor="bank1"), RejectCode.wrong_settlement_bank
    )
    assert world.registry.deposit("d2", "E1", 1_00, actor="b2op").ok


@pytest.mark.parametrize(
    ("holder", "bank", "code", "field"),
    [
        ("NOPE", "B2", RejectCode.unknown_account, "holder"),
        ("E1", "NOPE", RejectCode.unknown_account, "bank"),
        ("E1", "E2", RejectCode.invalid_field, "bank"),  # a key emitter is no bank
        ("B2", BANK, RejectCode.invalid_field, "holder"),  # a bank has no fund account
    ],
)
def test_a_fund_account_is_opened_only_for_a_holder_at_a_settlement_bank(
    world: World, holder: str, bank: str, code: RejectCode, field: str
) -> None:
    before = nothing_written(world)
    refused(world.funds.open_fund_account(holder, bank, "1", actor="reg1"), code, field)
    assert nothing_written(world) == before


def test_a_deposit_cannot_take_a_number_the_bank_gave_another_holder(world: World) -> None:
    assert world.funds.open_fund_account("E2", "B2", "E1", actor="reg1").ok
    before = nothing_written(world)

    result = world.registry.deposit("d1", "E1", 1_00, actor="b2op")

    refused(result, RejectCode.fund_account_exists, "account")
    assert nothing_written(world) == before


# -- withdrawal requests ---------------------------------------------------------------------


def test_a_withdrawal_request_holds_the_money_until_the_bank_pays_it(world: World) -> None:
    assert world.registry.deposit("d1", "E1", 100_00, actor="b2op").ok

    assert world.funds.request_withdrawal("W1", "E1", 30_00, actor="e1op").ok
    assert world.fund("E1") == (100_00, 70_00)
    assert [i.reference for i in world.funds.instructions("B2")] == ["W1"]
    assert world.funds.instructions(BANK) == []

    paid = world.funds.mark_paid("W1", actor="b2op")

    assert paid.ok and not paid.replayed
    assert world.fund("E1") == (70_00, 70_00)
    assert world.bank_side("B2") == -70_00
    request = world.funds.withdrawal("W1")
    assert request is not None
    assert (request.status, request.bank, request.requested_by) == ("paid", "B2", "e1op")
    assert world.funds.mark_paid("W1", actor="b2op").replayed
    assert world.funds.instructions("B2") == []


def test_a_rejected_request_releases_the_money_and_cannot_then_be_paid(world: World) -> None:
    assert world.registry.deposit("d1", "E1", 100_00).ok
    assert world.funds.request_withdrawal("W1", "E1", 30_00, actor="reg1").ok

    assert world.funds.mark_rejected("W1", "account closed at the bank", actor="bank1").ok
    assert world.fund("E1") == (100_00, 100_00)
    assert world.funds.mark_rejected("W1", "account closed at the bank", actor="bank1").replayed
    journal = world.journal_length()

    refused(world.funds.mark_paid("W1", actor="bank1"), RejectCode.hold_already_closed, "id")
    refused(world.funds.mark_rejected("W1", "", actor="bank1"), RejectCode.invalid_field, "reason")
    assert world.journal_length() == journal
    assert world.funds.withdrawal("W1").reason == "account closed at the bank"  # type: ignore[union-attr]


def test_only_the_holders_bank_settles_a_request_and_an_unknown_one_is_refused(
    world: World,
) -> None:
    assert world.registry.deposit("d1", "E1", 100_00, actor="b2op").ok
    assert world.funds.request_withdrawal("W1", "E1", 30_00, actor="e1op").ok
    before = nothing_written(world)

    refused(world.funds.mark_paid("W1", actor="bank1"), RejectCode.wrong_settlement_bank, "id")
    refused(world.funds.mark_paid("W9", actor="b2op"), RejectCode.unknown_reference, "id")
    assert nothing_written(world) == before
    assert world.funds.withdrawal("W1").status == "requested"  # type: ignore[union-attr]


def test_a_withdrawal_request_is_idempotent_on_its_client_id(world: World) -> None:
    assert world.registry.deposit("d1", "E1", 100_00).ok
    first = world.funds.request_withdrawal("W1", "E1", 30_00, actor="e1op")
    again = world.funds.request_withdrawal("W1", "E1", 30_00, actor="reg1")
    other = world.funds.request_withdrawal("W1", "E1", 40_00, actor="e1op")

    assert (first.ok, again.ok, again.replayed, again.seq) == (True, True, True, first.seq)
    refused(other, RejectCode.duplicate_id)
    assert world.fund("E1") == (100_00, 70_00)
    assert world.rows(t.withdrawals) == 1


@pytest.mark.parametrize(
    ("amount", "code"),
    [(0, RejectCode.amount_must_be_positive), (100_01, RejectCode.insufficient_funds)],
)
def test_a_refused_withdrawal_request_writes_nothing(
    world: World, amount: int, code: RejectCode
) -> None:
    assert world.registry.deposit("d1", "E1", 100_00).ok
    before = nothing_written(world)

    refused(world.funds.request_withdrawal("W1", "E1", amount, actor="e1op"), code, "amount")

    assert nothing_written(world) == before  # only the refusal's id is remembered


def test_a_restricted_holder_cannot_request_a_withdrawal(world: World) -> None:
    assert world.registry.deposit("d1", "E1", 100_00).ok
    assert world.registry.restrict("r1", "E1").ok

    refused(
        world.funds.request_withdrawal("W1", "E1", 1_00, actor="e1op"),
        RejectCode.account_restricted,
        "account",
    )


# -- T+1 on money ----------------------------------------------------------------------------


def test_sale_proceeds_are_withdrawable_only_from_the_next_trading_day(world: World) -> None:
    """E1 had 100.00 and sold 10 t at 60.00 today (fee 0.30): 599.70 of net proceeds came in."""
    assert world.registry.deposit("d1", "E1", 100_00 + 599_70).ok
    world.trade("E1", "E2", 10, 60_00, day=TODAY, seller_fee=30)

    too_much = world.registry.withdraw("w1", "E1", 100_01)
    requested = world.funds.request_withdrawal("W1", "E1", 100_01, actor="e1op")

    message = refused(too_much, RejectCode.insufficient_funds, "amount")
    assert message == (
        "E1 may withdraw 100.00 now, not 100.01: 699.70 available less 599.70 net proceeds of "
        "sales on trading day 2026-03-02, withdrawable from 2026-03-03 (T+1)"
    )
    refused(requested, RejectCode.insufficient_funds, "amount")
    view = world.funds.view("E1")
    assert view is not None
    assert (view.available, view.withdrawable, view.recent_proceeds) == (699_70, 100_00, 599_70)
    assert world.registry.withdraw("w2", "E1", 100_00).ok

    world.clock.set(MONDAY + timedelta(days=1))
    assert world.registry.withdraw("w3", "E1", 599_70).ok
    assert world.fund("E1") == (0, 0)


def test_proceeds_of_a_friday_sale_wait_over_the_weekend_and_a_holiday(world: World) -> None:
    friday = date(2026, 3, 6)
    assert world.registry.deposit("d1", "E1", 500_00).ok
    world.trade("E1", "E2", 5, 100_00, day=friday)

    for days in (4, 5, 7):  # Friday, Saturday, the holiday Monday (2026-03-09)
        world.clock.set(MONDAY + timedelta(days=days))
        message = refused(
            world.registry.withdraw(f"w{days}", "E1", 1), RejectCode.insufficient_funds
        )
        assert "withdrawable from 2026-03-10" in message

    world.clock.set(MONDAY + timedelta(days=8))  # Tuesday 2026-03-10
    assert world.registry.withdraw("w8", "E1", 500_00).ok


def test_withdrawable_is_never_below_zero_when_the_proceeds_were_spent(world: World) -> None:
    assert world.registry.deposit("d1", "E1", 50_00).ok
    world.trade("E1", "E2", 10, 60_00, day=TODAY)  # 600.00 in, most of it spent since

    view = world.funds.view("E1")

    assert view is not None
    assert (view.available, view.withdrawable) == (50_00, 0)
    message = refused(world.registry.withdraw("w1", "E1", 1), RejectCode.insufficient_funds)
    assert message.startswith("E1 may withdraw 0.00 now, not 0.01")


def test_proceeds_of_earlier_days_and_of_other_sellers_do_not_hold_money_back(
    world: World,
) -> None:
    assert world.registry.deposit("d1", "E1", 100_00).ok
    world.trade("E1", "E2", 10, 60_00, day=TODAY - timedelta(days=3))  # last Friday
    world.trade("E2", "E1", 10, 60_00, day=TODAY)  # E1 bought today

    assert world.funds.view("E1").withdrawable == 100_00  # type: ignore[union-attr]
    assert world.registry.withdraw("w1", "E1", 100_00).ok


# -- T+1 on units ----------------------------------------------------------------------------


def e2_holds_100_t(world: World) -> None:
    assert world.registry.issue("i1", CEA, 1000).ok
    assert world.registry.allocate("a1", "E2", CEA, 100).ok


def test_units_bought_today_cannot_be_transferred_until_the_next_trading_day(
    world: World,
) -> None:
    """E2 held 40 t and received 60 t it bought today (delivered at the day's end)."""
    e2_holds_100_t(world)
    world.trade("E1", "E2", 60, 60_00, day=TODAY)
    before = nothing_written(world)

    result = world.registry.transfer("t1", "E2", "I1", CEA, 41, actor="e2op")

    message = refused(result, RejectCode.units_not_yet_sellable, "quantity")
    assert message == (
        "E2 may transfer 40 t of CEA-2024 now, not 41: 60 t of its 100 t available were bought "
        "on trading day 2026-03-02 and are transferable from 2026-03-03 (T+1)"
    )
    assert nothing_written(world) == before
    assert world.registry.transfer("t2", "E2", "I1", CEA, 40, actor="e2op").ok
    world.clock.set(MONDAY + timedelta(days=1))
    assert world.registry.transfer("t3", "E2", "I1", CEA, 60, actor="e2op").ok
    assert world.units("I1") == (100, 100)


def test_purchases_not_yet_delivered_and_of_earlier_days_do_not_hold_units_back(
    world: World,
) -> None:
    e2_holds_100_t(world)
    world.trade("E1", "E2", 60, 60_00, day=TODAY, settled=False)  # arrives at the day's end
    world.trade("E1", "E2", 30, 60_00, day=TODAY - timedelta(days=3))

    assert world.registry.transfer("t1", "E2", "I1", CEA, 100, actor="e2op").ok


def test_beyond_what_is_available_a_transfer_with_recent_purchases_is_not_yet_sellable(
    world: World,
) -> None:
    e2_holds_100_t(world)
    world.trade("E1", "E2", 60, 60_00, day=TODAY)

    # units_not_yet_sellable precedes insufficient_units (RejectCode's order).
    refused(
        world.registry.transfer("t1", "E2", "I1", CEA, 500, actor="e2op"),
        RejectCode.units_not_yet_sellable,
    )


# -- T+1 through the venue -------------------------------------------------------------------


def test_a_sale_through_the_venue_pays_out_and_delivers_for_use_from_the_next_trading_day(
    world: World,
) -> None:
    """E1 sells 100 t at 60.00 to E2 in the morning; after the day's end the money is E1's and
    the units E2's, but neither leaves before Tuesday."""
    venue = Exchange(world.store, world.clock, Policy())
    assert world.registry.issue("i1", CEA, 1000).ok
    assert world.registry.allocate("a1", "E1", CEA, 100).ok
    assert world.registry.deposit("d1", "E2", 10_000_00).ok
    assert venue.list_instrument(CEA, 60_00, actor="setup").ok
    assert venue.place("S1", "E1", CEA, "sell", 100, 60_00, actor="e1op").ok
    assert venue.place("B1", "E2", CEA, "buy", 100, 60_00, actor="e2op").ok
    world.clock.set(MONDAY.replace(hour=15, minute=5))
    assert venue.end_of_day(actor="setup").ok
    proceeds, _ = world.fund("E1")
    assert proceeds > 0 and world.units("E2") == (100, 100)

    refused(world.registry.withdraw("w1", "E1", 1), RejectCode.insufficient_funds)
    refused(
        world.registry.transfer("t1", "E2", "I1", CEA, 1, actor="e2op"),
        RejectCode.units_not_yet_sellable,
    )

    world.clock.set(MONDAY + timedelta(days=1))
    assert world.registry.withdraw("w2", "E1", proceeds).ok
    assert world.registry.transfer("t2", "E2", "I1", CEA, 100, actor="e2op").ok
