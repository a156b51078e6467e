"""A settlement bank's statement booked at the service level: deposits credited under the bank's
reference, withdrawal requests paid, every line kept; all-or-nothing and idempotent. Also the
payment instructions the bank is sent. The store audits clean after every test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from cets.adapters.sql import tables as t
from cets.domain.errors import DomainError, RejectCode
from cets.domain.registry.bank_files import StatementLine, parse_statement
from cets.domain.registry.holders import BANK
from cets.service.funds import StatementOutcome
from funds_support import MONDAY, World, audited_world

HEADER = "date,reference,account,type,amount\n"


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    with audited_world(sqlite_url) as built:
        yield built


def statement(*rows: str) -> list[StatementLine]:
    lines, problems = parse_statement(HEADER + "".join(f"{row}\n" for row in rows))
    assert problems == []
    return lines


def book(world: World, bank: str, *rows: str, actor: str = "b2op") -> StatementOutcome:
    return world.funds.import_statement(bank, statement(*rows), actor=actor)


def written(world: World) -> tuple[object, ...]:
    return (
        world.journal_length(),
        world.rows(t.bank_statement_lines),
        world.rows(t.fund_accounts),
        world.rows(t.commands),
        [(a.id, a.buckets()) for a in world.store.all_accounts()],
        [(w.id, w.status) for w in world.funds.withdrawals()],
    )


def test_a_statement_credits_deposits_and_pays_withdrawal_requests(world: World) -> None:
    assert world.funds.open_fund_account("E1", "B2", "6222-01", actor="reg1").ok
    assert world.registry.deposit("d0", "E1", 100_00, actor="b2op").ok
    assert world.funds.request_withdrawal("W1", "E1", 30_00, actor="e1op").ok

    outcome = book(
        world,
        "B2",
        "2026-03-02,R1,6222-01,deposit,500.00",  # by the account's number at the bank
        "2026-03-02,R2,E2,deposit,0.01",  # by the holder's id: binds E2 to B2
        "2026-03-02,W1,6222-01,withdrawal,30.00",
    )

    assert outcome == StatementOutcome(3, deposits=2, payments=1, unchanged=0)
    assert outcome.summary() == (
        "3 lines: 2 deposits credited, 1 withdrawals paid, 0 booked already, 0 imported before"
    )
    assert world.fund("E1") == (570_00, 570_00)
    assert world.fund("E2") == (1, 1)
    assert world.funds.view("E2").bank == "B2"  # type: ignore[union-attr]
    assert world.funds.withdrawal("W1").status == "paid"  # type: ignore[union-attr]
    assert world.rows(t.bank_statement_lines) == 3
    assert world.bank_side("B2") == -570_01
    last = list(world.store.journal_entries())[-1]
    assert (last.kind, last.actor) == ("import_bank_statement", "b2op")


def test_importing_the_same_statement_twice_changes_nothing_and_says_so(world: World) -> None:
    assert world.registry.deposit("d0", "E1", 100_00, actor="b2op").ok
    assert world.funds.request_withdrawal("W1", "E1", 30_00, actor="e1op").ok
    rows = ("2026-03-02,R1,E1,deposit,500.00", "2026-03-02,W1,E1,withdrawal,30.00")
    assert book(world, "B2", *rows).ok
    before = written(world)

    again = book(world, "B2", *rows)

    assert again == StatementOutcome(2, unchanged=2)
    assert again.summary() == "nothing changed: all 2 lines were imported before"
    assert written(world) == before


def test_a_statement_with_one_refused_line_books_nothing_and_names_every_refused_line(
    world: World,
) -> None:
    assert world.registry.deposit("d0", "E1", 100_00, actor="bank1").ok  # E1 is at `bank`
    before = written(world)

    outcome = book(
        world,
        "B2",
        "2026-03-02,R1,E2,deposit,500.00",  # fine alone
        "2026-03-02,R2,NOPE,deposit,1.00",
        "2026-03-02,R3,E1,deposit,1.00",
        "2026-03-02,W9,E2,withdrawal,1.00",
    )

    assert not outcome.ok
    assert [(p.line, p.field, p.code) for p in outcome.problems] == [
        (3, "account", RejectCode.unknown_account),
        (4, "account", RejectCode.wrong_settlement_bank),
        (5, "reference", RejectCode.unknown_reference),
    ]
    assert outcome.code == RejectCode.unknown_account  # the first in RejectCode's precedence
    assert outcome.first is not None and outcome.first.line == 3
    assert written(world) == before
    assert world.funds.view("E2").number is None  # type: ignore[union-attr]


def test_a_deposit_already_made_under_the_reference_is_recognised_not_made_twice(
    world: World,
) -> None:
    assert world.registry.deposit("R1", "E1", 500_00, actor="b2op").ok

    outcome = book(world, "B2", "2026-03-02,R1,E1,deposit,500.00")

    assert outcome == StatementOutcome(1, recognised=1)
    assert outcome.changed
    assert world.fund("E1") == (500_00, 500_00)
    assert world.rows(t.bank_statement_lines) == 1  # kept for reconciliation all the same


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("2026-03-02,R1,E1,deposit,400.00", "reference"),  # imported before as 500.00
        ("2026-03-02,x1,E1,deposit,1.00", "reference"),  # a client id of another command
    ],
)
def test_a_reference_used_before_with_other_values_is_duplicate_id(
    world: World, row: str, field: str
) -> None:
    assert book(world, "B2", "2026-03-02,R1,E1,deposit,500.00").ok
    assert world.registry.restrict("x1", "I1").ok
    before = written(world)

    outcome = book(world, "B2", row)

    assert [(p.field, p.code) for p in outcome.problems] == [(field, RejectCode.duplicate_id)]
    assert written(world) == before


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("2026-03-02,W1,E2,withdrawal,30.00", "account"),
        ("2026-03-02,W1,E1,withdrawal,30.01", "amount"),
    ],
)
def test_a_payment_line_must_match_the_requests_account_and_amount(
    world: World, row: str, field: str
) -> None:
    assert world.registry.deposit("d0", "E1", 100_00, actor="b2op").ok
    assert world.funds.request_withdrawal("W1", "E1", 30_00, actor="e1op").ok
    before = written(world)

    outcome = book(world, "B2", row)

    assert [(p.field, p.code) for p in outcome.problems] == [(field, RejectCode.invalid_field)]
    assert written(world) == before


def test_a_payment_line_for_a_rejected_or_another_banks_request_is_refused(world: World) -> None:
    assert world.registry.deposit("d0", "E1", 100_00, actor="b2op").ok
    assert world.registry.deposit("d1", "I1", 100_00, actor="bank1").ok
    assert world.funds.request_withdrawal("W1", "E1", 30_00, actor="e1op").ok
    assert world.funds.request_withdrawal("W2", "I1", 30_00, actor="reg1").ok
    assert world.funds.mark_rejected("W1", "no such account", actor="b2op").ok

    outcome = book(
        world, "B2", "2026-03-02,W1,E1,withdrawal,30.00", "2026-03-02,W2,I1,withdrawal,30.00"
    )

    assert [(p.line, p.code) for p in outcome.problems] == [
        (2, RejectCode.hold_already_closed),
        (3, RejectCode.wrong_settlement_bank),
    ]


def test_a_bank_imports_only_its_own_statements(world: World) -> None:
    for bank, actor, code in (
        (BANK, "b2op", RejectCode.wrong_settlement_bank),
        ("B2", "bank1", RejectCode.wrong_settlement_bank),
        ("E1", "b2op", RejectCode.invalid_field),
        ("NOPE", "b2op", RejectCode.unknown_account),
    ):
        with pytest.raises(DomainError) as refusal:
            book(world, bank, "2026-03-02,R1,E2,deposit,1.00", actor=actor)
        assert (refusal.value.code, refusal.value.field) == (code, "bank")
    assert world.rows(t.bank_statement_lines) == 0


def test_payment_instructions_list_a_banks_open_requests_of_the_day(world: World) -> None:
    assert world.funds.open_fund_account("E1", "B2", "6222-01", actor="reg1").ok
    assert world.registry.deposit("d0", "E1", 100_00, actor="b2op").ok
    assert world.registry.deposit("d1", "I1", 100_00).ok
    assert world.funds.request_withdrawal("W1", "E1", 10_00, actor="e1op").ok
    assert world.funds.request_withdrawal("W2", "I1", 10_00, actor="reg1").ok
    world.clock.set(MONDAY + timedelta(days=1))
    assert world.funds.request_withdrawal("W3", "E1", 20_00, actor="e1op").ok
    assert world.funds.request_withdrawal("W4", "E1", 5_00, actor="e1op").ok
    assert world.funds.mark_paid("W4", actor="b2op").ok

    every = world.funds.instructions("B2")
    tuesday = world.funds.instructions("B2", (MONDAY + timedelta(days=1)).date())

    assert [(i.reference, i.bank_account_number, i.amount_fen) for i in every] == [
        ("W1", "6222-01", 10_00),
        ("W3", "6222-01", 20_00),
    ]
    assert [i.reference for i in tuesday] == ["W3"]
    assert [(i.reference, i.bank_account_number) for i in world.funds.instructions(BANK)] == [
        ("W2", "I1")
    ]
    assert every[0].requested_at == MONDAY
