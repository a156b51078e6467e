"""`cets replay ukets`: replay the published UK ETS workbooks into a registry and compare the
statuses it computes with the official ones (the modelling: `cets.entrypoints.ukets_replay`).

Output: what was imported, a matrix of official x computed status per year, the 2024
disagreements, and last `matched N of M` (the accounts officially A, B or C for 2024). A rich
progress bar on stderr shows the stages while it runs (on a terminal only).

Exit codes: 0 every scored account matched; 1 some did not; 2 a workbook that cannot be read or
a command the registry refused (the message says which).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from cets.entrypoints.cli_import import progress_bar
from cets.entrypoints.ukets_replay import (
    BLANK,
    PHASE,
    REPORT_AT,
    SCORED_YEAR,
    STAGES,
    ReplayError,
    ReplayResult,
    replay,
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

replay_app = typer.Typer(
    help="Replay published registry data into CETS and compare the results.", no_args_is_help=True
)

COMPUTED = ("A", "B", "C", "EXCLUDED", "NOT_APPLICABLE")
OFFICIAL = (*COMPUTED, BLANK)
SHOWN = 20  # mismatching accounts listed
SHOWN_PROBLEMS = 10


@replay_app.command("ukets")
def ukets(
    compliance: Annotated[
        Path,
        typer.Option(help="The UK ETS Compliance Report - Emissions and Surrenders (.xlsx)."),
    ],
    allocation: Annotated[Path, typer.Option(help="The UK ETS free allocation table (.xlsx).")],
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Replay into this database (empty, or made by `cets init`) and leave the state "
            "there; default: a temporary SQLite file, deleted afterwards.",
        ),
    ] = None,
) -> None:
    """Import the workbooks as published, compute each account's status per year, and compare
    it with the official status codes (2024 is scored)."""
    with progress_bar(err) as bar:
        tasks = {stage: bar.add_task(stage, total=None, start=False) for stage in STAGES}

        def advance(stage: str, done: int, total: int | None) -> None:
            task = tasks[stage]
            bar.start_task(task)
            bar.update(task, completed=done, total=total)

        try:
            result = replay(compliance, allocation, db, advance)
        except ReplayError as exc:
            bar.stop()
            err.print(str(exc), highlight=False, markup=False)
            raise typer.Exit(2) from exc
    where = "a temporary SQLite database" if db is None else _safe(db)
    for line in summary(result, compliance, allocation, where):
        out.print(line, highlight=False, markup=False)
    if not result.ok:
        raise typer.Exit(1)


def summary(result: ReplayResult, compliance: Path, allocation: Path, where: str) -> list[str]:
    """The lines printed after a replay; the last is `matched N of M`."""
    first, last = PHASE
    lines = [f"replayed {compliance.name} and {allocation.name} into {where}"]
    if result.problems:
        lines.append(f"workbook problems: {len(result.problems)}")
        lines += [f"  {p}" for p in result.problems[:SHOWN_PROBLEMS]]
    lines += [
        f"accounts: {result.accounts} holders ({result.accounts - result.aircraft} installations, "
        f"{result.aircraft} aircraft operators); one cumulative period {first}-{last}",
        f"allocation rows: {result.allocation_rows}, with no account: "
        f"{len(result.unmatched_rows)}{_ids(result.unmatched_rows)}",
        *(f"  allocated CEA-{y}: {t} t" for y, t in sorted(result.allocated.items())),
        *(
            f"  {y}: {t} t not allocated (a future allocation on {REPORT_AT.date()})"
            for y, t in sorted(result.not_allocated.items())
        ),
        f"emissions entered: {result.emissions_entered} ({result.excluded_entered} excluded "
        f"years); blank cells, not entered: {result.not_entered}",
        f"surrenders for {SCORED_YEAR}: {result.surrendering} accounts, "
        f"{result.from_allocation + result.acquired} t: {result.from_allocation} t from "
        f"allocation, {result.acquired} t acquired (auctions/market)",
    ]
    for year in result.years:
        lines += _matrix(year, result)
    lines.append(
        f"{SCORED_YEAR} mismatches (official A, B or C): {len(result.mismatches) or 'none'}"
    )
    for m in result.mismatches[:SHOWN]:
        lines.append(
            f"  UK{m.operator_id} {m.holder_name or '-'}: official {m.official}, computed "
            f"{m.computed} (obligation {m.obligation} t, surrendered {m.surrendered} t)"
        )
    if len(result.mismatches) > SHOWN:
        lines.append(f"  ... {len(result.mismatches) - SHOWN} more")
    lines.append(
        f"only {SCORED_YEAR} is scored: the report gives surrenders only cumulatively (as of "
        f"{REPORT_AT.date()}) and static statuses (as at each deadline), so earlier years "
        "cannot be rebuilt from it exactly"
    )
    lines.append(f"matched {result.matched} of {result.scored}")
    return lines


def _matrix(year: int, result: ReplayResult) -> list[str]:
    counts = result.matrix.get(year)
    if counts is None:
        return []
    officials = [*OFFICIAL, *sorted({o for o, _ in counts} - set(OFFICIAL))]
    width = max(len(name) for name in officials)
    widths = [max(len(name), 5) + 1 for name in COMPUTED]
    head = " ".join(f"{name:>{w}}" for name, w in zip(COMPUTED, widths, strict=True))
    lines = [f"status {year}: official (rows) x computed (columns)", f"  {'':<{width}} {head}"]
    for official in officials:
        cells = [counts.get((official, computed), 0) for computed in COMPUTED]
        if any(cells):
            row = " ".join(f"{cell:>{w}}" for cell, w in zip(cells, widths, strict=True))
            lines.append(f"  {official:<{width}} {row}")
    return lines


def _ids(ids: list[int]) -> str:
    if not ids:
        return ""
    shown = ", ".join(map(str, ids[:SHOWN]))
    return f" (installation ids {shown}{', ...' if len(ids) > SHOWN else ''})"


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
