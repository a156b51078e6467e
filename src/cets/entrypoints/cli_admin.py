"""`cets account`, `cets registry`, `cets approvals`, `cets person`, `cets key`: the operators'
console on the database named by `--db` / `CETS_DATABASE_URL`.

The console acts as a registered person (`--as`, default `$CETS_PERSON`, else `admin`, the person
`cets init` creates): that person's role is checked, four-eyes applies (policy from `--config`, a
YAML file of the scenario `config:` keys), and the journal records them. Access to the database
itself is trust: whoever can run this can write to it, so keep the database's credentials as
close as the authority's keys.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.table import Table

from cets.adapters.sql.database import database_url
from cets.adapters.sql.store import SqlStore
from cets.domain.errors import DomainError
from cets.domain.policy import Policy, PolicyError
from cets.domain.registry.access import OPERATOR_PERMISSIONS, Person, authorize
from cets.domain.registry.holders import Holder
from cets.domain.trading.calendar import TradingCalendar
from cets.domain.units import format_fen
from cets.entrypoints import scenario as scenarios
from cets.service.clock import SystemClock, from_us
from cets.service.compliance import Compliance
from cets.service.exchange import Exchange
from cets.service.operations import OPERATIONS, Gate
from cets.service.people import People
from cets.service.ports import CommandResult
from cets.service.queries import holder_positions
from cets.service.registry import Registry

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: CETS_DATABASE_URL, else the embedded file)."),
]
AsOption = Annotated[
    str,
    typer.Option("--as", envvar="CETS_PERSON", help="The registered person who acts."),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", envvar="CETS_CONFIG", help="YAML policy overrides (four_eyes...)."),
]

account_app = typer.Typer(
    help="Holders and their accounts: open, list, show.", no_args_is_help=True
)
registry_app = typer.Typer(
    help="Registry operations: cets registry OP [--id ID] FIELD=VALUE ...", no_args_is_help=True
)
approvals_app = typer.Typer(help="Four-eyes requests: list, approve, reject.", no_args_is_help=True)
person_app = typer.Typer(help="People who act: staff and account operators.", no_args_is_help=True)
key_app = typer.Typer(help="API keys: issue, list, revoke.", no_args_is_help=True)


class Session:
    """The store, services and acting person for one command."""

    def __init__(self, db: str | None, actor: str, config: Path | None = None) -> None:
        try:
            self.store = SqlStore.existing(database_url(db))
        except LookupError as exc:
            _fail(str(exc))
        self.clock = SystemClock()
        self.policy = load_policy(config)
        self.calendar = TradingCalendar.from_policy(self.policy)
        self.registry = Registry(self.store, self.clock, calendar=self.calendar)
        # The venue's operations (confirming a settlement run) pass the same gate.
        self.gate = Gate(
            self.registry,
            self.policy,
            venue=Exchange(self.store, self.clock, self.policy),
            compliance=Compliance(self.store, self.clock, self.policy),
        )
        self.people = People(self.store, self.clock)
        person = self.store.person(actor)
        if person is None:
            self.store.close()
            _fail(f"--as {actor!r}: no such person (see `cets person list`)")
        assert person is not None
        self.person: Person = person

    def allow(self, kind: str, params: dict[str, Any] | None = None) -> None:
        try:
            authorize(self.person, kind, params or {})
        except DomainError as exc:
            self.store.close()
            _fail(f"{exc.code}: {exc.message}")


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(message, highlight=False, markup=False)
    raise typer.Exit(code)


def load_policy(config: Path | None) -> Policy:
    if config is None:
        return Policy()
    try:
        data = yaml.safe_load(config.read_text()) or {}
        return Policy().with_overrides(data)
    except (OSError, yaml.YAMLError, PolicyError) as exc:
        _fail(f"--config {config}: {exc}")


def _report(result: CommandResult, cmd_id: str) -> None:
    if result.ok:
        again = " (replayed: this id already ran)" if result.replayed else ""
        seq = f" as journal entry {result.seq}" if result.seq else ""
        out.print(f"accepted {cmd_id}{seq}{again}", highlight=False)
        return
    err.print(f"{result.code}: {result.message}", highlight=False, markup=False)
    raise typer.Exit(1)


# -- accounts --------------------------------------------------------------------------------


@account_app.command("open")
def account_open(
    holder_id: Annotated[str, typer.Argument(help="The holder's id.")],
    kind: Annotated[str, typer.Option(help="key_emitter, institution or individual.")],
    name: Annotated[str, typer.Option(help="Registered name.")],
    code: Annotated[str | None, typer.Option(help="Unified social credit code / ID no.")] = None,
    controller: Annotated[str | None, typer.Option(help="Actual controller.")] = None,
    db: DbOption = None,
    actor: AsOption = "admin",
) -> None:
    """Register a subject with its registration, trading and fund accounts."""
    console = Session(db, actor)
    console.allow("open_holder")
    holder = Holder(holder_id, kind, name, controller, code=code)
    _report(console.registry.open_holder(holder, actor=actor), holder_id)


@account_app.command("list")
def account_list(db: DbOption = None, actor: AsOption = "admin") -> None:
    """Every holder with its state."""
    console = Session(db, actor)
    console.allow("read_registry")
    table = Table("id", "kind", "name", "state", "code", "controller")
    for h in console.store.holders():
        table.add_row(h.id, h.kind, h.name, h.state, h.code or "", h.controller or "")
    out.print(table)


@account_app.command("show")
def account_show(
    holder_id: Annotated[str, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
    actor: AsOption = "admin",
) -> None:
    """A holder's positions: units (total, available, frozen, pledged) and funds."""
    console = Session(db, actor)
    console.allow("read_holder", {"holder": holder_id})
    holder = console.store.holder(holder_id)
    if holder is None:
        _fail(f"no account holder {holder_id!r}")
        return
    units, fund = holder_positions(console.store, holder)
    holdings = {a: _pos(p) for a, p in units.items()}
    money = None if fund is None else {k: format_fen(v) for k, v in _pos(fund).items()}
    if as_json:
        data = {"holder": holder_id, "state": holder.state, "holdings": holdings, "funds": money}
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    out.print(f"{holder.name} ({holder_id}), {holder.kind}, {holder.state}", highlight=False)
    table = Table("asset", "total", "available", "frozen", "pledged", "in orders")
    for asset, p in holdings.items():
        table.add_row(asset, *(f"{p[k]:,}" for k in _POSITION))
    if money:
        table.add_row("CNY", money["total"], money["available"], "", "", money["in_orders"])
    out.print(table)


_POSITION = ("total", "available", "frozen", "pledged", "in_orders")


def _pos(p: Any) -> dict[str, int]:
    return {
        "total": p.total,
        "available": p.available,
        "frozen": p.frozen,
        "pledged": p.pledged,
        "in_orders": p.in_orders,
    }


# -- registry operations ---------------------------------------------------------------------


def _operation_command(operation: str) -> None:
    def command(
        fields: Annotated[list[str] | None, typer.Argument(help="FIELD=VALUE pairs.")] = None,
        cmd_id: Annotated[
            str | None, typer.Option("--id", help="Client id (idempotency key); default: new.")
        ] = None,
        db: DbOption = None,
        actor: AsOption = "admin",
        config: ConfigOption = None,
    ) -> None:
        run_operation(operation, fields or [], cmd_id, db, actor, config)

    required, optional = scenarios.STEP_FIELDS[operation]
    usage = " ".join(f"{f}=..." for f in sorted(required))
    extra = f" (optional: {', '.join(sorted(optional))})" if optional else ""
    command.__doc__ = f"{operation} {usage}{extra}"
    registry_app.command(operation)(command)


def run_operation(
    operation: str,
    fields: list[str],
    cmd_id: str | None,
    db: str | None,
    actor: str,
    config: Path | None,
) -> None:
    """Perform a registry operation, e.g. `cets registry transfer from=E1 to=E2
    asset=CEA-2023 quantity=100 --id t-001`. Exit 1 when refused, 2 on bad input."""
    args: dict[str, Any] = {}
    for pair in fields:
        name, sep, value = pair.partition("=")
        if not sep:
            _fail(f"{pair!r}: give fields as FIELD=VALUE")
        args[name] = value
    try:
        params = scenarios.typed_params(operation, args, operation)
    except scenarios.ScenarioError as exc:
        _fail(str(exc))
        return
    cmd_id = cmd_id or f"cli-{uuid.uuid4().hex[:16]}"
    console = Session(db, actor, config)
    try:
        result = console.gate.submit(console.person, operation, cmd_id, params)
    finally:
        console.store.close()
    if result.code == "approval_required":
        out.print(f"pending approval: {cmd_id} ({result.message})", highlight=False)
        return
    _report(result, cmd_id)


for _operation in OPERATIONS:
    _operation_command(_operation)


# -- approvals -------------------------------------------------------------------------------


@approvals_app.command("list")
def approvals_list(
    state: Annotated[str | None, typer.Option(help="pending, approved, rejected, expired.")] = None,
    db: DbOption = None,
    actor: AsOption = "admin",
) -> None:
    """Four-eyes requests."""
    console = Session(db, actor)
    table = Table("id", "kind", "params", "requested by", "state", "decided by", "code")
    for a in console.store.approvals(state=state, limit=None):
        params = json.dumps(dict(a.params), ensure_ascii=False)
        table.add_row(
            a.id, a.kind, params, a.requested_by, a.state, a.decided_by or "", a.code or ""
        )
    out.print(table)


@approvals_app.command("approve")
def approvals_approve(
    request_id: Annotated[str, typer.Argument()],
    db: DbOption = None,
    actor: AsOption = "admin",
    config: ConfigOption = None,
) -> None:
    """Approve a request as the second person: the operation runs now."""
    console = Session(db, actor, config)
    try:
        result = console.gate.approve(console.person, request_id)
    finally:
        console.store.close()
    _report(result, request_id)


@approvals_app.command("reject")
def approvals_reject(
    request_id: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    db: DbOption = None,
    actor: AsOption = "admin",
) -> None:
    """Reject a request (the requester may withdraw their own)."""
    console = Session(db, actor)
    try:
        result = console.gate.reject(console.person, request_id, reason)
    finally:
        console.store.close()
    if result.ok:
        out.print(f"rejected {request_id}", highlight=False)
        return
    _report(result, request_id)


@approvals_app.command("expire")
def approvals_expire(db: DbOption = None, actor: AsOption = "admin") -> None:
    """Mark every pending request past its expiry as expired."""
    console = Session(db, actor)
    try:
        count = console.gate.expire_due()
    finally:
        console.store.close()
    out.print(f"expired {count} request(s)", highlight=False)


# -- people and keys -------------------------------------------------------------------------


@person_app.command("add")
def person_add(
    person_id: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="authority, registry_operator, ... , investor.")],
    holder: Annotated[str | None, typer.Option(help="For key_emitter/investor roles.")] = None,
    permissions: Annotated[
        str, typer.Option(help="Operator permissions, comma-separated.")
    ] = ",".join(sorted(OPERATOR_PERMISSIONS)),
    db: DbOption = None,
    actor: AsOption = "admin",
) -> None:
    """Register a person."""
    console = Session(db, actor)
    console.allow("manage_people")
    perms = frozenset(p.strip() for p in permissions.split(",") if p.strip())
    try:
        console.people.add(Person(person_id, name, role, holder, perms), actor=actor)
    except DomainError as exc:
        _fail(f"{exc.code}: {exc.message}", 1)
    finally:
        console.store.close()
    out.print(f"person {person_id} ({role}) registered", highlight=False)


@person_app.command("list")
def person_list(db: DbOption = None, actor: AsOption = "admin") -> None:
    console = Session(db, actor)
    console.allow("manage_people")
    table = Table("id", "name", "role", "holder", "permissions", "active")
    for p in console.store.persons():
        table.add_row(
            p.id, p.name, p.role, p.holder or "", " ".join(sorted(p.permissions)), str(p.active)
        )
    out.print(table)


@key_app.command("issue")
def key_issue(
    person_id: Annotated[str, typer.Argument()],
    db: DbOption = None,
    actor: AsOption = "admin",
) -> None:
    """Issue an API key for a person; the key is printed once."""
    console = Session(db, actor)
    console.allow("manage_people")
    try:
        issued = console.people.issue_key(person_id, actor=actor)
    except DomainError as exc:
        _fail(f"{exc.code}: {exc.message}", 1)
        return
    finally:
        console.store.close()
    out.print(f"API key for {person_id} (shown once, store it now):", highlight=False)
    sys.stdout.write(issued.token + "\n")


@key_app.command("list")
def key_list(
    person_id: Annotated[str, typer.Argument()], db: DbOption = None, actor: AsOption = "admin"
) -> None:
    console = Session(db, actor)
    console.allow("manage_people")
    table = Table("key id", "person", "created", "expires", "revoked")
    for k in console.store.keys_of(person_id):
        table.add_row(k.id, k.person, _when(k.created_at), _when(k.expires_at), _when(k.revoked_at))
    out.print(table)


def _when(us: int | None) -> str:
    return "" if us is None else from_us(us).isoformat(timespec="seconds")


@key_app.command("revoke")
def key_revoke(
    key_id: Annotated[str, typer.Argument()], db: DbOption = None, actor: AsOption = "admin"
) -> None:
    console = Session(db, actor)
    console.allow("manage_people")
    try:
        console.people.revoke_key(key_id, actor=actor)
    except DomainError as exc:
        _fail(f"{exc.code}: {exc.message}", 1)
    finally:
        console.store.close()
    out.print(f"revoked {key_id}", highlight=False)
