"""Settlement reports as JSON, CSV and XLSX: one per run (every account's lines and the run's
totals) and one per account in a run (its lines and its trades, each with its fee).

Money is exact: JSON and CSV carry yuan as strings with two decimals (`format_fen`); XLSX cells
carry them as decimals (the file stores the digits as written) with a two-decimal number format,
so a spreadsheet sums them; units are whole tonnes. Breaks and objections are part of the run's
report (JSON, and their own XLSX sheets), so a reader sees what reconciliation found beside the
totals.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from openpyxl import Workbook

from cets.adapters.sql.settlement_reads import AccountLine
from cets.adapters.sql.store import SqlStore
from cets.domain.settlement.runs import Run
from cets.domain.units import CASH, format_fen
from cets.service.clock import from_us

LINE_COLUMNS = (
    "account",
    "asset",
    "units_in",
    "units_out",
    "funds_in",
    "funds_out",
    "fees",
    "funds_net",
    "trades",
)
MONEY = frozenset({"funds_in", "funds_out", "fees", "funds_net", "value", "price", "fee"})
MONEY_FORMAT = "#,##0.00"


def _when(us: int | None) -> str | None:
    return None if us is None else from_us(us).replace(tzinfo=None).isoformat()


def run_summary(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "day": run.day.isoformat(),
        "kind": run.kind,
        "corrects": run.corrects,
        "reason": run.reason,
        "status": run.status,
        "trades": run.trades,
        "prepared_at": _when(run.prepared_at),
        "prepared_by": run.prepared_by,
        "confirmed_at": _when(run.confirmed_at),
        "confirmed_by": run.confirmed_by,
        "breaks_accepted": run.breaks_accepted,
        "delivered_at": _when(run.delivered_at),
        "objections_until": _when(run.objections_until),
    }


def _line(line: AccountLine) -> dict[str, Any]:
    return {
        "account": line.account,
        "asset": line.asset,
        "units_in": line.units_in,
        "units_out": line.units_out,
        "funds_in": format_fen(line.funds_in),
        "funds_out": format_fen(line.funds_out),
        "fees": format_fen(line.fees),
        "funds_net": format_fen(line.funds_net),
        "trades": line.trades,
    }


def _totals(run: Run, lines: list[AccountLine]) -> dict[str, Any]:
    """Each trade appears twice among the lines (buyer and seller): units and value once."""
    units = sum(line.units_in for line in lines if line.asset != CASH)
    value = sum(line.funds_out for line in lines)
    fees = sum(line.fees for line in lines)
    return {
        "trades": run.trades,
        "units": units,
        "value": format_fen(value),
        "fees": format_fen(fees),
        "accounts": len({line.account for line in lines}),
    }


def run_report(store: SqlStore, run: Run) -> dict[str, Any]:
    lines = store.settlement_lines(run)
    return {
        "run": run_summary(run),
        "totals": _totals(run, lines),
        "accounts": [_line(line) for line in lines],
        "breaks": [b.as_dict() for b in store.settlement_breaks(run)],
        "objections": [
            {
                "id": o.id,
                "account": o.account,
                "trade": o.trade,
                "text": o.text,
                "by": o.by,
                "at": _when(o.at_us),
                "resolution": o.resolution,
            }
            for o in store.settlement_objections(run.id)
        ],
    }


def account_report(store: SqlStore, run: Run, account: str) -> dict[str, Any]:
    lines = [line for line in store.settlement_lines(run) if line.account == account]
    trades = [
        {
            **t,
            "price": format_fen(t["price"]),
            "value": format_fen(t["value"]),
            "fee": format_fen(t["fee"]),
        }
        for t in store.settlement_account_trades(run.id, account)
    ]
    return {
        "run": run_summary(run),
        "account": account,
        "lines": [_line(line) for line in lines],
        "trades": trades,
    }


def as_csv(report: dict[str, Any]) -> str:
    """The report's main table (a run's account lines, or an account's trades) as CSV."""
    rows: list[dict[str, Any]] = report["accounts"] if "accounts" in report else report["trades"]
    columns = LINE_COLUMNS if "accounts" in report else tuple(_TRADE_COLUMNS)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


_TRADE_COLUMNS = ("trade", "instrument", "side", "price", "quantity", "value", "fee", "settled")


def as_xlsx(report: dict[str, Any]) -> bytes:
    """The report as a workbook: a summary sheet, then one sheet per table."""
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Run"
    for key, value in report["run"].items():
        summary.append([key, value])
    for key, value in report.get("totals", {}).items():
        summary.append([f"total {key}", _cell(key, value)])
    if "account" in report:
        summary.append(["account", report["account"]])
    tables = {
        "Accounts": (LINE_COLUMNS, report.get("accounts", report.get("lines", []))),
        "Trades": (_TRADE_COLUMNS, report.get("trades")),
        "Breaks": (
            ("kind", "ref", "account", "asset", "expected", "actual", "detail"),
            report.get("breaks"),
        ),
        "Objections": (
            ("id", "account", "trade", "text", "by", "at", "resolution"),
            report.get("objections"),
        ),
    }
    for title, (columns, table) in tables.items():
        if table is None:
            continue
        sheet = book.create_sheet(title)
        sheet.append(list(columns))
        for row in table:
            sheet.append([_cell(c, row.get(c)) for c in columns])
        for column in sheet.iter_cols(min_row=2):
            for cell in column:
                if isinstance(cell.value, Decimal):
                    cell.number_format = MONEY_FORMAT
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(column: str, value: Any) -> Any:
    """Money (strings of yuan) as exact decimals; everything else as it is."""
    if column in MONEY and isinstance(value, str):
        return Decimal(value)
    return value
