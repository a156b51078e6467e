"""A compliance status table as JSON-ready rows, CSV text and an XLSX workbook, with its
compliance rates (by count and by volume).

Entities a period does not concern (status NOT_APPLICABLE) are left out of the rows and of the
rates, as the scenario outcome leaves them out. Figures are exact: quantities are whole tonnes
(integers), the penalty is yuan with two decimals as text in JSON and CSV (`format_fen`) and a
decimal cell in XLSX; the rates are percentages with two decimals as text
(`cets.domain.compliance.status.rates`), never floats.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from openpyxl import Workbook

from cets.domain.compliance.records import RecordedStatus
from cets.domain.compliance.status import Status
from cets.domain.units import format_fen
from cets.service.compliance import StatusTable

COLUMNS: tuple[str, ...] = (
    "account",
    "status",
    "obligation",
    "surrendered",
    "offset",
    "offset_pending",
    "borrowed",
    "shortfall",
    "penalty",
)
RATE_KEYS: tuple[str, ...] = (
    "period",
    "label",
    "deadline",
    "closed",
    "entities",
    "compliant",
    "by_count_pct",
    "obligation",
    "covered",
    "by_volume_pct",
)
MONEY_FORMAT = "#,##0.00"
PERCENT_KEYS = frozenset({"by_count_pct", "by_volume_pct"})


def _concerned(table: StatusTable) -> list[RecordedStatus]:
    return [r for r in table.rows if r.line.status != Status.NOT_APPLICABLE]


def status_rows(table: StatusTable) -> list[dict[str, Any]]:
    """One row per entity the period concerns, in the table's order."""
    return [
        {
            "account": r.line.holder,
            "status": r.line.status.value,
            "obligation": r.line.obligation,
            "surrendered": r.line.surrendered,
            "offset": r.line.offset,
            "offset_pending": r.line.offset_pending,
            "borrowed": r.line.borrowed,
            "shortfall": r.shortfall,
            "penalty": format_fen(r.penalty_fen),
        }
        for r in _concerned(table)
    ]


def rates_dict(table: StatusTable) -> dict[str, Any]:
    """The table's period, label, deadline, whether it is closed, and its compliance rates."""
    counted = table.rates  # A, B and C only: NOT_APPLICABLE and EXCLUDED do not count
    return {
        "period": table.period.id,
        "label": table.label,
        "deadline": table.deadline.isoformat(),
        "closed": table.closed,
        "entities": counted.entities,
        "compliant": counted.compliant,
        "by_count_pct": counted.by_count_pct,
        "obligation": counted.obligation,
        "covered": counted.covered,
        "by_volume_pct": counted.by_volume_pct,
    }


def status_csv(table: StatusTable) -> str:
    """The rows as CSV (a header of `COLUMNS`, then one line per entity)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(status_rows(table))
    return out.getvalue()


def status_xlsx(table: StatusTable) -> bytes:
    """A workbook: sheet "Status" (the rows under `COLUMNS`) and sheet "Rates" (key, value)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Status"
    sheet.append(list(COLUMNS))
    for row in status_rows(table):
        sheet.append([row[c] for c in COLUMNS])
        penalty = sheet.cell(sheet.max_row, COLUMNS.index("penalty") + 1)
        penalty.value = Decimal(row["penalty"])
        penalty.number_format = MONEY_FORMAT
    shown = book.create_sheet("Rates")
    for key, value in rates_dict(table).items():
        shown.append([key, Decimal(value) if key in PERCENT_KEYS else value])
        if key in PERCENT_KEYS:
            shown.cell(shown.max_row, 2).number_format = "0.00"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rates_text(rates: dict[str, Any]) -> str:
    """The rates of `rates_dict` as one readable line."""
    state = "closed" if rates["closed"] else f"open, due by {rates['deadline']}"
    return (
        f"compliance {rates['label']} (period {rates['period']}, {state}): "
        f"{rates['by_count_pct']}% by count ({rates['compliant']} of {rates['entities']} "
        f"entities), {rates['by_volume_pct']}% by volume ({rates['covered']:,} of "
        f"{rates['obligation']:,} t)"
    )
