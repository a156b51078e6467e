"""The two published UK ETS workbooks (../shared/data/SOURCES.md), read into frozen rows.

- The registry's *Compliance Report - Emissions and Surrenders*, sheet `Data`: one row per
  operator or aircraft-operator holding account: regulator, holder, account type and status,
  permit or monitoring plan, installation, first and last year of operation, recorded (verified)
  emissions per year (t CO2e), cumulative emissions and surrenders, and the official static
  surrender status per year (A, B, C, EXCLUDED, NOT_APPLICABLE or blank; key in sheet `Field
  categorisation`). A *blank* emission cell means the figure was not entered by the deadline
  (`None`); the text `EXCLUDED` means the year is excluded for the account (`EXCLUDED`). Neither
  is zero, and neither counts in the cumulative figure.
- The *free allocation table*, sheet `Sheet1`: per installation (Permit ID, Installation ID,
  name, holder) and year, (A) standard allocation, (B) new entrant reserve, (C) total.

Columns are found by header text (case and spacing ignored), the years from the headers; a
missing sheet or header raises `ValueError` naming the file and the header. A float never
touches an amount: 12.0 reads as 12; 12.5, text or a negative number is a `Problem`.

Checks. Left out, with a `Problem` (row, column, value, rule): a row whose operator
(installation) id, account type or status, a year's emission or allocation, or cumulative figure
cannot be read; a second row for an operator (installation) id, the first being kept. Kept, with
a `Problem`: cumulative emissions unlike the sum of the years' whole-number emissions; a status
outside {A, B, C, EXCLUDED, NOT_APPLICABLE}; an unreadable first or last year (None); a total
unlike standard + NER; a value under no header (ignored). Empty rows are skipped silently.

Measured on the real files (the tests pin these):
- Compliance report 2025-06-11: 1,341 accounts, no problem, years 2021-2024; 757 installations
  and 584 aircraft operators (the key sheet spells AIRCRAFT_OPERATING_..., and NON_APPLICABLE;
  the data does not); 1,281 OPEN, 60 CLOSED; operator ids 1000000-1001368, all distinct.
  `EXCLUDED` cells 59 / 90 / 146 / 207, blank ones 307 / 193 / 114 / 79 (2021 / 22 / 23 / 24).
  Cumulative emissions = the sum of the years on every row. 2024 statuses: A 1182, B 43, C 2,
  EXCLUDED 42, NOT_APPLICABLE 15, blank 57; every A has cumulative surrenders >= cumulative
  emissions and every B fewer; an `EXCLUDED` year is not an EXCLUDED status (2024: 42 of the
  207 are, 141 are A). Row 1336 (aircraft operator 1001362) has no holder name: read as ''.
- Allocation table December 2025: 482 installations, no problem, years 2021-2026, 17 trailing
  empty columns; total = standard + NER in every cell (no mismatch); NER 0 throughout 2026.
  Every Installation ID is the Operator ID of an installation account in the report, but only
  408 Permit IDs equal that account's: 68 offshore installations carry a legacy `DTI....`
  number here (`UK-D-IN-...` there) and 6 were re-permitted. Join on the id, not the permit.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, TypeVar

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

EXCLUDED: Final = "EXCLUDED"
Emission = int | Literal["EXCLUDED"] | None  # None: not entered by the deadline
STATUS_ORDER: Final = ("A", "B", "C", EXCLUDED, "NOT_APPLICABLE")
STATUS_CODES: Final = frozenset(STATUS_ORDER)
ACCOUNT_TYPES: Final = {  # account type -> aircraft operator?
    "OPERATOR_HOLDING_ACCOUNT": False,
    "AIRCRAFT_OPERATOR_HOLDING_ACCOUNT": True,
    "AIRCRAFT_OPERATING_HOLDING_ACCOUNT": True,  # the key sheet's spelling
}
ACCOUNT_STATUSES: Final = {"OPEN": True, "CLOSED": False}

COMPLIANCE_SHEET: Final = "Data"
COMPLIANCE_COLUMNS: Final = (
    *("Regulator", "Account Holder Name", "Account type", "Account status", "Operator ID"),
    *("Permit ID or Monitoring plan ID", "Installation name", "First Year of Operation"),
    *("Last Year of Operation", "Cumulative emissions", "Cumulative surrenders"),
)
EMISSIONS, STATUS = "Recorded emissions", "Static surrender status"  # + " YYYY"
ALLOCATION_SHEET: Final = "Sheet1"
ALLOCATION_COLUMNS: Final = (
    *("Permit ID", "Installation ID", "Installation Name", "Account Holder Name"),
)
STANDARD, NER = "(A) Allocation (Standard)", "(B) Allocation (NER)"  # + " YYYY"
TOTAL = "(C) Allocation (Total)"
PROGRESS_EVERY = 100

Progress = Callable[[int, int | None], None]  # (rows done, rows in all if known)
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class UkAccount:
    row: int  # spreadsheet row number (header is row 1)
    operator_id: int
    holder_name: str
    aircraft: bool  # AIRCRAFT_OPERATOR_HOLDING_ACCOUNT
    open: bool  # Account status OPEN
    regulator: str
    permit_id: str
    installation_name: str  # '' for aircraft operators
    first_year: int | None
    last_year: int | None
    emissions: Mapping[int, Emission]  # year -> recorded emissions, t CO2e
    cumulative_emissions: int
    cumulative_surrenders: int
    official_status: Mapping[int, str | None]  # year -> official static status (None if blank)


@dataclass(frozen=True, slots=True)
class UkAllocation:
    row: int
    permit_id: str
    installation_id: int  # = the compliance report's Operator ID
    installation_name: str
    holder_name: str
    standard: Mapping[int, int]  # year -> allowances
    ner: Mapping[int, int]
    total: Mapping[int, int]


@dataclass(frozen=True, slots=True)
class Problem:
    row: int
    column: str  # the header as published
    value: str  # the cell as text ('' if blank)
    rule: str  # why it could not be read, or what it breaks


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    years: tuple[int, ...]
    accounts: tuple[UkAccount, ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class AllocationTable:
    years: tuple[int, ...]
    rows: tuple[UkAllocation, ...]
    problems: tuple[Problem, ...]


def read_compliance_report(path: Path, progress: Progress | None = None) -> ComplianceReport:
    columns, yearly = COMPLIANCE_COLUMNS, (EMISSIONS, STATUS)
    found = _read(path, COMPLIANCE_SHEET, columns, yearly, "Operator ID", _account, progress)
    return ComplianceReport(*found)


def read_allocation_table(path: Path, progress: Progress | None = None) -> AllocationTable:
    columns, yearly = ALLOCATION_COLUMNS, (STANDARD, NER, TOTAL)
    found = _read(path, ALLOCATION_SHEET, columns, yearly, "Installation ID", _allocation, progress)
    return AllocationTable(*found)


def _read(
    path: Path,
    sheet: str,
    names: Sequence[str],
    yearly: Sequence[str],
    id_column: str,
    parse: Callable[[_Row, Mapping[str, int], Sequence[int]], R | None],
    progress: Progress | None,
) -> tuple[tuple[int, ...], tuple[R, ...], tuple[Problem, ...]]:
    """The years, what `parse` made of the rows (the first row of each id), the problems."""
    kept: list[R] = []
    problems: list[Problem] = []
    first_row: dict[int, int] = {}  # id -> row kept
    with _sheet(path, sheet) as (header, rows, total):
        at, years = _layout(path, sheet, header, names, yearly)
        for row in _rows(header, rows, total, progress):
            parsed = parse(row, at, years)
            if parsed is not None:  # so the id cell is readable
                identifier = _identifier(row.cell(at[id_column]))
                if identifier in first_row:
                    row.flag(at[id_column], f"id already on row {first_row[identifier]}: left out")
                else:
                    kept.append(parsed)
                    first_row[identifier] = row.number
            problems += row.problems
    return years, tuple(kept), tuple(problems)


# -- one row ------------------------------------------------------------------------------------


def _account(row: _Row, at: Mapping[str, int], years: Sequence[int]) -> UkAccount | None:
    operator_id = row.take(at["Operator ID"], _identifier, 0)
    aircraft = row.take(at["Account type"], _one_of(ACCOUNT_TYPES, "an account type"), False)
    is_open = row.take(at["Account status"], _one_of(ACCOUNT_STATUSES, "a status"), False)
    emissions = {year: row.take(at[f"{EMISSIONS} {year}"], _emission, None) for year in years}
    cumulative_emissions = row.take(at["Cumulative emissions"], _amount, 0)
    cumulative_surrenders = row.take(at["Cumulative surrenders"], _amount, 0)
    if row.fatal:
        return None
    statuses = {year: _text(row.cell(at[f"{STATUS} {year}"])) or None for year in years}
    for year, code in statuses.items():
        if code is not None and code not in STATUS_CODES:
            row.flag(at[f"{STATUS} {year}"], f"not a status code: {', '.join(STATUS_ORDER)}")
    years_sum = sum(value for value in emissions.values() if isinstance(value, int))
    if years_sum != cumulative_emissions:
        rule = f"cumulative {cumulative_emissions}, the years' emissions sum to {years_sum}"
        row.flag(at["Cumulative emissions"], rule)
    return UkAccount(
        row=row.number,
        operator_id=operator_id,
        holder_name=_text(row.cell(at["Account Holder Name"])),
        aircraft=aircraft,
        open=is_open,
        regulator=_text(row.cell(at["Regulator"])),
        permit_id=_text(row.cell(at["Permit ID or Monitoring plan ID"])),
        installation_name=_text(row.cell(at["Installation name"])),
        first_year=row.take(at["First Year of Operation"], _year, None, required=False),
        last_year=row.take(at["Last Year of Operation"], _year, None, required=False),
        emissions=MappingProxyType(emissions),
        cumulative_emissions=cumulative_emissions,
        cumulative_surrenders=cumulative_surrenders,
        official_status=MappingProxyType(statuses),
    )


def _allocation(row: _Row, at: Mapping[str, int], years: Sequence[int]) -> UkAllocation | None:
    installation_id = row.take(at["Installation ID"], _identifier, 0)
    standard = {year: row.take(at[f"{STANDARD} {year}"], _amount, 0) for year in years}
    ner = {year: row.take(at[f"{NER} {year}"], _amount, 0) for year in years}
    total = {year: row.take(at[f"{TOTAL} {year}"], _amount, 0) for year in years}
    if row.fatal:
        return None
    for year in years:
        if standard[year] + ner[year] != total[year]:
            rule = f"total {total[year]}, standard {standard[year]} + NER {ner[year]} is "
            row.flag(at[f"{TOTAL} {year}"], rule + str(standard[year] + ner[year]))
    return UkAllocation(
        row=row.number,
        permit_id=_text(row.cell(at["Permit ID"])),
        installation_id=installation_id,
        installation_name=_text(row.cell(at["Installation Name"])),
        holder_name=_text(row.cell(at["Account Holder Name"])),
        standard=MappingProxyType(standard),
        ner=MappingProxyType(ner),
        total=MappingProxyType(total),
    )


class _CellError(Exception):
    """A cell that cannot be read; the message is the rule it breaks."""


class _Row:
    """One spreadsheet row's cells, and the problems found in them so far."""

    __slots__ = ("cells", "fatal", "header", "number", "problems")

    def __init__(self, number: int, cells: Sequence[object], header: Sequence[str]) -> None:
        self.number, self.cells, self.header = number, cells, header
        self.problems: list[Problem] = []
        self.fatal = False  # a required cell could not be read: the row is left out

    def cell(self, index: int) -> object:
        return self.cells[index] if index < len(self.cells) else None

    def take(
        self, index: int, read: Callable[[object], T], default: T, *, required: bool = True
    ) -> T:
        try:
            return read(self.cell(index))
        except _CellError as exc:
            self.flag(index, str(exc))
            self.fatal = self.fatal or required
            return default

    def flag(self, index: int, rule: str) -> None:
        value = self.cell(index)
        column = self.header[index] if index < len(self.header) else ""
        column = column or f"column {get_column_letter(index + 1)}"
        text = "" if value is None else str(value)
        self.problems.append(Problem(self.number, column, text, rule))


# -- cells --------------------------------------------------------------------------------------

INTEGER = re.compile(r"[+-]?\d+")


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _whole(value: object) -> int:
    """An int, a float without fraction (exactly), or digits as text; never a bool or a date."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():  # is_integer: finite, no fraction
        return int(value)
    if isinstance(value, str) and INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    if _blank(value):
        raise _CellError("blank, a whole number expected")
    if isinstance(value, float):
        raise _CellError("not a whole number (a fraction)")
    raise _CellError("not a whole number")


def _amount(value: object) -> int:
    amount = _whole(value)
    if amount < 0:
        raise _CellError("negative")
    return amount


def _identifier(value: object) -> int:
    identifier = _whole(value)
    if identifier <= 0:
        raise _CellError("not a positive id")
    return identifier


def _emission(value: object) -> Emission:
    if _blank(value):
        return None
    if isinstance(value, str) and value.strip().upper() == EXCLUDED:
        return EXCLUDED
    return _amount(value)


def _year(value: object) -> int | None:
    return None if _blank(value) else _whole(value)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():  # a numeric id typed as a number
        return str(int(value))
    return str(value).strip()


def _one_of(choices: Mapping[str, bool], what: str) -> Callable[[object], bool]:
    def read(value: object) -> bool:
        if (text := _text(value)) not in choices:
            raise _CellError(f"not {what}: {', '.join(choices)}")
        return choices[text]

    return read


# -- the sheet ----------------------------------------------------------------------------------

Rows = Iterator[tuple[object, ...]]


@contextmanager
def _sheet(path: Path, name: str) -> Iterator[tuple[list[str], Rows, int | None]]:
    """The sheet's header texts (stripped, '' for none), its other rows, and their number."""
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError) as exc:
        raise ValueError(f"{path}: not a readable xlsx workbook ({exc})") from exc
    try:
        sheet = book[name] if name in book.sheetnames else None
        if not isinstance(sheet, ReadOnlyWorksheet):
            raise ValueError(f"{path}: no sheet {name!r} (found {', '.join(book.sheetnames)})")
        rows = sheet.iter_rows(values_only=True)
        header = [_text(cell) for cell in next(rows, ())]
        total = sheet.max_row - 1 if sheet.max_row else None
        yield header, rows, total
    finally:
        book.close()


def _key(header: str) -> str:
    return " ".join(header.split()).casefold()


def _layout(
    path: Path, sheet: str, header: Sequence[str], names: Sequence[str], yearly: Sequence[str]
) -> tuple[dict[str, int], tuple[int, ...]]:
    """Column index of each of `names` and of each `yearly` prefix + " YYYY", and the years.

    Every prefix must have the same years; a header missing (or twice) raises ValueError.
    """
    found: dict[str, list[int]] = {}
    for index, text in enumerate(header):
        if text:
            found.setdefault(_key(text), []).append(index)
    prefixes = {_key(prefix) for prefix in yearly}
    matches = (re.fullmatch(r"(.*) (\d{4})", key) for key in found)
    years = tuple(sorted({int(m[2]) for m in matches if m is not None and m[1] in prefixes}))
    wanted = [*names, *(f"{prefix} {year}" for prefix in yearly for year in years)]
    missing = [name for name in wanted if _key(name) not in found]
    missing += [] if years else [f"{prefix} <year>" for prefix in yearly]
    if missing:
        listed = ", ".join(repr(name) for name in missing)
        raise ValueError(f"{path}: sheet {sheet!r}: no column {listed} in the header row")
    twice = [name for name in wanted if len(found[_key(name)]) > 1]
    if twice:
        raise ValueError(f"{path}: sheet {sheet!r}: the column {twice[0]!r} appears twice")
    return {name: found[_key(name)][0] for name in wanted}, years


def _rows(
    header: Sequence[str], rows: Rows, total: int | None, progress: Progress | None
) -> Iterator[_Row]:
    """The rows that hold anything, numbered as the spreadsheet shows them; flags any value
    under no header (it is ignored), and reports progress as rows are read."""
    done = 0
    for done, cells in enumerate(rows, start=1):
        number = done + 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, total)
        if all(_blank(cell) for cell in cells):
            continue
        row = _Row(number, cells, header)
        for index, cell in enumerate(cells):
            if not _blank(cell) and (index >= len(header) or not header[index]):
                row.flag(index, "a value under no header: ignored")
        yield row
    if progress is not None:
        progress(done, done)
