"""`cets sim`: build a simulated market into a new database (the demo the dashboard shows):

    year --db URL [--seed N] [--days N] [--activity X] [--emitters N] [--investors N]
         [--planted N] [--hubei PATH] [--quiet]

    logins --db URL [--url URL]

`year` runs the seeded compliance year of `cets.sim.year` (2025's trading days, compliance
year 2024) and prints its summary: sizes, statuses, alerts, the journal head (the same seed and
options give the same head) and the time taken. A progress bar of the trading days goes to
stderr unless `--quiet`. Exit codes: 0 built; 2 bad input: `--db` names a database that
already holds account holders (a demo is never built over real data), or a `--hubei` file that
cannot be read.

`logins` issues a fresh API key for each of the demo's logins (`cets.sim.year.DEMO_LOGINS`: one
person per role) as the authority person `admin` would with `cets key issue`, and prints them
with their roles (the build itself issues none). Exit 2 when the database is missing or was not
built by `cets sim year`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cets.adapters.importers.prices import PricesFileError
from cets.adapters.sql.store import SqlStore
from cets.service.clock import SystemClock
from cets.service.people import People
from cets.sim.year import DEMO_LOGINS, NotEmptyError, build_year

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

sim_app = typer.Typer(help="Simulated markets: the demo database.", no_args_is_help=True)


def _url(db: str) -> str:
    """A database URL; a plain path is a SQLite file."""
    return db if "://" in db else f"sqlite:///{Path(db).resolve()}"


@sim_app.command("year")
def year(
    db: Annotated[
        str, typer.Option("--db", help="The new database: a URL, or a path to a SQLite file.")
    ],
    seed: Annotated[int, typer.Option(help="The seed: the same seed, the same database.")] = 1,
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Only the last N trading days of 2025 (default: all 243)."),
    ] = None,
    activity: Annotated[
        float, typer.Option(min=0.1, max=20.0, help="Trading activity, x the default day's.")
    ] = 1.0,
    emitters: Annotated[int, typer.Option(min=10, help="Key emitters.")] = 200,
    investors: Annotated[int, typer.Option(min=2, help="Investors (70% institutions).")] = 50,
    planted: Annotated[int, typer.Option(min=0, help="Days with planted manipulations.")] = 6,
    hubei: Annotated[
        Path | None,
        typer.Option(help="Also import Hubei's published daily prices (instrument HBEA)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Build the seeded compliance year into a new database and print its summary."""
    try:
        summary = build_year(
            _url(db),
            seed=seed,
            days=days,
            activity=activity,
            emitters=emitters,
            investors=investors,
            planted=planted,
            hubei=hubei,
            progress=not quiet,
        )
    except (NotEmptyError, PricesFileError) as exc:
        err.print(str(exc), highlight=False, markup=False)
        raise typer.Exit(2) from exc
    for line in summary.lines():
        out.print(line, highlight=False, markup=False)


@sim_app.command("logins")
def logins(
    db: Annotated[str, typer.Option("--db", help="A database `cets sim year` built.")],
    url: Annotated[str, typer.Option("--url", help="Where the dashboard is served.")] = (
        "http://127.0.0.1:8000/"
    ),
) -> None:
    """Issue a fresh API key for each demo login and print them (each is shown once)."""
    try:
        store = SqlStore.existing(_url(db))
    except LookupError as exc:
        err.print(f"--db {db}: {exc}", highlight=False, markup=False)
        raise typer.Exit(2) from exc
    try:
        missing = [person for person, _, _ in DEMO_LOGINS if store.person(person) is None]
        if missing:
            err.print(
                f"--db {db}: no demo person {', '.join(missing)} (build it with `cets sim year`)",
                highlight=False,
                markup=False,
            )
            raise typer.Exit(2)
        people = People(store, SystemClock())
        issued = [people.issue_key(person, actor="admin") for person, _, _ in DEMO_LOGINS]
    finally:
        store.close()
    out.print(f"demo logins for {url} (API keys, shown once):", highlight=False, markup=False)
    for (person, role, holder), key in zip(DEMO_LOGINS, issued, strict=True):
        who = f"{role} of {holder}" if holder else role
        out.print(f"  {person:<9} {who:<28} {key.token}", highlight=False, markup=False)
