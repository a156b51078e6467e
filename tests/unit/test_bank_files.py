"""The banks' CSV files: a statement is read whole, every bad line reported with its line number
and field; payment instructions are written with two-decimal amounts and local times."""

from __future__ import annotations

from datetime import date, datetime

from cets.domain.registry.bank_files import (
    LineProblem,
    PaymentInstruction,
    StatementLine,
    format_instructions,
    format_statement,
    parse_statement,
)
from cets.domain.trading.calendar import SHANGHAI

HEADER = "date,reference,account,type,amount\n"


def test_a_statement_is_read_line_by_line_in_fen() -> None:
    text = HEADER + "2026-03-02,R1,E1,deposit,1234.50\n2026-03-02,W1,6222-01,withdrawal,0.01\n"

    lines, problems = parse_statement(text)

    assert problems == []
    assert lines == [
        StatementLine(2, date(2026, 3, 2), "R1", "E1", "deposit", 123_450),
        StatementLine(3, date(2026, 3, 2), "W1", "6222-01", "withdrawal", 1),
    ]


def test_every_bad_line_is_reported_with_its_number_and_field() -> None:
    text = HEADER + (
        "2026-03-02,R1,E1,deposit,10.00\n"
        "\n"  # blank: skipped, still counted
        "2026-02-30,R2,E1,deposit,10.00\n"
        "2026-03-02,R3,E1,refund,10.00\n"
        "2026-03-02,R4,E1,deposit,10.5\n"
        "2026-03-02,R5,E1,deposit,0.00\n"
        "2026-03-02,R1,E1,deposit,10.00\n"
        "2026-03-02,R6,,deposit,10.00\n"
        "2026-03-02,R7 x,E1,deposit,10.00\n"
        "2026-03-02,R8,E1,deposit\n"
    )

    lines, problems = parse_statement(text)

    assert [x.reference for x in lines] == ["R1"]
    assert [(p.line, p.field) for p in problems] == [
        (4, "date"),
        (5, "type"),
        (6, "amount"),
        (7, "amount"),
        (8, "reference"),
        (9, "account"),
        (10, "reference"),
        (11, "line"),
    ]
    assert str(problems[0]) == "line 4, date: '2026-02-30' is not a date like 2026-03-02"
    assert "'R1' is on line 2 already" in problems[4].message


def test_a_file_without_the_statement_header_is_refused_at_line_1() -> None:
    for text in ("", "reference,date,account,type,amount\n2026-03-02,R1,E1,deposit,1.00\n"):
        lines, problems = parse_statement(text)
        assert lines == []
        assert [(p.line, p.field) for p in problems] == [(1, "header")]
    assert parse_statement("\ufeff" + HEADER) == ([], [])  # a byte-order mark is not content


def test_a_statement_written_out_reads_back_the_same() -> None:
    lines = [StatementLine(2, date(2026, 3, 2), "R1", "E1", "deposit", 123_450)]
    assert parse_statement(format_statement(lines)) == (lines, [])


def test_payment_instructions_carry_two_decimals_and_the_local_time() -> None:
    at = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    text = format_instructions([PaymentInstruction("W1", "E1", "6222-01", 3_000_05, at)])
    assert text == (
        "reference,account,bank_account_number,amount,requested_at\n"
        "W1,E1,6222-01,3000.05,2026-03-02T10:00:00+08:00\n"
    )


def test_a_line_problem_names_its_line_and_field() -> None:
    assert str(LineProblem(3, "amount", "bad")) == "line 3, amount: bad"
