"""`cets settlement`: settlement runs from the console, over the `Exchange`'s settlement desk (no
rules here): the runs and their reconciliation, the reports (JSON, CSV, XLSX), confirmation,
delivery, objections and corrections (see `cets.service.settlement`).

Commands act as a registered person (`--as`, default `$CETS_PERSON`, else `admin`), checked
against the same access rules as the API: staff read every run, a holder's operator its own
account's report (`report RUN --account H`); the registry operator confirms, delivers and
corrects; a party's operator (with `trade`) objects for its own account. `--at` and `--config`
are `cets market`'s (`cli_market_view`): the objection window and four-eyes depend on them.

Reads print a table, or JSON with `--json` (money as yuan with two decimals); writes print one
line. Exit codes are `cets market`'s: 0 done; 1 refused (`code (field f): message` on stderr);
2 bad input, naming the option. `confirm` goes through the four-eyes gate as the API does: a
confirmation parked for a second person is said so, with its request id, and exits 0 (it was
recorded as asked; with `--at` it is recorded at that time, and its expiry runs from then).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cets.domain.errors import RejectCode
from cets.domain.settlement.runs import CorrectionLeg, Run, RunStatus
from cets.entrypoints import cli_admin as admin
from cets.entrypoints import cli_market_view as view
from cets.entrypoints import settlement_report as reports
from cets.entrypoints.cli_market_view import AtOption, JsonOption, Market, emit, fail, out, show
from cets.entrypoints.scenario_steps import LegError, parse_legs
from cets.service.operations import Gate
from cets.service.ports import CommandResult
from cets.service.registry import Registry


class Format(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


RunArg = Annotated[str, typer.Argument(help="The run: R<YYYY-MM-DD>, or a correction's id.")]
ClientId = Annotated[str, typer.Option("--id", help="The client's id (its idempotency key).")]
Text = Annotated[str | None, typer.Option()]  # an optional text option, named by its parameter
Day = Annotated[str | None, typer.Option("--day", help="Only this day's runs, YYYY-MM-DD.")]
Status = Annotated[RunStatus | None, typer.Option(help="prepared, confirmed or delivered.")]
ReportFormat = Annotated[Format, typer.Option("--format", help="json, csv or xlsx.")]
Out = Annotated[Path | None, typer.Option("--out", help="Write to FILE, not stdout.")]
LEGS_HELP = (
    'A JSON list of legs: {"from", "to", "asset", "quantity"} for units, {"from", "to", '
    '"amount"} for money; "fees" names the fee account.'
)
RUN_COLUMNS = ("id", "day", "kind", "corrects", "status", "trades", "prepared_at", "delivered_at")
BREAK_COLUMNS = ("kind", "ref", "account", "asset", "expected", "actual", "detail")
OBJECTION_COLUMNS = ("id", "account", "trade", "text", "by", "at", "resolution")

settlement_app = typer.Typer(
    help="Settlement runs: list, show, reports, confirm, deliver, objections, corrections.",
    no_args_is_help=True,
)


def _run(market: Market, run_id: str) -> Run:
    found = market.store.settlement_run(run_id)
    if found is None:
        view.refuse(RejectCode.unknown_run, f"no settlement run {run_id!r}", "run")
    return found


def _said(result: CommandResult, what: str) -> None:
    """A write's outcome; a repeat (nothing written) names no journal entry."""
    entry = f" (journal entry {result.seq})" if result.seq else ""
    out.print(what + entry, highlight=False, markup=False)


# -- reads -----------------------------------------------------------------------------------


@settlement_app.command("runs")
def runs(
    day: Day = None,
    status: Status = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 100,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
) -> None:
    """Settlement runs, newest first."""
    on = None if day is None else view._day(day, "day", date.min)
    with view.market_session(db, actor, None, None) as market:
        market.allow("read_settlement", {})
        found = market.store.settlement_runs(day=on, status=status, limit=limit)
    data = [reports.run_summary(run) for run in found]
    emit(data, as_json, view.rows_table(data, *RUN_COLUMNS))


@settlement_app.command("show")
def show_run(
    run: RunArg,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
) -> None:
    """A run's report: its totals, every account's lines, its breaks and objections."""
    with view.market_session(db, actor, None, None) as market:
        market.allow("read_settlement", {})
        shown = reports.run_report(market.store, _run(market, run))
    if as_json:
        emit(shown, True)
        return
    r, t = shown["run"], shown["totals"]
    corrects = f", corrects {r['corrects']}" if r["corrects"] else ""
    accepted = f"; breaks accepted: {r['breaks_accepted']}" if r["breaks_accepted"] else ""
    out.print(
        f"run {r['id']} ({r['kind']}{corrects}) {r['status']}: {t['trades']} trades, "
        f"{t['units']:,} t, value {t['value']}, fees {t['fees']}, {t['accounts']} accounts\n"
        f"prepared {r['prepared_at']} by {r['prepared_by']}; confirmed {r['confirmed_at'] or '-'}"
        f" by {r['confirmed_by'] or '-'}; delivered {r['delivered_at'] or '-'}; objections "
        f"until {r['objections_until']}{accepted}",
        highlight=False,
        markup=False,
    )
    show(view.rows_table(shown["accounts"], *reports.LINE_COLUMNS))
    _breaks_table(shown["breaks"])
    if shown["objections"]:
        show(view.rows_table(shown["objections"], *OBJECTION_COLUMNS))


def _breaks_table(found: list[dict[str, Any]]) -> None:
    out.print(f"reconciliation: {len(found) or 'no'} break{'s' * (len(found) != 1)}")
    if found:
        show(view.rows_table(found, *BREAK_COLUMNS))


@settlement_app.command("breaks")
def breaks(
    run: RunArg,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
) -> None:
    """The run's reconciliation now: every break, with both amounts."""
    with view.market_session(db, actor, None, None) as market:
        market.allow("read_settlement", {})
        found = [b.as_dict() for b in market.store.settlement_breaks(_run(market, run))]
    if as_json:
        emit(found, True)
        return
    _breaks_table(found)


@settlement_app.command("report")
def report(
    run: RunArg,
    format: ReportFormat,
    account: Text = None,
    to: Out = None,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
) -> None:
    """A run's report (every account's lines), or one account's (--account: its trades and
    fees), as JSON, CSV or XLSX."""
    if format == Format.xlsx and to is None:
        fail("--format xlsx: a workbook is written to a file; give --out FILE")
    with view.market_session(db, actor, None, None) as market:
        if account is None:
            market.allow("read_settlement", {})
            data = reports.run_report(market.store, _run(market, run))
        else:
            market.allow("read_settlement_account", {"account": account})
            data = reports.account_report(market.store, _run(market, run), account)
    if format == Format.xlsx:
        assert to is not None
        to.write_bytes(reports.as_xlsx(data))
    else:
        text = json.dumps(data, ensure_ascii=False) + "\n"
        text = reports.as_csv(data) if format == Format.csv else text
        if to is None:
            sys.stdout.write(text)
            return
        to.write_text(text, encoding="utf-8")
    out.print(f"{to}: the {format.value} report of {run}", highlight=False, markup=False)


# -- the registry operator and the parties -----------------------------------------------------


@settlement_app.command("confirm")
def confirm(
    run: RunArg,
    client_id: ClientId,
    accept_breaks: Text = None,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    config: admin.ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Confirm a prepared run, then deliver it; --accept-breaks says why its breaks are
    accepted. Under four-eyes the confirmation waits for a second person's approval."""
    with view.market_session(db, actor, config, at) as market:
        market.allow("confirm_settlement", {})
        venue = market.exchange
        if _run(market, run).status != RunStatus.prepared:  # nothing to approve: say how it is
            result = venue.confirm_run(run, actor=actor)
        else:
            gate = Gate(
                Registry(market.store, venue.clock, calendar=venue.calendar),
                venue.policy,
                venue=venue,
            )
            params = {"run": run, "accept_breaks": accept_breaks}
            result = gate.submit(market.person, "confirm_settlement", client_id, params)
    if result.code == RejectCode.approval_required:
        waits = f"confirmation {client_id} of run {run} waits for a second person's approval"
        out.print(f"{waits} (cets approvals approve {client_id})", highlight=False, markup=False)
        return
    market.done(result)
    _said(result, f"run {run} {result.message}")


@settlement_app.command("deliver")
def deliver(
    run: RunArg,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    at: AtOption = None,
) -> None:
    """Deliver a confirmed run (or finish an interrupted delivery)."""
    with view.market_session(db, actor, None, at) as market:
        market.allow("deliver_settlement", {})
        result = market.done(market.exchange.deliver_run(run, actor=actor))
    _said(result, f"run {run} {result.message}")


@settlement_app.command("object")
def object_to(
    run: RunArg,
    account: Annotated[str, typer.Option("--account", help="The holder party to the run.")],
    text: Annotated[str, typer.Option("--text", help="What is objected to.")],
    client_id: ClientId,
    trade: Text = None,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    at: AtOption = None,
) -> None:
    """Object to a run for an account party to it (--trade: the trade it is about), until the
    next trading day opens."""
    with view.market_session(db, actor, None, at) as market:
        market.allow("object_to_settlement", {"account": account})
        objected = market.exchange.object_to_run(
            client_id, run, account=account, text=text, trade=trade, actor=actor
        )
        result = market.done(objected)
    _said(result, f"objection {client_id} to run {run} {result.message}")


def _legs(text: str) -> tuple[CorrectionLeg, ...]:
    try:
        return parse_legs(json.loads(text))
    except json.JSONDecodeError as exc:
        fail(f"--legs: not JSON ({exc})")
    except LegError as exc:
        fail(f"--legs: {exc}")


@settlement_app.command("correct")
def correct(
    run_id: Annotated[str, typer.Argument(help="The correction run's id (idempotency key).")],
    corrects: Annotated[str, typer.Option("--corrects", help="The delivered run corrected.")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    reverse: Text = None,
    legs: Annotated[str | None, typer.Option(help=LEGS_HELP)] = None,
    objection: Text = None,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    at: AtOption = None,
) -> None:
    """Prepare a correction run of a delivered run: --reverse TRADE undoes a trade of it whole,
    or --legs moves what they say; --objection names the objection it answers. `confirm` it to
    deliver it."""
    if (reverse is None) == (legs is None):
        fail("give either --reverse TRADE or --legs JSON (one of them)")
    parsed = () if legs is None else _legs(legs)
    with view.market_session(db, actor, None, at) as market:
        market.allow("correct_settlement", {})
        done = market.exchange.correct_run(
            run_id,
            corrects=corrects,
            legs=parsed,
            reverse=reverse,
            reason=reason,
            objection=objection,
            actor=actor,
        )
        result = market.done(done)
    _said(result, f"correction run {run_id} of {corrects} {result.message}")
