"""The `cets` command line: an adapter over the service layer (no SQL, no rules here).

Exit codes: 0 success; 1 a check failed (scenario expectations, audit); 2 bad input (the message
names the file, step or field).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from cets.adapters.sql.database import database_url
from cets.adapters.sql.store import SqlStore
from cets.domain.trading.calendar import TradingCalendar
from cets.entrypoints import cli_admin as admin
from cets.entrypoints import cli_auction, cli_bank, cli_import, cli_market, cli_settlement
from cets.entrypoints import scenario as scenarios
from cets.entrypoints.cli_compliance import compliance_app
from cets.entrypoints.cli_replay import replay_app
from cets.entrypoints.cli_report import report_app
from cets.entrypoints.cli_sim import sim_app
from cets.entrypoints.cli_supervision import supervision_app
from cets.service.clock import SystemClock
from cets.service.people import People

app = typer.Typer(
    help="CETS: the carbon emission allowance system (registry, trading, settlement, "
    "compliance, supervision).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
scenario_app = typer.Typer(
    help="Run and check scenario files (see SCENARIOS.md).", no_args_is_help=True
)
audit_app = typer.Typer(
    help="Check the journal's hash chain and the ledger's invariants.", no_args_is_help=True
)
app.add_typer(scenario_app, name="scenario")
app.add_typer(audit_app, name="audit")
app.add_typer(admin.account_app, name="account")
app.add_typer(admin.registry_app, name="registry")
app.add_typer(admin.approvals_app, name="approvals")
app.add_typer(admin.person_app, name="person")
app.add_typer(admin.key_app, name="key")
app.add_typer(cli_import.import_app, name="import")
app.add_typer(cli_auction.auction_app, name="auction")
app.add_typer(cli_market.market_app, name="market")
app.add_typer(cli_bank.bank_app, name="bank")
app.add_typer(cli_settlement.settlement_app, name="settlement")
app.add_typer(replay_app, name="replay")
app.add_typer(compliance_app, name="compliance")
app.add_typer(supervision_app, name="supervision")
app.add_typer(sim_app, name="sim")
app.add_typer(report_app, name="report")

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: CETS_DATABASE_URL, else the embedded file)."),
]


@app.command()
def init(db: DbOption = None) -> None:
    """Create the database (or bring it to the latest schema) with the system's own accounts."""
    url = database_url(db)
    store = SqlStore.open(url)
    try:
        issued = People(store, SystemClock()).first_key()
    finally:
        store.close()
    out.print(f"database ready: {_safe(url)}", highlight=False)
    if issued is None:
        out.print("people already registered: issue keys with `cets key issue PERSON`")
        return
    out.print(
        f"first authority person: {issued.person}; API key (shown once, store it now):",
        highlight=False,
    )
    sys.stdout.write(issued.token + "\n")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    db: DbOption = None,
    config: admin.ConfigOption = None,
    close_days: Annotated[
        bool,
        typer.Option(
            help="Close each trading day at 15:00 Asia/Shanghai by itself (expire day orders, "
            "settle, fix the bar), and a missed day at start."
        ),
    ] = True,
    demo: Annotated[
        bool,
        typer.Option(
            help="A living demo market: a clock that resumes after the database's last event "
            "and runs through the trading sessions only, and simulated traders placing orders "
            "(cets.sim.live). For a database `cets sim year` built, never a real one."
        ),
    ] = False,
    demo_speed: Annotated[
        float,
        typer.Option(
            min=0.1,
            max=3600,
            help="With --demo: how many times faster than real time the demo's clock runs "
            "(60: a trading day in about 4 minutes).",
        ),
    ] = 1.0,
) -> None:
    """Serve the API (and its OpenAPI docs at /docs) and the web dashboard (at /) on the
    database `cets init` made."""
    import uvicorn  # noqa: PLC0415 (only this command needs the server)

    from cets.entrypoints.api.app import create_app  # noqa: PLC0415

    url = database_url(db)
    store = _existing(url)
    policy = admin.load_policy(config)
    clock, pollers = None, []
    if demo:
        from cets.sim import live  # noqa: PLC0415 (the demo's clock and traders)
        from cets.sim.year import DEMO_LOGINS  # noqa: PLC0415
        from cets.sim.year_run import POLICY  # noqa: PLC0415

        if config is None:  # the policy the demo was simulated under (holidays, thresholds)
            policy = POLICY

        clock = live.DemoClock(
            live.demo_start(store), TradingCalendar.from_policy(policy), speed=demo_speed
        )
        pollers.append(
            lambda s: live.LiveTraders(
                s.exchange, exclude=frozenset(h for _, _, h in DEMO_LOGINS if h)
            )
        )
        out.print(f"demo clock from {clock.now():%Y-%m-%d %H:%M} (Beijing time)", highlight=False)
    out.print(
        f"serving {_safe(url)} on http://{host}:{port} (dashboard at /, docs at /docs)",
        highlight=False,
    )
    try:
        # A shutdown cancels what still runs after 3 s: a market data stream never ends alone.
        uvicorn.run(
            create_app(store, clock=clock, policy=policy, close_days=close_days, pollers=pollers),
            host=host,
            port=port,
            log_level="info",
            timeout_graceful_shutdown=3,
        )
    finally:
        store.close()


@scenario_app.command("run")
def scenario_run(
    file: Annotated[Path, typer.Argument(help="The scenario YAML file.")],
    db: Annotated[
        str | None,
        typer.Option("--db", help="Run against this database and leave the state there."),
    ] = None,
) -> None:
    """Run a scenario and print its outcome as one JSON object."""
    try:
        loaded = scenarios.load(file)
        result = scenarios.run(loaded, db)
    except scenarios.ScenarioError as exc:
        err.print(f"{file}: {exc}", highlight=False, markup=False)
        raise typer.Exit(2) from exc
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


@scenario_app.command("check")
def scenario_check(
    files: Annotated[list[Path], typer.Argument(help="Scenario files with expect: blocks.")],
) -> None:
    """Run each file and compare its expect: block with the outcome (subset match)."""
    failed = invalid = False
    for file in files:
        try:
            loaded = scenarios.load(file)
            result = scenarios.run(loaded)
        except scenarios.ScenarioError as exc:
            err.print(f"{file}: {exc}", highlight=False, markup=False)
            invalid = True
            continue
        diffs = scenarios.differences(loaded.expect or {}, result)
        for path, expected, actual in diffs:
            out.print(
                f"{file}: {path}: expected {json.dumps(expected, ensure_ascii=False)}, "
                f"actual {json.dumps(actual, ensure_ascii=False)}",
                highlight=False,
                markup=False,
            )
        status = "FAIL" if diffs else "ok"
        failed = failed or bool(diffs)
        out.print(f"{status:4} {file}", highlight=False, markup=False)
    if invalid:
        raise typer.Exit(2)
    if failed:
        raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify(db: DbOption = None) -> None:
    """Re-check every journal hash and run the ledger validator on the live database.

    Reads only: a database that does not exist or was never initialised is an error (exit 2),
    not something to create.
    """
    url = database_url(db)
    store = _existing(url)
    try:
        report = store.audit()
    finally:
        store.close()
    if report.chain_break is not None:
        out.print(str(report.chain_break), highlight=False, markup=False)
    for violation in report.violations:
        out.print(f"violation {violation.rule}: {violation.message}", highlight=False, markup=False)
    if not report.ok:
        raise typer.Exit(1)
    out.print(
        f"ok: {report.entries} journal entries, chain intact; ledger invariants hold "
        f"({_safe(url)})",
        highlight=False,
        markup=False,
    )


def _existing(url: str) -> SqlStore:
    """The database `cets init` made; exit 2 with the reason when there is none."""
    try:
        return SqlStore.existing(url)
    except LookupError as exc:
        err.print(str(exc), highlight=False, markup=False)
        raise typer.Exit(2) from exc


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    app()
