"""`cets supervision`: the supervisor's desk over the supervision service (no rules here; see
`cets.service.supervision` and `cets.domain.supervision`):

    scan [--from DAY] [--to DAY]          run every detector over those trading days (all history
                                          by default) and keep what they find
    alerts [--state S] [--type T] [--from DAY] [--to DAY] [--account A] [--json]
    show ALERT [--json]                   an alert, its evidence (the orders and trades) and its
                                          history
    investigate ALERT [--note N]          take it up: open -> investigating
    close ALERT RESOLUTION [--note N]     no_violation, warning_issued, measures_taken or
                                          referred_to_authority
    measure ALERT MEASURE [--account A] [--text T]
                                          risk_warning_letter, restrict_account, freeze or
                                          report_to_authority (restrict and freeze act at once)
    large-holders [--holder H] [--json]   the large-holder reports
    report ID [--json]                    one report, with the holder's position history

Only a supervisor may use them (`--as`, default `$CETS_PERSON`, else `admin`; another role is
refused `not_authorized`, exit 1). Writes take `--id` (their client id, default a new one),
`--db`, `--config` and `--at` like `cets compliance`. Exit codes: 0 done; 1 refused
(`code (field f): message` on stderr); 2 bad input (a day that is not YYYY-MM-DD).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from cets.domain.errors import DomainError
from cets.domain.registry.access import Person, authorize
from cets.domain.supervision.records import StoredAlert
from cets.domain.units import format_fen
from cets.entrypoints import cli_admin as admin
from cets.entrypoints import cli_market_view as view
from cets.entrypoints.cli_market_view import AtOption, JsonOption, emit, fail, out, refuse
from cets.entrypoints.cli_writes import Act, write
from cets.entrypoints.scenario_supervision import alert_fields
from cets.service.clock import SettableClock, SystemClock, from_us
from cets.service.operations import Gate
from cets.service.registry import Registry
from cets.service.supervision import Supervision

supervision_app = typer.Typer(
    help="Supervision: scans for abnormal trading, alerts and their measures, large holders.",
    no_args_is_help=True,
)
AlertArg = Annotated[str, typer.Argument(help="The alert's id, e.g. AL3.")]
Note = Annotated[str | None, typer.Option("--note", help="What the supervisor noted.")]
FromOption = Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")]
ToOption = Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD.")]


@dataclass
class _Desk:
    person: Person
    supervision: Supervision
    gate: Gate


@contextmanager
def _desk(
    db: str | None, actor: str, config: Path | None = None, at: str | None = None
) -> Iterator[_Desk]:
    moment = view.local_moment(at)
    session = admin.Session(db, actor, config)
    clock = SystemClock() if moment is None else SettableClock(moment)
    supervision = Supervision(session.store, clock, session.policy)
    registry = Registry(session.store, clock, calendar=session.calendar)
    gate = Gate(registry, session.policy, supervision=supervision)
    try:
        yield _Desk(session.person, supervision, gate)
    finally:
        session.store.close()


def _allow(desk: _Desk, kind: str) -> None:
    try:
        authorize(desk.person, kind, {})
    except DomainError as exc:
        refuse(exc.code, exc.message, exc.field)


def _day(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--{name} {text!r}: give a day like 2024-03-04")


def _when(us: int) -> str:
    return from_us(us).replace(tzinfo=None).isoformat(timespec="seconds")


@supervision_app.command("scan")
def scan(
    first: FromOption = None,
    last: ToOption = None,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    config: admin.ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Run every detector over the trading days given (all history by default)."""
    start, end = _day(first, "from"), _day(last, "to")
    if start is not None and end is not None and start > end:
        fail(f"--from {start} is after --to {end}")
    with _desk(db, actor, config, at) as desk:
        _allow(desk, "supervision_scan")
        result = desk.supervision.scan(actor=desk.person.id, first=start, last=end)
    data = {"raised": result.raised, "updated": result.updated, "reports": result.reports}
    if as_json:
        emit(data, True)
        return
    told = ", ".join(result.raised) or "none"
    out.print(
        f"raised {len(result.raised)} alert(s): {told}; updated {len(result.updated)}; "
        f"large-holder reports {len(result.reports)}",
        highlight=False,
        markup=False,
    )


def _alert_data(stored: StoredAlert) -> dict[str, Any]:
    return {**alert_fields(stored), "detected_at": _when(stored.detected_at)}


@supervision_app.command("alerts")
def alerts(
    state: Annotated[str | None, typer.Option(help="open, investigating or closed.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="An alert type.")] = None,
    first: FromOption = None,
    last: ToOption = None,
    account: Annotated[str | None, typer.Option(help="Alerts naming this account.")] = None,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
) -> None:
    """The alerts, in the order they were raised."""
    with _desk(db, actor) as desk:
        _allow(desk, "read_alerts")
        found = desk.supervision.alerts(
            state=state,
            type_=type_,
            first=_day(first, "from"),
            last=_day(last, "to"),
            account=account,
        )
    rows = [_alert_data(s) for s in found]
    shown = [{**r, "accounts": " ".join(r["accounts"]), "trades": len(r["trades"])} for r in rows]
    columns = ("id", "type", "severity", "state", "day", "instrument", "accounts", "trades")
    emit(rows, as_json, view.rows_table(shown, *columns))


@supervision_app.command("show")
def show(
    alert: AlertArg, as_json: JsonOption = False, db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
) -> None:  # fmt: skip
    """An alert: its evidence (the orders and trades themselves) and its history."""
    with _desk(db, actor) as desk:
        _allow(desk, "read_alerts")
        found = desk.supervision.alert(alert)
        if found is None:
            refuse("unknown_alert", f"no alert {alert!r}", "alert")
        stored, history = found
        store = desk.supervision.store
        orders, trades = store.venue_evidence(  # type: ignore[attr-defined]
            stored.alert.orders, stored.alert.trades
        )
    data = _alert_data(stored)
    data["evidence"] = {
        "orders": [view.order_data(o) for o in orders],
        "trades": [
            {
                "id": t.id,
                "buyer": t.buyer,
                "seller": t.seller,
                "quantity": t.quantity,
                "price": format_fen(t.price),
                "at": _when(t.at_us),
            }
            for t in trades
        ],
    }
    data["history"] = [
        {
            "action": x.action,
            "state": x.state,
            "measure": x.measure,
            "account": x.account,
            "text": x.text,
            "actor": x.actor,
            "at": _when(x.at),
        }
        for x in history
    ]
    if as_json:
        emit(data, True)
        return
    out.print(
        f"{data['id']} {data['type']} ({data['severity']}), {data['state']}"
        + (f": {data['resolution']}" if data["resolution"] else ""),
        highlight=False,
        markup=False,
    )
    out.print(data["explanation"], highlight=False, markup=False)
    view.show(view.rows_table(data["evidence"]["trades"], *_TRADE_COLUMNS))
    view.show(view.rows_table(data["history"], "at", "action", "state", "measure", "actor"))


_TRADE_COLUMNS = ("id", "at", "seller", "buyer", "quantity", "price")


def _submit(act: Act, kind: str, params: dict[str, Any], what: str) -> None:
    with _desk(act.db, act.actor, act.config, act.at) as desk:
        result = desk.gate.submit(desk.person, kind, act.cmd_id, params)
    if not result.ok:
        assert result.code is not None
        refuse(result.code, result.message, result.field)
    again = " (replayed: this id already ran)" if result.replayed else ""
    out.print(f"{what}: accepted {act.cmd_id}{again}", highlight=False, markup=False)


@write(supervision_app, "investigate")
def investigate(act: Act, alert: AlertArg, note: Note = None) -> None:
    """Take an alert up: open -> investigating."""
    _submit(act, "investigate_alert", {"alert": alert, "note": note}, f"{alert} investigating")


@write(supervision_app, "close")
def close(
    act: Act,
    alert: AlertArg,
    resolution: Annotated[
        str,
        typer.Argument(
            help="no_violation, warning_issued, measures_taken or referred_to_authority."
        ),
    ],
    note: Note = None,
) -> None:
    """Close an alert with a resolution."""
    params = {"alert": alert, "resolution": resolution, "note": note}
    _submit(act, "close_alert", params, f"{alert} closed ({resolution})")


@write(supervision_app, "measure")
def measure(
    act: Act,
    alert: AlertArg,
    kind: Annotated[
        str,
        typer.Argument(
            help="risk_warning_letter, restrict_account, freeze or report_to_authority."
        ),
    ],
    account: Annotated[
        str | None, typer.Option(help="The account (default: the alert's only one).")
    ] = None,
    text: Annotated[str | None, typer.Option(help="The letter's or report's wording.")] = None,
) -> None:
    """Take a measure on an alert."""
    params = {"alert": alert, "measure": kind, "account": account, "text": text}
    _submit(act, "alert_measure", params, f"{kind} on {alert}")


def _report_data(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "holder": r.holder,
        "asset": r.asset,
        "position": r.position,
        "threshold": r.threshold,
        "limit": r.limit_t,
        "transfer": r.transfer,
        "crossed_at": _when(r.crossed_at),
        "alert": r.alert,
        "history": [{"day": d, "position": p, "change": c} for d, p, c in r.history],
    }


@supervision_app.command("large-holders")
def large_holders(
    holder: Annotated[str | None, typer.Option(help="One holder's reports.")] = None,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
) -> None:
    """The large-holder reports, in the order the thresholds were crossed."""
    with _desk(db, actor) as desk:
        _allow(desk, "read_alerts")
        rows = [_report_data(r) for r in desk.supervision.large_holder_reports(holder=holder)]
    columns = ("id", "holder", "asset", "position", "threshold", "limit", "crossed_at", "alert")
    emit(rows, as_json, view.rows_table(rows, *columns))


@supervision_app.command("report")
def report(
    report_id: Annotated[str, typer.Argument(help="The report's id, e.g. LH1.")],
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
) -> None:
    """One large-holder report, with the holder's position at the end of each day it moved."""
    with _desk(db, actor) as desk:
        _allow(desk, "read_alerts")
        found = desk.supervision.large_holder_reports(report_id=report_id)
    if not found:
        refuse("unknown_reference", f"no large-holder report {report_id!r}", "id")
    data = _report_data(found[0])
    if as_json:
        emit(data, True)
        return
    out.print(
        f"{data['id']}: {data['holder']} holds {data['position']} t of {data['asset']} "
        f"(threshold {data['threshold']} t, limit {data['limit']} t), crossed by "
        f"{data['transfer']} at {data['crossed_at']}; alert {data['alert']}",
        highlight=False,
        markup=False,
    )
    view.show(view.rows_table(data["history"], "day", "position", "change"))
