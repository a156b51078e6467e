"""`cets import prices FILE`: published pilot-market quotes (../shared/data/cn-pilot-prices/) into
daily bars, with a progress bar while reading and a summary of what was loaded and what was dirty.

Exit codes: 0 imported (dirty rows are reported, not fatal); 2 a file that cannot be read at all
(the message names the file and the row).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url

from cets.adapters.importers.prices import (
    DIRT,
    ImportResult,
    PricesFileError,
    load_bars,
    read_prices,
)
from cets.adapters.sql.database import database_url
from cets.adapters.sql.store import SqlStore

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

import_app = typer.Typer(help="Import published data into the database.", no_args_is_help=True)

SHOWN_ROWS = 8  # row numbers listed per kind of dirt


def progress_bar(console: Console) -> Progress:
    """The import commands' progress bar on `console` (stderr): shown only on a terminal,
    gone once done."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


@import_app.command("prices")
def prices(
    file: Annotated[Path, typer.Argument(help="The Hubei CSV or the SCEEX .xlsx workbook.")],
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Database URL (default: CETS_DATABASE_URL, else the embedded file)."
        ),
    ] = None,
    market: Annotated[
        str | None,
        typer.Option(
            "--market",
            "--product",
            help="Import this instrument only (HBEA, GDEA, SZA2017, ...); default: every one.",
        ),
    ] = None,
) -> None:
    """Read daily quotes into daily bars (one transaction; re-importing changes nothing)."""
    url = database_url(db)
    with progress_bar(err) as bar:
        task = bar.add_task(f"reading {file.name}", total=None)

        def advance(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        try:
            parsed = read_prices(file, market=market, progress=advance)
        except PricesFileError as exc:
            bar.stop()
            err.print(str(exc), highlight=False, markup=False)
            raise typer.Exit(2) from exc
        bar.update(task, description=f"writing {len(parsed.bars)} bars", completed=0, total=None)
        store = SqlStore.open(url)  # the schema at its latest, as `cets init` leaves it
        try:
            written = load_bars(store.engine, parsed)
        finally:
            store.close()
    result = ImportResult(parsed, written)
    for line in summary(result, make_url(url).render_as_string(hide_password=True)):
        out.print(line, highlight=False, markup=False)


def summary(result: ImportResult, where: str) -> list[str]:
    """The lines printed after an import: counts, days, and the dirt by kind with row numbers."""
    parsed, written = result.parsed, result.written
    row_word = "line" if parsed.kind == "csv" else "row"
    lines = [f"imported {parsed.path.name} into {where}", f"rows read: {parsed.rows_read}"]
    lines.append(
        f"bars loaded: {len(parsed.bars)} ({written.new} new, {written.updated} updated, "
        f"{written.unchanged} unchanged)"
    )
    by_instrument: dict[str, list[str]] = {}
    for bar in parsed.bars:
        by_instrument.setdefault(bar.instrument, []).append(bar.day.isoformat())
    for instrument, days in sorted(by_instrument.items()):
        lines.append(f"  {instrument}: {len(days)} bars, {min(days)} to {max(days)}")
    if parsed.bars:
        days = [bar.day.isoformat() for bar in parsed.bars]
        lines.append(f"first day: {min(days)}, last day: {max(days)}")
    if parsed.other_instruments:
        lines.append(f"rows of other instruments (not imported): {parsed.other_instruments}")
    lines.append(f"dirty rows: {parsed.dirty_rows}")
    for kind in DIRT:
        rows = parsed.dirt.get(kind)
        if rows:
            shown = ", ".join(map(str, rows[:SHOWN_ROWS]))
            shown += ", ..." if len(rows) > SHOWN_ROWS else ""
            lines.append(f"  {kind}: {len(rows)} - {DIRT[kind]} ({row_word} {shown})")
    return lines
