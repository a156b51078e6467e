"""The files a settlement bank and the registry exchange (CSV, UTF-8, comma-separated, one header
line): the bank's statement of what it credited and paid, and the registry's payment
instructions for the withdrawals it asks the bank to pay.

Statement (`STATEMENT_COLUMNS`): `date` (ISO, the value date), `reference` (the bank's reference:
the deposit's client id, or the id of the withdrawal request it paid), `account` (the holder's
fund account number at the bank, or the holder's id), `type` (`deposit` or `withdrawal`) and
`amount` (yuan with exactly two decimals, > 0: bank files are machine-written, so "12.5" or "1250"
signals a wrong file rather than a rounding). A file is judged whole: every bad line is reported
with its line number and field, and one bad line refuses the file (all-or-nothing). A reference
may appear once per file.

Payment instructions (`INSTRUCTION_COLUMNS`): `reference` (the withdrawal request's id),
`account` (the holder), `bank_account_number`, `amount` (two decimals) and `requested_at`
(Asia/Shanghai, ISO 8601 with its offset).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from cets.domain.errors import RejectCode
from cets.domain.units import format_fen, parse_fen

STATEMENT_COLUMNS = ("date", "reference", "account", "type", "amount")
INSTRUCTION_COLUMNS = ("reference", "account", "bank_account_number", "amount", "requested_at")
LINE_TYPES = ("deposit", "withdrawal")
# A reference becomes a client id, so it has a client id's shape (and length).
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}")
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}")
_AMOUNT = re.compile(r"[0-9]{1,15}\.[0-9]{2}")


@dataclass(frozen=True, slots=True)
class StatementLine:
    line: int  # the line of the file it was read from (the header is line 1)
    day: date
    reference: str
    account: str
    type: str  # deposit | withdrawal
    amount_fen: int


@dataclass(frozen=True, slots=True)
class LineProblem:
    """Why line `line` of a file was refused, about its column `field`: malformed
    (`invalid_field`), or refused by the registry with the code it would give the line alone."""

    line: int
    field: str
    message: str
    code: RejectCode = RejectCode.invalid_field

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class PaymentInstruction:
    reference: str
    account: str
    bank_account_number: str
    amount_fen: int
    requested_at: datetime  # timezone-aware, Asia/Shanghai


def parse_statement(text: str) -> tuple[list[StatementLine], list[LineProblem]]:
    """The statement's lines, and every problem found in it (refuse the file if any)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = next(reader, None)
    if header is None or tuple(c.strip() for c in header) != STATEMENT_COLUMNS:
        found = ",".join(header) if header else "nothing"
        expected = ",".join(STATEMENT_COLUMNS)
        return [], [LineProblem(1, "header", f"{found!r}, was expected {expected!r}")]
    lines: list[StatementLine] = []
    problems: list[LineProblem] = []
    seen: dict[str, int] = {}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue  # a blank line (a trailing newline, say) carries nothing
        parsed = _line(reader.line_num, [cell.strip() for cell in row], problems)
        if parsed is None:
            continue
        if parsed.reference in seen:
            problems.append(
                LineProblem(
                    parsed.line,
                    "reference",
                    f"{parsed.reference!r} is on line {seen[parsed.reference]} already",
                )
            )
            continue
        seen[parsed.reference] = parsed.line
        lines.append(parsed)
    return lines, problems


def _line(number: int, row: list[str], problems: list[LineProblem]) -> StatementLine | None:
    """One statement line, or None after adding its problems to `problems`."""
    if len(row) != len(STATEMENT_COLUMNS):
        problems.append(
            LineProblem(
                number, "line", f"{len(row)} columns, was expected {len(STATEMENT_COLUMNS)}"
            )
        )
        return None
    day_text, reference, account, kind, amount = row
    found: list[LineProblem] = []
    day = None
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        found.append(LineProblem(number, "date", f"{day_text!r} is not a date like 2026-03-02"))
    if not _REFERENCE.fullmatch(reference):
        found.append(
            LineProblem(number, "reference", f"{reference!r}: 1-100 letters, digits or _.:@-")
        )
    if not _ACCOUNT.fullmatch(account):
        found.append(LineProblem(number, "account", f"{account!r}: 1-64 letters, digits or _.:@-"))
    if kind not in LINE_TYPES:
        found.append(LineProblem(number, "type", f"{kind!r}, was expected deposit or withdrawal"))
    fen = parse_fen(amount) if _AMOUNT.fullmatch(amount) else 0
    if fen <= 0:
        found.append(
            LineProblem(number, "amount", f"{amount!r}, was expected yuan > 0 with two decimals")
        )
    problems.extend(found)
    if found or day is None:
        return None
    return StatementLine(number, day, reference, account, kind, fen)


def format_statement(lines: Iterable[StatementLine]) -> str:
    """A statement file (what a bank would send): for tests and for re-exporting what was read."""
    rows = [
        (x.day.isoformat(), x.reference, x.account, x.type, format_fen(x.amount_fen)) for x in lines
    ]
    return _csv(STATEMENT_COLUMNS, rows)


def format_instructions(instructions: Iterable[PaymentInstruction]) -> str:
    """The payment-instruction file for a bank."""
    rows = [
        (
            i.reference,
            i.account,
            i.bank_account_number,
            format_fen(i.amount_fen),
            i.requested_at.isoformat(timespec="seconds"),
        )
        for i in instructions
    ]
    return _csv(INSTRUCTION_COLUMNS, rows)


def _csv(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
