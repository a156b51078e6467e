"""The scenario runner: `cets scenario run FILE` and `cets scenario check FILE...` (SCENARIOS.md).

A file is validated whole before anything runs: an unknown step, a missing or unknown field, a bad
number is a `ScenarioError` naming the step index and the field (exit 2). Steps then run in order
through the same service handlers as the API and CLI; a refused step is an outcome, not an error.
Beyond SCENARIOS.md's table, the registry operations `enforce` (ref, quantity?), `forced_surrender`
(account, asset, quantity, year), `succeed` (account, to), `freeze_account`, `unfreeze_account`
and `begin_closure` (account) are steps too.
Block negotiation (see `cets.service.block`): `block_quote` takes an optional `to` (the one
holder who may accept it); `block_inquiry` (id, account, instrument, side, quantity, price?, to?)
asks for quotes; `block_counter` (id, account, reply_to, quantity, price) answers a block quote or
inquiry; `cancel_inquiry` (id) withdraws an inquiry.
`auction_open` also takes an optional `window: [start, end]` (two local datetimes, start in,
end out); without it the auction takes bids in its day's listed sessions.
Settlement: `end_of_day` closes the day and settles its run; `confirm_run`, `object` and
`correction` act on runs (fields in `scenario_steps`). The outcome has two more sections:
`settlement` (each run's kind, status, trades, breaks and objections) and `system` (the system's
own accounts: fees, clearing, transit, banks, issuance), and each trade shows its fees.

Compliance: `emissions`, `surrender` and `compliance_close`, and the allocation plan, period,
borrowing and offset steps of `scenario_compliance`, which also makes the outcome's `compliance`.

Supervision: the live scan runs after every step that succeeded (as `cets serve` runs it while
the market trades), and a batch scan over the whole history after the last step; the outcome's
`alerts` lists what they raised (`scenario_supervision`). Steps `scan` (a batch scan now),
`investigate_alert` (alert, note?), `close_alert` (alert, resolution, note?) and
`alert_measure` (alert, measure, account?, text?) act as the supervisor.

Each step's client id (its idempotency key) is `s<index>`, so running one file twice against the
same `--db` replays rather than doubles it. The clock starts at 2024-01-01T00:00:00 Asia/Shanghai
until the first `at`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import Policy, PolicyError
from cets.domain.registry.access import Person, Role
from cets.domain.registry.holders import Holder
from cets.domain.trading.calendar import TradingCalendar
from cets.domain.units import (
    CCER,
    AmountError,
    AssetError,
    parse_asset,
    parse_fen,
    parse_tonnes,
)
from cets.entrypoints import scenario_compliance
from cets.entrypoints.scenario_compliance import STEPS as COMPLIANCE_STEPS
from cets.entrypoints.scenario_compliance import StepError
from cets.entrypoints.scenario_outcome import outcome
from cets.entrypoints.scenario_steps import VENUE, LegError, parse_legs
from cets.entrypoints.scenario_supervision import alerts_section
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.compliance import Compliance
from cets.service.exchange import Exchange
from cets.service.operations import Gate
from cets.service.ports import CommandResult
from cets.service.registry import Registry
from cets.service.supervision import Supervision

START = datetime(2024, 1, 1, tzinfo=SHANGHAI)
ACTOR = "scenario"
# Who the runner acts as: one person for every step, a second one for `approve` steps.
RUNNER = Person(ACTOR, "Scenario runner", Role.authority)
APPROVER = Person("scenario-approver", "Scenario runner (second person)", Role.authority)


class ScenarioError(Exception):
    """The file is not a valid scenario (exit 2)."""


# step type -> (required fields, optional fields); the contract of SCENARIOS.md.
STEP_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    name: (frozenset(req.split()), frozenset(opt.split()))
    for name, req, opt in [
        ("issue", "asset quantity", "to"),
        ("allocate", "to asset quantity", ""),
        ("true_up", "to asset quantity", ""),
        ("transfer", "from to asset quantity", ""),
        ("freeze", "account asset quantity ref", ""),
        ("unfreeze", "ref", "quantity"),
        ("deduct", "ref to quantity", ""),
        ("pledge", "account pledgee asset quantity ref", ""),
        ("release", "ref", ""),
        ("cancel", "account asset quantity", ""),
        ("restrict", "account", ""),
        ("unrestrict", "account", ""),
        ("close_account", "account", ""),
        ("deposit", "account amount", ""),
        ("withdraw", "account amount", ""),
        ("order", "id account instrument side quantity price", "mode"),
        ("pick", "id account quote quantity", ""),
        ("cancel_order", "id", ""),
        ("block_quote", "id account instrument side quantity price", "to"),
        ("block_accept", "id quote account", ""),
        ("block_inquiry", "id account instrument side quantity", "price to"),
        ("block_counter", "id account reply_to quantity price", ""),
        ("cancel_inquiry", "id", ""),
        ("auction_open", "id seller instrument quantity reserve_price pricing", "window"),
        ("bid", "id auction account quantity price", ""),
        ("auction_close", "id", ""),
        ("halt", "instrument", ""),
        ("resume", "instrument", ""),
        ("end_of_day", "", ""),
        ("approve", "step", ""),
        # Settlement runs (see `scenario_steps`).
        ("confirm_run", "run", "accept_breaks"),
        ("object", "id run account text", "trade"),
        ("correction", "id corrects reason", "objection legs reverse"),
        # Registry operations the scenario format does not list; the CLI and API offer them.
        ("enforce", "ref", "quantity"),
        ("forced_surrender", "account asset quantity year", ""),
        ("succeed", "account to", ""),
        ("freeze_account", "account", ""),
        ("unfreeze_account", "account", ""),
        ("begin_closure", "account", ""),
        # Supervision (see `scenario_supervision`).
        ("scan", "", ""),
        ("investigate_alert", "alert", "note"),
        ("close_alert", "alert resolution", "note"),
        ("alert_measure", "alert measure", "account text"),
        # Compliance (see `scenario_compliance`).
        *((name, req, opt) for name, (req, opt) in COMPLIANCE_STEPS.items()),
    ]
}
TOP_LEVEL = frozenset(
    {"name", "description", "config", "instruments", "accounts", "steps", "expect"}
)


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    kind: str
    args: dict[str, Any]


@dataclass(slots=True)
class Scenario:
    name: str
    policy: Policy
    instruments: dict[str, int]  # symbol -> previous close, fen per tonne
    holders: list[Holder]
    steps: list[Step]
    expect: dict[str, Any] | None = None


# -- parsing -----------------------------------------------------------------------------------


def load(path: str | Path) -> Scenario:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    return parse(data)


def parse(data: Any) -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError("a scenario is a mapping with at least 'steps'")
    unknown = set(data) - TOP_LEVEL
    if unknown:
        raise ScenarioError(f"unknown top-level key {sorted(unknown)[0]!r}")
    config = data.get("config") or {}
    try:
        policy = Policy().with_overrides(config)
    except PolicyError as exc:
        raise ScenarioError(str(exc)) from exc
    steps_data = data.get("steps")
    if not isinstance(steps_data, list):
        raise ScenarioError("'steps' must be a list of steps")
    expect = data.get("expect")
    if expect is not None and not isinstance(expect, dict):
        raise ScenarioError("'expect' must be a mapping")
    return Scenario(
        name=str(data.get("name", "")),
        policy=policy,
        instruments=_instruments(data.get("instruments") or []),
        holders=_holders(data.get("accounts") or []),
        steps=[_step(i, s) for i, s in enumerate(steps_data)],
        expect=expect,
    )


def _instruments(items: Any) -> dict[str, int]:
    if not isinstance(items, list):
        raise ScenarioError("'instruments' must be a list")
    out = {}
    for i, item in enumerate(items):
        where = f"instruments[{i}]"
        _fields(where, item, frozenset({"symbol", "prev_close"}), frozenset())
        try:
            symbol = parse_asset(item["symbol"], field=f"{where}.symbol")
            out[symbol] = parse_fen(item["prev_close"], field=f"{where}.prev_close")
        except (AmountError, AssetError) as exc:
            raise ScenarioError(str(exc)) from exc
    return out


def _holders(items: Any) -> list[Holder]:
    if not isinstance(items, list):
        raise ScenarioError("'accounts' must be a list")
    holders = []
    for i, item in enumerate(items):
        where = f"accounts[{i}]"
        _fields(where, item, frozenset({"id", "kind", "name"}), frozenset({"controller"}))
        controller = item.get("controller")
        holders.append(
            Holder(
                str(item["id"]),
                str(item["kind"]),
                str(item["name"]),
                None if controller is None else str(controller),
            )
        )
    return holders


def _fields(where: str, item: Any, required: frozenset[str], optional: frozenset[str]) -> None:
    if not isinstance(item, dict):
        raise ScenarioError(f"{where}: expected a mapping of fields")
    for name in sorted(required - set(item)):
        raise ScenarioError(f"{where}: missing field '{name}'")
    for name in sorted(set(item) - required - optional):
        raise ScenarioError(f"{where}: unknown field '{name}'")


def _step(index: int, raw: Any) -> Step:
    where = f"step {index}"
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ScenarioError(f"{where}: a step is a mapping with exactly one step type")
    ((kind, args),) = raw.items()
    if kind == "at":
        return Step(index, "at", {"at": _local_time(where, args)})
    if kind not in STEP_FIELDS:
        raise ScenarioError(f"{where}: unknown step type {kind!r}")
    if args is None:
        args = {}
    required, optional = STEP_FIELDS[kind]
    _fields(where, args, required, optional)
    if kind == "approve":
        target = args["step"]
        if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < index:
            raise ScenarioError(
                f"{where}: field 'step' {target!r}, was expected the index of an earlier step"
            )
        return Step(index, kind, {"step": target})
    if kind in COMPLIANCE_STEPS:
        return Step(index, kind, _compliance_args(index, kind, args, where))
    try:
        return Step(index, kind, _typed(kind, args, where))
    except (AmountError, AssetError) as exc:
        raise ScenarioError(f"{where}: {exc}") from exc


# Compliance fields typed by `scenario_compliance`, not by `_typed`.
_COMPLIANCE_FIELDS = frozenset(
    {"tonnes", "year", "first_year", "last_year", "output", "pending", "cumulative"}
    | {"deadline", "rules", "lines", "step"}
)


def _compliance_args(index: int, kind: str, args: dict[str, Any], where: str) -> dict[str, Any]:
    step = args.get("step")
    if "step" in args and (
        isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < index
    ):
        raise ScenarioError(
            f"{where}: field 'step' {step!r}, was expected the index of an earlier step"
        )
    try:
        out = scenario_compliance.typed(kind, args)
        out.update(
            _typed(kind, {k: v for k, v in args.items() if k not in _COMPLIANCE_FIELDS}, where)
        )
    except (AmountError, AssetError, StepError) as exc:
        raise ScenarioError(f"{where}: {exc}") from exc
    return out


def typed_params(kind: str, args: dict[str, Any], where: str) -> dict[str, Any]:
    """Check and type the fields of operation `kind` as the scenario format defines them (also
    for the CLI); ScenarioError naming `where` and the field."""
    required, optional = STEP_FIELDS[kind]
    _fields(where, args, required, optional)
    try:
        return _typed(kind, args, where)
    except (AmountError, AssetError) as exc:
        raise ScenarioError(f"{where}: {exc}") from exc


def _typed(kind: str, args: dict[str, Any], where: str) -> dict[str, Any]:
    out = dict(args)
    for name, value in args.items():
        if name in ("quantity", "tonnes"):
            # A true-up's negative quantity is a recovery (SCENARIOS.md).
            out[name] = parse_tonnes(
                value, field=name, allow_zero=False, allow_negative=kind == "true_up"
            )
        elif name in ("amount", "price", "reserve_price"):
            out[name] = parse_fen(value, field=name)
        elif name == "window":
            out[name] = _window(where, value)
        elif name == "legs":
            try:
                out[name] = parse_legs(value)
            except LegError as exc:
                raise ScenarioError(f"{where}: {exc}") from exc
        elif name == "asset":
            out[name] = parse_asset(value, field=name)
        elif name in ("year", "step"):
            text = str(value).strip()
            if isinstance(value, bool) or not text.isdigit():
                raise ScenarioError(
                    f"{where}: field '{name}' must be a whole number, got {value!r}"
                )
            out[name] = int(text)
        elif not isinstance(value, str | int) or isinstance(value, bool):
            raise ScenarioError(f"{where}: field '{name}' must be a name, got {value!r}")
        else:
            out[name] = str(value)
    return out


def _window(where: str, value: Any) -> tuple[datetime, datetime]:
    """An auction's window: two local datetimes, `[start, end]` (start in, end out)."""
    if not isinstance(value, list) or len(value) != 2:
        raise ScenarioError(
            f"{where}: field 'window' must be [start, end], two local datetimes, got {value!r}"
        )
    start, end = (_local_time(where, v, "window") for v in value)
    return start, end


def _local_time(where: str, value: Any, name: str = "at") -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ScenarioError(
                f"{where}: field '{name}' {value!r} is not a local datetime like "
                "2024-03-04T09:30:00"
            ) from exc
    else:
        raise ScenarioError(f"{where}: field '{name}' must be a datetime string, got {value!r}")
    if moment.tzinfo is not None:
        raise ScenarioError(
            f"{where}: field '{name}' {value!r}: give Asia/Shanghai local time without an offset"
        )
    return moment.replace(tzinfo=SHANGHAI)


# -- running -----------------------------------------------------------------------------------


def run(scenario: Scenario, db_url: str | None = None) -> dict[str, Any]:
    """Run `scenario` on `db_url` (or a throwaway SQLite file) and return the outcome."""
    if db_url is not None:
        return _run_on(scenario, SqlStore.open(db_url))
    with tempfile.TemporaryDirectory(prefix="cets-scenario-") as tmp:
        return _run_on(scenario, SqlStore.open(f"sqlite:///{tmp}/scenario.db", durable=False))


def _run_on(scenario: Scenario, store: SqlStore) -> dict[str, Any]:
    try:
        clock = SettableClock(START)
        registry = Registry(store, clock, calendar=TradingCalendar.from_policy(scenario.policy))
        for holder in scenario.holders:
            result = registry.open_holder(holder, actor=ACTOR)
            if not result.ok:
                raise ScenarioError(f"accounts: {holder.id!r}: {result.code}: {result.message}")
        # The runner acts as whichever role a step needs (SCENARIOS.md): roles are not checked,
        # four-eyes is when the file's config turns it on.
        exchange = Exchange(store, clock, scenario.policy)
        compliance = Compliance(store, clock, scenario.policy)
        supervision = Supervision(store, clock, scenario.policy)
        gate = Gate(
            registry,
            scenario.policy,
            check_roles=False,
            venue=exchange,
            compliance=compliance,
            supervision=supervision,
        )
        for symbol, prev_close in scenario.instruments.items():
            listed = exchange.list_instrument(symbol, prev_close, actor=ACTOR)
            if not listed.ok:
                raise ScenarioError(f"instruments: {symbol!r}: {listed.code}: {listed.message}")
        steps = []
        for step in scenario.steps:
            steps.append(_execute(step, gate, exchange, clock))
            if step.kind != "at" and steps[-1]["ok"]:
                supervision.scan_live(actor=ACTOR)  # the live stream, as `cets serve` runs it
        supervision.scan(actor=ACTOR)  # and the batch over the whole history at the end
        return outcome(
            store, steps, scenario_compliance.section(compliance), alerts_section(supervision)
        )
    finally:
        store.close()


def _execute(step: Step, gate: Gate, exchange: Exchange, clock: SettableClock) -> dict[str, Any]:
    if step.kind == "at":
        clock.set(step.args["at"])
        return {"index": step.index, "ok": True}
    if step.kind == "approve":
        result = gate.approve(APPROVER, f"s{step.args['step']}")
    elif step.kind == "confirm_run":
        result = gate.submit(RUNNER, "confirm_settlement", f"s{step.index}", step.args)
    elif step.kind in VENUE:
        result = VENUE[step.kind](exchange, step.args)
    elif step.kind in COMPLIANCE_STEPS:
        result = _compliance_step(step, gate)
    elif step.kind == "scan":
        result = CommandResult(None, str(gate.supervision.scan(actor=ACTOR).raised))
    else:
        result = gate.submit(RUNNER, step.kind, f"s{step.index}", step.args)
    entry: dict[str, Any] = {"index": step.index, "ok": result.ok}
    if not result.ok:
        assert result.code is not None
        entry["code"] = result.code.value
        entry["message"] = result.message
    return entry


def _compliance_step(step: Step, gate: Gate) -> CommandResult:
    kind = scenario_compliance.OPERATION.get(step.kind, step.kind)
    args = {k: v for k, v in step.args.items() if k != "pending"}
    result = gate.submit(RUNNER, kind, f"s{step.index}", args)
    used_now = not step.args.get("pending", False)  # the runner is the authority too: use it
    if result.ok and step.kind == "surrender" and args["asset"] == CCER and used_now:
        offset = {"offset": f"s{step.index}"}
        result = gate.submit(RUNNER, "use_offset", f"s{step.index}/use", offset)
    return result


# -- checking ----------------------------------------------------------------------------------


def differences(expected: Any, actual: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Subset match: only keys written in `expected` count; lists compare in order, whole length."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [(path or "/", expected, actual)]
        out = []
        for key, value in expected.items():
            sub = f"{path}/{key}"
            if key not in actual:
                out.append((sub, value, "<missing>"))
            else:
                out.extend(differences(value, actual[key], sub))
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [(path or "/", expected, actual)]
        out = []
        for i, value in enumerate(expected):
            if i >= len(actual):
                out.append((f"{path}/{i}", value, "<missing>"))
            else:
                out.extend(differences(value, actual[i], f"{path}/{i}"))
        if len(actual) > len(expected):
            out.append((f"{path}/{len(expected)}", "<end of list>", actual[len(expected)]))
        return out
    if _scalar_equal(expected, actual):
        return []
    return [(path or "/", expected, actual)]


def _scalar_equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if expected == actual:
        return True
    # `price: 60.00` unquoted in an expect block is a YAML float; compare it as written.
    return isinstance(expected, float) and f"{expected:.2f}" == actual
