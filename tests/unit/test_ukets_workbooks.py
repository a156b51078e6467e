"""`cets.adapters.importers.ukets` on the two real UK ETS workbooks (../shared/data/ukets/), and
on small workbooks built here for the bad-input rules.

The expected figures were counted from the raw cells with openpyxl apart from the reader (a
Counter per column), and the named rows read by eye.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest

from cets.adapters.importers.ukets import (
    EXCLUDED,
    Problem,
    UkAccount,
    read_allocation_table,
    read_compliance_report,
)
from shared_data import shared_data

COMPLIANCE_XLSX = shared_data("ukets", "20250611_Compliance_Report_Emissions_and_Surrenders.xlsx")
ALLOCATION_XLSX = shared_data("ukets", "ukets-allocation-table-december-2025.xlsx")


@pytest.fixture(scope="module")
def accounts() -> dict[int, UkAccount]:
    report = read_compliance_report(COMPLIANCE_XLSX)
    return {account.operator_id: account for account in report.accounts}


# -- the real compliance report -----------------------------------------------------------------


def test_the_compliance_report_reads_all_1341_accounts_without_a_problem() -> None:
    report = read_compliance_report(COMPLIANCE_XLSX)

    assert len(report.accounts) == 1341
    assert report.problems == ()
    assert report.years == (2021, 2022, 2023, 2024)
    assert [a.row for a in report.accounts] == list(range(2, 1343))


def test_aak_international_is_read_with_its_emissions_cumulative_figures_and_status(
    accounts: dict[int, UkAccount],
) -> None:
    aak = accounts[1000000]

    assert (aak.row, aak.holder_name, aak.installation_name) == (2, "AAK International", "AAK (UK)")
    assert (aak.regulator, aak.permit_id, aak.aircraft, aak.open) == (
        "EA",
        "UK-E-IN-13705",
        False,
        True,
    )
    assert (aak.first_year, aak.last_year) == (2021, None)
    assert dict(aak.emissions) == {2021: 22319, 2022: 21684, 2023: 18190, 2024: 17507}
    assert (aak.cumulative_emissions, aak.cumulative_surrenders) == (79700, 79700)
    assert aak.official_status[2024] == "A"


def test_air_canada_is_an_aircraft_operator_excluded_in_2021_with_37_tonnes_in_2023(
    accounts: dict[int, UkAccount],
) -> None:
    air_canada = accounts[1000650]

    assert air_canada.holder_name == "AIR CANADA"
    assert air_canada.aircraft
    assert air_canada.installation_name == ""
    assert dict(air_canada.emissions) == {2021: EXCLUDED, 2022: EXCLUDED, 2023: 37, 2024: EXCLUDED}
    assert air_canada.cumulative_emissions == 37
    assert dict(air_canada.official_status) == {
        2021: "EXCLUDED",
        2022: "EXCLUDED",
        2023: "A",
        2024: "A",
    }


def test_emissions_not_entered_by_the_deadline_read_as_none_not_zero(
    accounts: dict[int, UkAccount],
) -> None:
    arl = accounts[1000014]

    assert dict(arl.emissions) == {2021: 8438, 2022: None, 2023: None, 2024: None}
    assert (arl.cumulative_emissions, arl.cumulative_surrenders) == (8438, 0)
    assert (arl.first_year, arl.last_year) == (2021, 2021)
    assert dict(arl.official_status) == {2021: "C", 2022: "B", 2023: "B", 2024: "B"}


def test_the_official_2024_statuses_are_counted_as_published(
    accounts: dict[int, UkAccount],
) -> None:
    counts = Counter(account.official_status[2024] for account in accounts.values())

    assert counts == {"A": 1182, "B": 43, "C": 2, "EXCLUDED": 42, "NOT_APPLICABLE": 15, None: 57}


def test_excluded_and_blank_emission_cells_are_counted_per_year(
    accounts: dict[int, UkAccount],
) -> None:
    def count(year: int, value: object) -> int:
        return sum(1 for account in accounts.values() if account.emissions[year] == value)

    assert [count(year, EXCLUDED) for year in (2021, 2022, 2023, 2024)] == [59, 90, 146, 207]
    assert [count(year, None) for year in (2021, 2022, 2023, 2024)] == [307, 193, 114, 79]


def test_account_types_and_statuses_are_counted_as_published(
    accounts: dict[int, UkAccount],
) -> None:
    values = accounts.values()

    assert Counter(account.aircraft for account in values) == {False: 757, True: 584}
    assert Counter(account.open for account in values) == {True: 1281, False: 60}
    assert all((a.installation_name == "") == a.aircraft for a in values)


def test_the_account_without_a_holder_name_is_kept_with_an_empty_name(
    accounts: dict[int, UkAccount],
) -> None:
    nameless = [account for account in accounts.values() if account.holder_name == ""]

    assert [(a.row, a.operator_id, a.aircraft) for a in nameless] == [(1336, 1001362, True)]


def test_progress_counts_the_rows_of_the_sheet() -> None:
    calls: list[tuple[int, int | None]] = []

    read_compliance_report(
        COMPLIANCE_XLSX, progress=lambda done, total: calls.append((done, total))
    )

    assert calls[0] == (100, 1341)
    assert calls[-1] == (1341, 1341)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


# -- the real allocation table ------------------------------------------------------------------


def test_the_allocation_table_reads_482_installations_for_2021_to_2026_without_a_problem() -> None:
    table = read_allocation_table(ALLOCATION_XLSX)

    assert len(table.rows) == 482
    assert table.problems == ()
    assert table.years == (2021, 2022, 2023, 2024, 2025, 2026)


def test_humber_energy_is_read_with_its_standard_ner_and_total_allocation() -> None:
    humber = read_allocation_table(ALLOCATION_XLSX).rows[0]

    assert (humber.row, humber.permit_id, humber.installation_id) == (2, "UK-E-IN-15145", 1000172)
    assert (humber.installation_name, humber.holder_name) == (
        "Humber Energy",
        "BRING ENERGY LIMITED",
    )
    assert dict(humber.standard) == {
        2021: 31310,
        2022: 30505,
        2023: 29701,
        2024: 28896,
        2025: 28092,
        2026: 38725,
    }
    assert set(humber.ner.values()) == {0}
    assert humber.total == humber.standard


def test_every_installation_of_the_allocation_table_is_an_installation_account_of_the_report(
    accounts: dict[int, UkAccount],
) -> None:
    rows = read_allocation_table(ALLOCATION_XLSX).rows

    assert all(not accounts[row.installation_id].aircraft for row in rows)
    same_permit = [row for row in rows if accounts[row.installation_id].permit_id == row.permit_id]
    assert len(same_permit) == 408  # offshore DTI numbers and re-permitted sites differ


# -- small workbooks: the bad-input rules -------------------------------------------------------

HEADER: list[object] = [
    *("Regulator", "Account Holder Name", "Account type", "Account status", "Operator ID"),
    *("Permit ID or Monitoring plan ID", "Installation name", "First Year of Operation"),
    *("Last Year of Operation", "Recorded emissions 2030", "Recorded emissions 2031"),
    *("Cumulative emissions", "Cumulative surrenders"),
    *("Static surrender status 2030", "Static surrender status 2031", "NACE Code"),
]


def account_row(operator_id: object = 7, y2030: object = 10, y2031: object = 5) -> list[object]:
    cumulative = sum(v for v in (y2030, y2031) if isinstance(v, int))
    return [
        *("EA", "Holder", "OPERATOR_HOLDING_ACCOUNT", "OPEN", operator_id, " UK-E-IN-1 ", "Site"),
        *(2030, None, y2030, y2031, cumulative, cumulative, "A", "A", 1041),
    ]


def workbook(tmp_path: Path, rows: Sequence[Sequence[object]], *, sheet: str = "Data") -> Path:
    book = openpyxl.Workbook()
    worksheet = book.active
    assert worksheet is not None
    worksheet.title = sheet
    for row in rows:
        worksheet.append(list(row))
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path


def test_a_small_report_reads_its_years_from_the_headers_and_strips_the_permit(
    tmp_path: Path,
) -> None:
    report = read_compliance_report(workbook(tmp_path, [HEADER, account_row()]))

    assert report.years == (2030, 2031)
    assert report.problems == ()
    (account,) = report.accounts
    assert (account.permit_id, dict(account.emissions)) == ("UK-E-IN-1", {2030: 10, 2031: 5})


def test_a_whole_float_is_read_exactly_as_an_int(tmp_path: Path) -> None:
    row = account_row(y2030=1e20, y2031=None)
    row[11] = row[12] = 1e20  # cumulative emissions and surrenders

    (account,) = read_compliance_report(workbook(tmp_path, [HEADER, row])).accounts

    assert account.emissions[2030] == 10**20
    assert type(account.emissions[2030]) is int
    assert account.cumulative_emissions == 10**20


def test_a_fractional_emission_leaves_the_row_out_with_a_problem(tmp_path: Path) -> None:
    rows = [HEADER, account_row(7), account_row(8, y2031=12.5)]

    report = read_compliance_report(workbook(tmp_path, rows))

    assert [a.operator_id for a in report.accounts] == [7]
    assert report.problems == (
        Problem(3, "Recorded emissions 2031", "12.5", "not a whole number (a fraction)"),
    )


def test_text_in_a_number_cell_leaves_the_row_out_with_a_problem(tmp_path: Path) -> None:
    rows = [HEADER, account_row("seven"), account_row(8, y2030="n/a")]

    report = read_compliance_report(workbook(tmp_path, rows))

    assert report.accounts == ()
    assert [(p.row, p.column, p.value) for p in report.problems] == [
        (2, "Operator ID", "seven"),
        (3, "Recorded emissions 2030", "n/a"),
    ]


def test_a_duplicated_operator_id_keeps_the_first_row(tmp_path: Path) -> None:
    rows = [HEADER, account_row(7, y2030=1), account_row(7, y2030=2)]

    report = read_compliance_report(workbook(tmp_path, rows))

    assert [(a.row, a.emissions[2030]) for a in report.accounts] == [(2, 1)]
    assert report.problems == (Problem(3, "Operator ID", "7", "id already on row 2: left out"),)


def test_a_wrong_cumulative_sum_is_a_problem_but_the_account_is_kept(tmp_path: Path) -> None:
    row = account_row(y2030=10, y2031=EXCLUDED)
    row[11] = 11

    report = read_compliance_report(workbook(tmp_path, [HEADER, row]))

    assert [a.cumulative_emissions for a in report.accounts] == [11]
    assert report.problems == (
        Problem(2, "Cumulative emissions", "11", "cumulative 11, the years' emissions sum to 10"),
    )


def test_an_unknown_status_code_is_a_problem_but_the_account_is_kept(tmp_path: Path) -> None:
    row = account_row()
    row[14] = "D"

    report = read_compliance_report(workbook(tmp_path, [HEADER, row]))

    assert report.accounts[0].official_status == {2030: "A", 2031: "D"}
    assert [(p.column, p.value) for p in report.problems] == [("Static surrender status 2031", "D")]


def test_empty_rows_are_skipped_without_a_problem(tmp_path: Path) -> None:
    rows: list[list[object]] = [HEADER, account_row(7), [None] * len(HEADER), ["", " "]]
    rows.append(account_row(8))

    report = read_compliance_report(workbook(tmp_path, rows))

    assert [(a.row, a.operator_id) for a in report.accounts] == [(2, 7), (5, 8)]
    assert report.problems == ()


def test_a_missing_header_raises_naming_the_file_and_the_header(tmp_path: Path) -> None:
    header = [name for name in HEADER if name != "Cumulative surrenders"]
    path = workbook(tmp_path, [header])

    with pytest.raises(ValueError, match=r"book\.xlsx.*'Cumulative surrenders'"):
        read_compliance_report(path)


def test_a_year_with_emissions_but_no_status_column_raises(tmp_path: Path) -> None:
    path = workbook(tmp_path, [[*HEADER, "Recorded emissions 2032"]])

    with pytest.raises(ValueError, match="'Static surrender status 2032'"):
        read_compliance_report(path)


def test_a_workbook_without_the_data_sheet_raises_naming_the_sheet(tmp_path: Path) -> None:
    path = workbook(tmp_path, [HEADER], sheet="Sheet1")

    with pytest.raises(ValueError, match=r"book\.xlsx: no sheet 'Data'"):
        read_compliance_report(path)


ALLOCATION_HEADER: list[object] = [
    "Permit ID",
    "Installation ID",
    "Installation Name",
    "Account Holder Name",
]
ALLOCATION_HEADER += [
    f"{kind} {year}"
    for year in (2030, 2031)
    for kind in ("(A) Allocation (Standard)", "(B) Allocation (NER)", "(C) Allocation (Total)")
]


def test_an_allocation_total_other_than_standard_plus_ner_is_a_problem(tmp_path: Path) -> None:
    rows = [
        [*ALLOCATION_HEADER, None, None],
        [" UK-E-IN-1 ", 7, "Site", "Holder", 10, 2, 12, 10, 2, 13, None, None],
    ]

    table = read_allocation_table(workbook(tmp_path, rows, sheet="Sheet1"))

    assert table.years == (2030, 2031)
    (row,) = table.rows
    assert (row.permit_id, dict(row.total)) == ("UK-E-IN-1", {2030: 12, 2031: 13})
    assert table.problems == (
        Problem(2, "(C) Allocation (Total) 2031", "13", "total 13, standard 10 + NER 2 is 12"),
    )


def test_an_allocation_without_a_year_of_ner_raises_naming_it(tmp_path: Path) -> None:
    header = [name for name in ALLOCATION_HEADER if name != "(B) Allocation (NER) 2031"]
    path = workbook(tmp_path, [header], sheet="Sheet1")

    with pytest.raises(ValueError, match=r"'\(B\) Allocation \(NER\) 2031'"):
        read_allocation_table(path)


def test_a_value_under_no_header_is_a_problem_and_ignored(tmp_path: Path) -> None:
    rows = [
        [*ALLOCATION_HEADER, None],
        ["UK-E-IN-1", 7, "Site", "Holder", 10, 0, 10, 10, 0, 10, "note"],
    ]

    table = read_allocation_table(workbook(tmp_path, rows, sheet="Sheet1"))

    assert [row.installation_id for row in table.rows] == [7]
    assert table.problems == (Problem(2, "column K", "note", "a value under no header: ignored"),)
