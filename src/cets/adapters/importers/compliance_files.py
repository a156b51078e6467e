"""The authority's compliance files, read into domain values: allocation plans (`PlanLine`) and
verified emissions (`EmissionEntry`), as CSV (UTF-8, a BOM tolerated) or XLSX (the first sheet),
told apart by the file name's extension.

The first row names the columns (case and surrounding spaces do not matter, their order does not
either); a column this file does not know is refused by name. Columns:
- plan: `year, account, line, benchmark, previous_output` and, when wanted, `factors` (decimals
  separated by spaces or `;`, may be empty) and `verified_output` (may be blank);
- emissions: `account, year, tonnes` (whole tonnes >= 0, or the word `excluded`) and, when
  wanted, `reason` (needed for a correction; the service says so).

Invariants: a float never becomes an amount: whole numbers are read from text or integer cells
(a float cell only when it is whole, 12.0); benchmarks and factors are decimals read from text
(`decimal_rate`), and a fractional float cell is refused ("write decimals as text"), since
0.8843 in a binary float is not 0.8843. A file is judged whole: every bad cell is a `FileProblem`
with its row (the header is row 1, as a spreadsheet numbers them; for CSV, the line) and column,
and any problem refuses the file; blank rows are skipped. Rows repeating a key (plan: year,
account, line; emissions: account, year) are refused here with both rows named. What only the
registry can judge (does the account exist, is the year's status closed) is the service's.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from cets.domain.compliance.allocation import PlanError, PlanLine, decimal_rate
from cets.domain.compliance.records import EmissionEntry
from cets.domain.units import AmountError, parse_tonnes

PLAN_COLUMNS = (
    "year",
    "account",
    "line",
    "benchmark",
    "factors",
    "previous_output",
    "verified_output",
)
PLAN_OPTIONAL = frozenset({"factors", "verified_output"})
EMISSION_COLUMNS = ("account", "year", "tonnes", "reason")
EMISSION_OPTIONAL = frozenset({"reason"})
EXCLUDED = "excluded"
SHOWN_PROBLEMS = 3  # problems named by the exception's text (all are in `.problems`)
_FACTOR_SPLIT = re.compile(r"[\s;]+")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FileProblem:
    """Why a file was refused: the cell at `row` (0: the file as a whole) and `column` ("" when
    no column is at fault), the `value` found there, and the `rule` it breaks."""

    row: int
    column: str
    value: str
    rule: str

    def __str__(self) -> str:
        where = "file" if self.row == 0 else f"row {self.row}"
        column = f", {self.column}" if self.column else ""
        return f"{where}{column}: {self.rule}"


class ComplianceFileError(ValueError):
    """A file refused whole; `.problems` lists every reason, in row order."""

    def __init__(self, filename: str, problems: Sequence[FileProblem]) -> None:
        assert problems, "a refused file names at least one problem"
        self.filename = filename
        self.problems = tuple(problems)
        shown = "; ".join(str(p) for p in self.problems[:SHOWN_PROBLEMS])
        more = len(self.problems) - SHOWN_PROBLEMS
        extra = f" (and {more} more)" if more > 0 else ""
        count = f"{len(self.problems)} problem{'s' * (len(self.problems) != 1)}"
        super().__init__(f"{filename}: {count}: {shown}{extra}")


class _CellError(ValueError):
    """A cell's value breaks `rule` (collected as a `FileProblem` by the row reader)."""


Row = tuple[int, dict[str, object]]  # (row number, column -> cell)


# -- reading the two files --------------------------------------------------------------------


def read_plan(data: bytes, filename: str) -> list[PlanLine]:
    """The plan lines of a CSV or XLSX allocation plan; `ComplianceFileError` lists every
    problem."""
    problems: list[FileProblem] = []
    lines: list[PlanLine] = []
    seen: dict[tuple[int, str, str], int] = {}
    for number, cells in _table(data, filename, PLAN_COLUMNS, PLAN_OPTIONAL):
        cell = _Reader(number, cells, problems)
        year = cell.read("year", _whole)
        account = cell.read("account", _name)
        line = cell.read("line", _name)
        benchmark = cell.read("benchmark", _rate)
        factors = cell.read("factors", _factors)
        previous = cell.read("previous_output", _whole)
        verified = cell.read("verified_output", _optional_whole)
        if cell.failed:
            continue
        assert year is not None and account is not None and line is not None
        assert benchmark is not None and factors is not None and previous is not None
        if cell.unique(seen, (year, account, line), "year, account and line"):
            lines.append(PlanLine(year, account, line, benchmark, factors, previous, verified))
    if problems:
        raise ComplianceFileError(filename, problems)
    return lines


def read_emissions(data: bytes, filename: str) -> list[EmissionEntry]:
    """The verified emissions entries of a CSV or XLSX file; `ComplianceFileError` lists every
    problem."""
    problems: list[FileProblem] = []
    entries: list[EmissionEntry] = []
    seen: dict[tuple[str, int], int] = {}
    for number, cells in _table(data, filename, EMISSION_COLUMNS, EMISSION_OPTIONAL):
        cell = _Reader(number, cells, problems)
        account = cell.read("account", _name)
        year = cell.read("year", _whole)
        tonnes = cell.read("tonnes", _tonnes)
        reason = cell.read("reason", _reason)
        if cell.failed:
            continue
        assert account is not None and year is not None and tonnes is not None
        if cell.unique(seen, (account, year), "account and year"):
            entries.append(EmissionEntry(account, year, tonnes[0], reason or None))
    if problems:
        raise ComplianceFileError(filename, problems)
    return entries


class _Reader:
    """One row's cells, read column by column; each bad cell adds its problem."""

    def __init__(self, number: int, cells: dict[str, object], problems: list[FileProblem]) -> None:
        self.number = number
        self.cells = cells
        self.problems = problems
        self.failed = "" in cells
        if self.failed:
            rule = "a value in a column without a header"
            problems.append(FileProblem(number, "", _shown(cells[""]), rule))

    def read(self, column: str, parse: Callable[[object], T]) -> T | None:
        value = self.cells.get(column)
        try:
            return parse(value)
        except _CellError as exc:
            self.failed = True
            self.problems.append(FileProblem(self.number, column, _shown(value), str(exc)))
            return None

    def unique(self, seen: dict[T, int], key: T, what: str) -> bool:
        """Whether `key` is new; a repeat is a problem naming the row that had it first."""
        first = seen.setdefault(key, self.number)
        if first == self.number:
            return True
        self.problems.append(
            FileProblem(self.number, "", "", f"the same {what} as row {first}: repeated")
        )
        return False


# -- the table: rows under a checked header -----------------------------------------------------


def _table(
    data: bytes, filename: str, columns: tuple[str, ...], optional: frozenset[str]
) -> Iterator[Row]:
    """The file's non-blank data rows as column -> cell; the header (and the file as a whole)
    checked first, and refused at once, since no row can be read under a wrong header."""
    rows = _rows(data, filename)
    header_row = next((r for r in rows if not all(_blank(c) for c in r[1])), None)
    if header_row is None:
        expected = ", ".join(columns)
        problem = FileProblem(1, "", "", f"the file is empty: was expected a header ({expected})")
        raise ComplianceFileError(filename, [problem])
    header_number, header = header_row
    names = [_shown(name).strip().lower() for name in header]
    problems = _header_problems(header_number, names, columns, optional)
    if problems:
        raise ComplianceFileError(filename, problems)
    count = 0
    for number, cells in rows:
        if all(_blank(c) for c in cells):
            continue
        count += 1
        named = {name: cells[i] if i < len(cells) else None for i, name in enumerate(names) if name}
        stray = [c for i, c in enumerate(cells) if not _blank(c) and not _named(names, i)]
        if stray:
            named[""] = stray[0]  # a value under no header: `_Reader` reports it
        yield number, named
    if count == 0:
        problem = FileProblem(header_number + 1, "", "", "no rows under the header")
        raise ComplianceFileError(filename, [problem])


def _named(names: list[str], i: int) -> bool:
    return i < len(names) and bool(names[i])


def _header_problems(
    number: int, names: list[str], columns: tuple[str, ...], optional: frozenset[str]
) -> list[FileProblem]:
    problems = []
    expected = ", ".join(columns)
    for i, name in enumerate(names):
        if name and name not in columns:
            rule = f"unknown column (the columns are: {expected})"
            problems.append(FileProblem(number, name, name, rule))
        elif name and name in names[:i]:
            problems.append(FileProblem(number, name, name, "column named twice"))
    for name in columns:
        if name not in names and name not in optional:
            problems.append(FileProblem(number, name, "", "missing column"))
    return problems


def _rows(data: bytes, filename: str) -> Iterator[tuple[int, Sequence[object]]]:
    suffix = filename.lower().rpartition(".")[2] if "." in filename else ""
    if suffix == "csv":
        return _csv_rows(data, filename)
    if suffix == "xlsx":
        return _xlsx_rows(data, filename)
    problem = FileProblem(0, "", filename, "not a .csv or .xlsx file (told by its name)")
    raise ComplianceFileError(filename, [problem])


def _csv_rows(data: bytes, filename: str) -> Iterator[tuple[int, Sequence[object]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = FileProblem(line, "", "", f"not UTF-8 text ({exc.reason})")
        raise ComplianceFileError(filename, [problem]) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        problem = FileProblem(reader.line_num + 1, "", "", f"not CSV ({exc})")
        raise ComplianceFileError(filename, [problem]) from exc


def _xlsx_rows(data: bytes, filename: str) -> Iterator[tuple[int, Sequence[object]]]:
    import openpyxl  # noqa: PLC0415 (only workbooks need it; it takes a moment to import)

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        problem = FileProblem(0, "", filename, f"not a readable .xlsx workbook ({exc})")
        raise ComplianceFileError(filename, [problem]) from exc
    try:
        if not book.worksheets:
            return
        number = 0
        try:
            for number, cells in enumerate(book.worksheets[0].iter_rows(values_only=True), 1):
                yield number, cells
        except (zipfile.BadZipFile, KeyError, ValueError, SyntaxError) as exc:
            problem = FileProblem(number + 1, "", "", f"unreadable ({exc})")
            raise ComplianceFileError(filename, [problem]) from exc
    finally:
        book.close()


# -- cells ------------------------------------------------------------------------------------


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value: object) -> str:
    return "" if value is None else str(value)


def _integral(value: object) -> object:
    """A whole float cell (12.0) as its int; anything else as it is."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _whole(value: object) -> int:
    """Whole units >= 0: digits, an int cell, or a whole float cell."""
    value = _integral(value)
    if isinstance(value, float):
        raise _CellError(f"{value!r} is not a whole number")
    if value is None or isinstance(value, bool) or not isinstance(value, int | str):
        raise _CellError("empty, was expected a whole number" if value is None else "not a number")
    try:
        return parse_tonnes(value, field="cell")
    except AmountError as exc:
        raise _CellError(str(exc).removeprefix(f"cell {value!r}: ")) from None


def _optional_whole(value: object) -> int | None:
    return None if _blank(value) else _whole(value)


def _tonnes(value: object) -> tuple[int | None]:
    """Whole tonnes, or (None,) for `excluded` (a tuple, so that None is not 'no value')."""
    if isinstance(value, str) and value.strip().lower() == EXCLUDED:
        return (None,)
    if _blank(value):
        raise _CellError(f"empty, was expected whole tonnes or '{EXCLUDED}'")
    return (_whole(value),)


def _name(value: object) -> str:
    """An account or line name: text, or a whole number cell (an account numbered 1001)."""
    value = _integral(value)
    if _blank(value):
        raise _CellError("empty, was expected a name")
    if isinstance(value, float | bool) or not isinstance(value, str | int):
        raise _CellError("not a name")
    return str(value).strip()


def _reason(value: object) -> str:
    return "" if _blank(value) else _shown(value).strip()


def _rate(value: object) -> Decimal:
    """A benchmark or factor: decimal text, an int cell, or a whole float cell; a fractional
    float cell is refused, as its binary value is not the decimal that was typed."""
    value = _integral(value)
    if isinstance(value, float):
        raise _CellError(f"a float cell ({value!r}): write decimals as text, e.g. '{value}'")
    if _blank(value):
        raise _CellError("empty, was expected a decimal number")
    try:
        return decimal_rate(value, field="cell")
    except PlanError as exc:
        raise _CellError(str(exc).removeprefix("cell: ")) from None


def _factors(value: object) -> tuple[Decimal, ...]:
    """Correction factors: decimals separated by spaces or ';' (none when blank)."""
    if _blank(value):
        return ()
    if not isinstance(value, str):
        return (_rate(value),)
    return tuple(_rate(part) for part in _FACTOR_SPLIT.split(value.strip()) if part)
