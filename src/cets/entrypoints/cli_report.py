"""`cets report`: charts as PNG files, over the reads the API and the other commands use.

    kline --instrument SYMBOL --out FILE.png [--interval 1d] [--from DAY] [--to DAY]
    compliance --year YEAR --out FILE.png [--top 20] [--as PERSON]

K-lines are `market_reads.bars`, as `cets market klines` and `GET /v1/market/{instrument}/klines`
read them (engine days and imported history alike). A compliance year is the table
`cets compliance status` reads, with the same gate (staff see every entity, an entity's operator
its own line); an entity's verified emissions are its obligation there, its allocation the units
of the status's vintages it got by allocation and true-up, net (`Compliance.allocations`, as
`GET /v1/compliance/status/{year}/allocations`). The drawing is `report_charts`, which needs the
optional extra `report` (matplotlib, mplfinance): it is imported only when asked for.

Exit codes (`cets market`'s): 0 written; 1 refused (the person may not read compliance); 2 bad
input, the message naming the option: an unknown instrument, a range without bars, a year
without entities, a file that cannot be written, the extra not installed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from cets.domain.marketdata.klines import Interval
from cets.domain.policy import Policy
from cets.domain.trading.calendar import TradingCalendar
from cets.entrypoints import cli_admin as admin
from cets.entrypoints import cli_market_view as view
from cets.entrypoints import compliance_report, market_reads
from cets.entrypoints.cli_compliance import _desk, _table
from cets.entrypoints.cli_market_view import fail, out
from cets.service.compliance_base import YEAR_MAX, YEAR_MIN

report_app = typer.Typer(
    help="Charts as PNG files: K-lines, a compliance year.", no_args_is_help=True
)

EXTRA_MISSING = "install the report extra: pip install 'cets[report]'"
OPTIONAL = frozenset({"matplotlib", "mplfinance", "pandas", "numpy", "six", "PIL"})
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9999, 12, 31)  # `cets market klines`'s defaults

OutOption = Annotated[Path, typer.Option("--out", help="The PNG file to write.")]


def _missing_extra(exc: ModuleNotFoundError) -> NoReturn:
    """Exit 2 saying how to install the extra when `exc` is one of its modules missing."""
    if (exc.name or "").split(".")[0] in OPTIONAL:
        fail(EXTRA_MISSING)
    raise exc


@report_app.command("kline")
def kline(
    instrument: Annotated[
        str, typer.Option("--instrument", help="The instrument: CEA-2023, or imported HBEA.")
    ],
    out_file: OutOption,
    interval: Annotated[Interval, typer.Option(help="1m 5m 15m 30m 1h 1d 1w 1M.")] = Interval.day,
    start: Annotated[
        str | None, typer.Option("--from", help="The first trading day, YYYY-MM-DD.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="The last trading day, YYYY-MM-DD.")
    ] = None,
    db: admin.DbOption = None,
) -> None:
    """A candlestick chart with a volume panel (red up, green down) of an instrument's K-lines."""
    try:
        from cets.entrypoints import report_charts  # noqa: PLC0415 (the optional extra)
    except ModuleNotFoundError as exc:
        _missing_extra(exc)
    symbol = instrument.strip()
    first, last = view._day(start, "from", FIRST_DAY), view._day(end, "to", LAST_DAY)
    if first > last:
        fail(f"--from {first} is after --to {last}")
    with view.public(db) as store:
        known = set(store.venue_instruments()) | {row[0] for row in store.bar_instruments()}
        if symbol not in known:
            listed = ", ".join(sorted(known)) or "none"
            fail(f"--instrument {instrument!r}: no such instrument (known: {listed})")
        calendar = TradingCalendar.from_policy(Policy())
        found = market_reads.bars(store, calendar, symbol, interval, first, last)
    if not found:
        fail(
            f"--from/--to: no {interval.value} bars of {symbol} from {start or 'its first day'} "
            f"to {end or 'its last day'}"
        )
    try:
        plot = report_charts.kline_chart(found, out_file, instrument=symbol, interval=interval)
    except OSError as exc:
        fail(f"--out {out_file}: {exc}")
    out.print(f"{out_file}: {plot.title} ({plot.candles} candles)", highlight=False, markup=False)


@report_app.command("compliance")
def compliance(
    year: Annotated[
        int,
        typer.Option("--year", min=YEAR_MIN, max=YEAR_MAX, help="A compliance year, e.g. 2023."),
    ],
    out_file: OutOption,
    top: Annotated[
        int, typer.Option(min=1, help="How many entities, most verified emissions first.")
    ] = 20,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
) -> None:
    """Allocation against verified emissions per entity, and the count of entities per status."""
    try:
        from cets.entrypoints import report_charts  # noqa: PLC0415 (the optional extra)
    except ModuleNotFoundError as exc:
        _missing_extra(exc)
    with _desk(db, actor, None, None) as desk:
        table = _table(desk, year)
        rows = compliance_report.status_rows(table)  # the entities the period concerns
        allocated = desk.compliance.allocations(table)
    # A year no command has touched still has a status for every entity (C, nothing verified):
    # with neither emissions nor allocation there is nothing to draw.
    if not any(r["obligation"] or allocated[r["account"]] for r in rows):
        fail(f"--year {year}: no entity has verified emissions or an allocation for {year}")
    entities = [
        report_charts.EntityFigures(
            r["account"], r["status"], allocated[r["account"]], r["obligation"]
        )
        for r in rows
    ]
    try:
        plot = report_charts.compliance_chart(entities, out_file, label=table.label, top=top)
    except OSError as exc:
        fail(f"--out {out_file}: {exc}")
    lines = [f"{out_file}: {plot.title}"]
    lines += [
        f"  {e.account} ({e.status}): allocation {e.allocated:,} t, verified emissions "
        f"{e.emissions:,} t"
        for e in plot.entities
    ]
    lines.append("  entities by status: " + ", ".join(f"{k} {n}" for k, n in plot.statuses.items()))
    out.print("\n".join(lines), highlight=False, markup=False)
