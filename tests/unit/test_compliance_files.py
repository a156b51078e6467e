"""The authority's compliance files (`cets.adapters.importers.compliance_files`): allocation plans
and verified emissions as CSV and XLSX, read exactly, and every bad cell refused with its row and
column (a float never becomes an amount)."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import Workbook

from cets.adapters.importers.compliance_files import (
    ComplianceFileError,
    FileProblem,
    read_emissions,
    read_plan,
)
from cets.domain.compliance.allocation import PlanLine
from cets.domain.compliance.records import EmissionEntry

PLAN_HEADER = "year,account,line,benchmark,factors,previous_output,verified_output\n"
EMISSIONS_HEADER = "account,year,tonnes,reason\n"
PLAN = [
    PlanLine(2023, "E1", "unit-1", Decimal("0.8843"), (Decimal("1.0"), Decimal("0.985")), 100000),
    PlanLine(2023, "E1", "unit-2", Decimal("1"), (), 20000, 19500),
    PlanLine(2023, "E2", "boiler", Decimal("0.2301"), (Decimal("1.05"),), 0),
]
EMISSIONS = [
    EmissionEntry("E1", 2023, 95000),
    EmissionEntry("E2", 2023, None, "plant closed"),
    EmissionEntry("E3", 2023, 0, "correction: nothing emitted"),
]


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def problems(read: Any, data: bytes, filename: str) -> list[tuple[int, str]]:
    with pytest.raises(ComplianceFileError) as refused:
        read(data, filename)
    assert refused.value.filename == filename
    return [(p.row, p.column) for p in refused.value.problems]


def only_problem(read: Any, data: bytes, filename: str) -> FileProblem:
    with pytest.raises(ComplianceFileError) as refused:
        read(data, filename)
    (problem,) = refused.value.problems
    return problem


# -- good files ---------------------------------------------------------------------------------


def test_a_plan_csv_is_read_exactly_with_a_bom_any_header_case_and_factor_separators() -> None:
    text = (
        "\ufeff Year ,ACCOUNT,line,Benchmark,factors,previous_output,verified_output\n"
        "2023,E1,unit-1,0.8843,1.0 0.985,100000,\n"
        "2023,E1,unit-2,1,,20000,19500\n"
        "\n"
        "2023,E2,boiler,0.2301,1.05;,0,\n"
    )
    assert read_plan(text.encode(), "plan-2023.csv") == PLAN


def test_a_plan_without_its_optional_columns_reads_no_factors_and_no_verified_output() -> None:
    text = "account,year,line,benchmark,previous_output\nE1,2023,u,0.5,10\n"
    assert read_plan(text.encode(), "p.csv") == [PlanLine(2023, "E1", "u", Decimal("0.5"), (), 10)]


def test_a_plan_workbook_is_read_exactly_from_text_and_integer_cells() -> None:
    data = xlsx(
        [
            PLAN_HEADER.strip().split(","),
            [2023, "E1", "unit-1", "0.8843", "1.0; 0.985", 100000, None],
            [2023.0, "E1", "unit-2", 1, None, 20000.0, 19500],
            [None, None, None, None, None, None, None],
            ["2023", "E2", "boiler", "0.2301", "1.05", "0", ""],
        ]
    )
    assert read_plan(data, "plan.XLSX") == PLAN


def test_an_emissions_csv_is_read_exactly_with_excluded_years_and_reasons() -> None:
    text = EMISSIONS_HEADER + (
        "E1,2023,95000,\nE2,2023,Excluded,plant closed\nE3,2023,0,correction: nothing emitted\n"
    )
    assert read_emissions(text.encode("utf-8-sig"), "emissions.csv") == EMISSIONS


def test_an_emissions_workbook_is_read_exactly_whatever_the_column_order() -> None:
    data = xlsx(
        [
            ["tonnes", "reason", "account", "year"],
            [95000, None, "E1", 2023],
            ["excluded", "plant closed", "E2", 2023],
            [0.0, "correction: nothing emitted", "E3", 2023],
        ]
    )
    assert read_emissions(data, "emissions.xlsx") == EMISSIONS


def test_an_account_numbered_in_a_workbook_cell_is_read_as_its_digits() -> None:
    data = xlsx([["account", "year", "tonnes"], [1001, 2023, 5]])
    assert read_emissions(data, "e.xlsx") == [EmissionEntry("1001", 2023, 5)]


# -- refused: the file and its header -----------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n", b" , \n"])
def test_an_empty_file_is_refused(data: bytes) -> None:
    problem = only_problem(read_emissions, data, "e.csv")
    assert (problem.row, problem.column) == (1, "")
    assert "empty" in problem.rule


def test_an_empty_workbook_is_refused() -> None:
    assert "empty" in only_problem(read_plan, xlsx([]), "p.xlsx").rule


def test_a_header_without_rows_is_refused() -> None:
    problem = only_problem(read_emissions, EMISSIONS_HEADER.encode(), "e.csv")
    assert (problem.row, problem.rule) == (2, "no rows under the header")


def test_a_file_neither_csv_nor_xlsx_is_refused_naming_the_file() -> None:
    with pytest.raises(ComplianceFileError, match=r"emissions\.txt: 1 problem: file: not a \.csv"):
        read_emissions(b"account,year,tonnes\nE1,2023,5\n", "emissions.txt")


def test_a_file_named_xlsx_that_is_no_workbook_is_refused() -> None:
    problem = only_problem(read_plan, b"year,account\n", "plan.xlsx")
    assert problem.row == 0
    assert "not a readable .xlsx workbook" in problem.rule


def test_text_that_is_not_utf8_is_refused_at_its_line() -> None:
    data = EMISSIONS_HEADER.encode() + b"E1,2023,5,\nE2,2023,6,caf\xe9\n"
    problem = only_problem(read_emissions, data, "e.csv")
    assert problem.row == 3
    assert "not UTF-8" in problem.rule


def test_unknown_repeated_and_missing_columns_are_each_refused_by_name() -> None:
    text = "account,Year,colour,year,reason\nE1,2023,red,2023,\n"
    assert problems(read_emissions, text.encode(), "e.csv") == [
        (1, "colour"),
        (1, "year"),
        (1, "tonnes"),
    ]
    with pytest.raises(ComplianceFileError) as refused:
        read_emissions(text.encode(), "e.csv")
    rules = [p.rule for p in refused.value.problems]
    assert rules[0].startswith("unknown column")
    assert rules[1:] == ["column named twice", "missing column"]


def test_a_value_under_no_header_is_refused() -> None:
    text = "account,year,tonnes\nE1,2023,5,,surplus\n"
    problem = only_problem(read_emissions, text.encode(), "e.csv")
    assert (problem.row, problem.column, problem.value) == (2, "", "surplus")


# -- refused: cells -----------------------------------------------------------------------------


def test_every_bad_plan_cell_is_refused_with_its_row_and_column() -> None:
    text = PLAN_HEADER + (
        "2023,E1,unit-1,0.8843,1.0,100000,\n"  # row 2: good
        "20x3,,unit-2,1.2.3,0.9 abc,-5,1.5\n"  # row 3: six bad cells
        "2023,E2,boiler,-1,,1 000,\n"  # row 4: two
        "2023,E1,unit-1,1,,5,\n"  # row 5: row 2 again
    )
    assert problems(read_plan, text.encode(), "plan.csv") == [
        (3, "year"),
        (3, "account"),
        (3, "benchmark"),
        (3, "factors"),
        (3, "previous_output"),
        (3, "verified_output"),
        (4, "benchmark"),
        (4, "previous_output"),
        (5, ""),
    ]


def test_the_refusal_names_the_first_problems_and_how_many_there_are() -> None:
    text = PLAN_HEADER + "20x3,,unit-2,1.2.3,0.9 abc,-5,1.5\n"
    with pytest.raises(ComplianceFileError) as refused:
        read_plan(text.encode(), "plan.csv")
    message = str(refused.value)
    assert message.startswith("plan.csv: 6 problems: row 2, year: not a whole number")
    assert "row 2, account: empty" in message
    assert message.endswith("(and 3 more)")


def test_a_repeated_plan_line_names_the_row_it_repeats() -> None:
    text = PLAN_HEADER + "2023,E1,u,1,,5,\n2024,E1,u,1,,5,\n2023,E1,u,2,,6,\n"
    problem = only_problem(read_plan, text.encode(), "p.csv")
    assert (problem.row, problem.column) == (4, "")
    assert problem.rule == "the same year, account and line as row 2: repeated"


def test_every_bad_emissions_cell_is_refused_with_its_row_and_column() -> None:
    text = EMISSIONS_HEADER + (
        "E1,2023,95000,\n"  # row 2: good
        ",2023,-1,\n"  # row 3: account, tonnes
        "E2,,,\n"  # row 4: year, tonnes
        "E3,2023,1e3,\n"  # row 5: tonnes
        "E4,2023,excluded please,\n"  # row 6: tonnes
        "E1,2023,90000,again\n"  # row 7: a repeat of row 2
    )
    assert problems(read_emissions, text.encode(), "e.csv") == [
        (3, "account"),
        (3, "tonnes"),
        (4, "year"),
        (4, "tonnes"),
        (5, "tonnes"),
        (6, "tonnes"),
        (7, ""),
    ]


def test_negative_and_fractional_tonnes_say_why() -> None:
    text = EMISSIONS_HEADER + "E1,2023,-1,\nE2,2023,12.5,\n"
    with pytest.raises(ComplianceFileError) as refused:
        read_emissions(text.encode(), "e.csv")
    assert [p.rule for p in refused.value.problems] == [
        "negative, was expected >= 0",
        "not whole tonnes; write digits like 1000",
    ]


def test_a_float_amount_in_a_workbook_is_refused() -> None:
    data = xlsx([["account", "year", "tonnes"], ["E1", 2023, 95000.5], ["E2", 2023.5, 1]])
    with pytest.raises(ComplianceFileError) as refused:
        read_emissions(data, "e.xlsx")
    assert [(p.row, p.column, p.value) for p in refused.value.problems] == [
        (2, "tonnes", "95000.5"),
        (3, "year", "2023.5"),
    ]
    assert refused.value.problems[0].rule == "95000.5 is not a whole number"


def test_a_float_benchmark_or_factor_in_a_workbook_is_refused_asking_for_text() -> None:
    data = xlsx(
        [
            ["year", "account", "line", "benchmark", "factors", "previous_output"],
            [2023, "E1", "u1", 0.8843, "1", 100],
            [2023, "E1", "u2", "0.8843", 0.985, 100],
        ]
    )
    with pytest.raises(ComplianceFileError) as refused:
        read_plan(data, "p.xlsx")
    found = refused.value.problems
    assert [(p.row, p.column) for p in found] == [(2, "benchmark"), (3, "factors")]
    assert all("write decimals as text" in p.rule for p in found)


def test_a_workbook_date_where_a_number_belongs_is_refused() -> None:
    data = xlsx([["account", "year", "tonnes"], ["E1", datetime(2023, 1, 1), 5]])
    problem = only_problem(read_emissions, data, "e.xlsx")
    assert (problem.row, problem.column, problem.rule) == (2, "year", "not a number")
