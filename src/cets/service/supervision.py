"""Supervision's use cases: scanning the order and trade streams for abnormal trading, the
large-holder reports, and the supervisor's workflow over alerts (DOMAIN.md, "Supervision").

**Scans.** A scan reads the orders and trades of some trading days, runs every detector
(`cets.domain.supervision.detect`) and keeps each alert once, by its key:
- the **live** scan covers the current trading day. `cets serve` runs it every few seconds and
  after each day's close, the scenario runner after every trading step, so an alert appears
  while the day trades. Rules that judge a whole day wait for the day's close;
- the **batch** scan covers any range of days (all history by default): `cets supervision
  scan`, `POST /v1/supervision/scan`.
Reading and detecting happen outside the writers' lock (a batch over a million trades must not
stop the market); writing takes it. A scan that finds an alert already kept updates its
evidence while it is still open (a wash-trading pair's later trades join the same alert); once
a supervisor took it up (investigating or closed), the alert is left as it was judged, and a
finding on the same topic naming orders or trades it did not raises a new alert (key
`<topic>#2`, `#3`...), which grows while it is open. A scan that finds something new is one
journal entry (`supervision_scan`) naming every alert and report it raised or updated, and each
alert's history gets a `raised` or `updated` line pointing at that entry.

**Large holders.** Each scan also looks at the holding accounts that moved since the previous
scan (`supervision_marks`): a holder whose units now stand at or above its reporting threshold
(`large_holder_pct`% of its position limit) is checked for crossings since that scan, and each
crossing gets a report (`large_holder_reports`, with the daily position history up to it) and a
`large_holder` alert. With the position limit off (`position_limit: off`) there is no threshold
and no report. A crossing undone before the next scan (seconds in `cets serve`, one step in a
scenario) is not seen.

**Workflow.** `investigate`, `close_alert` and `take_measure` are commands like the registry's:
idempotent on their client id, all-or-nothing, one journal entry each. A measure that restricts
or freezes the account changes the holder's state in the same transaction
(`cets.domain.supervision.workflow`).
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol

from cets.domain.errors import DomainError, RejectCode
from cets.domain.policy import Policy
from cets.domain.registry.holders import HolderKind
from cets.domain.supervision.alerts import Alert
from cets.domain.supervision.detect import History, alert_day, detect_all
from cets.domain.supervision.large_holder import (
    Movement,
    crossings,
    daily_history,
    large_holder_alert,
    reporting_threshold,
)
from cets.domain.supervision.records import (
    AlertAction,
    Candidate,
    LargeHolderReport,
    StoredAlert,
    alert_id,
)
from cets.domain.supervision.workflow import (
    MEASURE_STATE_CHANGE,
    AlertState,
    Measure,
    Resolution,
    after_measure,
    move,
    parse_choice,
)
from cets.domain.trading.calendar import TradingCalendar, to_local
from cets.service.clock import Clock, to_us
from cets.service.ports import Command, CommandResult, Store, UnitOfWork
from cets.service.registry_base import RegistryBase
from cets.service.registry_states import STATE_CHANGES

LARGE_HOLDER_MARK = "large_holder"
HISTORY_DAYS = 60  # days of position history a large-holder report keeps
_DELIVERY = "trade"  # the transfer code of units delivered for trades


class SupervisionUnitOfWork(UnitOfWork, Protocol):
    """The supervision rows a unit of work keeps (the SQL one: `SupervisionRows`)."""

    def order_events(self, first: date | None, last: date | None) -> list[Any]: ...
    def trade_events(self, first: date | None, last: date | None) -> list[Any]: ...
    def day_contexts(self, wanted: set[tuple[str, date]], band_pct: int, tick_fen: int) -> Any: ...
    def controllers(self) -> dict[str, str | None]: ...
    def unit_holdings(self) -> list[Any]: ...
    def latest_alerts(self, topics: Sequence[str]) -> dict[str, tuple[StoredAlert, int]]: ...
    def next_alert_ordinal(self) -> int: ...
    def insert_alerts(
        self, rows: Sequence[tuple[int, Alert, date | None, str]], at: int
    ) -> None: ...
    def update_alert_evidence(self, alert_id_: str, alert: Alert, at: int) -> None: ...
    def alert(self, alert_id_: str) -> StoredAlert | None: ...
    def alerts(self, **filters: Any) -> list[StoredAlert]: ...
    def set_alert_state(
        self, alert_id_: str, state: str, resolution: str | None, at: int
    ) -> None: ...
    def insert_alert_actions(self, actions: Sequence[AlertAction]) -> None: ...
    def alert_actions(self, alert_id_: str) -> list[AlertAction]: ...
    def supervision_mark(self, name: str) -> int: ...
    def set_supervision_mark(self, name: str, value: int) -> None: ...
    def last_transfer_ordinal(self) -> int: ...
    def large_holder_candidates(self, min_units: int, after_ordinal: int) -> list[Candidate]: ...
    def movements(self, account_id: int, after_ordinal: int = 0) -> Any: ...
    def buy_trades_of_day(self, holder: str, asset: str, day: date) -> list[str]: ...
    def large_holder_report_exists(self, holder: str, asset: str, ordinal: int) -> bool: ...
    def insert_large_holder_report(self, report: LargeHolderReport) -> None: ...
    def large_holder_reports(
        self, *, holder: str | None = None, report_id: str | None = None
    ) -> list[LargeHolderReport]: ...
    def count_large_holder_reports(self) -> int: ...
    def allocated(self, account: str, asset: str) -> int: ...


def supervision_uow(uow: UnitOfWork) -> SupervisionUnitOfWork:
    return uow  # type: ignore[return-value]  # the SQL unit of work has the supervision rows


@dataclass(frozen=True, slots=True)
class ScanResult:
    raised: list[str]  # alert ids, in the order raised
    updated: list[str]
    reports: list[str]  # large-holder report ids
    seq: int | None  # the journal entry, when the scan found anything


@dataclass(frozen=True, slots=True)
class _Crossed:
    report: LargeHolderReport
    alert: Alert


class Supervision(RegistryBase):
    def __init__(self, store: Store, clock: Clock, policy: Policy) -> None:
        super().__init__(store, clock)
        self.policy = policy
        self.calendar = TradingCalendar.from_policy(policy)

    # -- scans ---------------------------------------------------------------------------------

    def today(self) -> date:
        return self.calendar.trading_day_of(to_local(self.clock.now()))

    def scan_live(self, *, actor: str) -> ScanResult:
        """The live scan: the current trading day."""
        day = self.today()
        return self.scan(actor=actor, first=day, last=day)

    def scan(
        self, *, actor: str, first: date | None = None, last: date | None = None
    ) -> ScanResult:
        """Run every detector over trading days first..last (all when not given) and keep what
        they find; then the large-holder check. See the module doc."""
        found = self._detect(first, last)
        now = to_us(self.clock.now())
        with self.store.unit_of_work() as uow:
            uow.lock()
            rows = supervision_uow(uow)
            crossed = self._large_holders(rows, now)
            found.extend(c.alert for c in crossed)
            latest = rows.latest_alerts([a.key for a in found])
            ordinal = rows.next_alert_ordinal()
            new: list[tuple[int, Alert, date | None, str]] = []
            updated: list[tuple[str, Alert]] = []
            seen: set[str] = set()
            for a in found:
                if a.key in seen:
                    continue
                seen.add(a.key)
                hit = latest.get(a.key)
                if hit is None:
                    ordinal += 1
                    new.append((ordinal, a, alert_day(a), a.key))
                elif hit[0].state == AlertState.open:
                    if hit[0].alert != a:
                        updated.append((hit[0].id, a))
                elif _new_evidence(a, hit[0].alert):  # taken up: what came since is new
                    ordinal += 1
                    new.append((ordinal, a, alert_day(a), f"{a.key}#{hit[1] + 1}"))
            if not new and not updated and not crossed:
                uow.commit()  # the large-holder mark moved on
                return ScanResult([], [], [], None)
            ids = {k: hit[0].id for k, hit in latest.items()}
            ids |= {a.key: alert_id(n) for n, a, _, _ in new}
            reports = [_with_alert(c.report, ids[c.alert.key]) for c in crossed]
            body = {
                "first": None if first is None else first.isoformat(),
                "last": None if last is None else last.isoformat(),
                "raised": [{"id": alert_id(n), "key": key} for n, _, _, key in new],
                "updated": [i for i, _ in updated],
                "reports": [r.id for r in reports],
            }
            seq = uow.journal("supervision_scan", actor, body, now)
            rows.insert_alerts(new, now)
            for i, a in updated:
                rows.update_alert_evidence(i, a, now)
            for report in reports:
                rows.insert_large_holder_report(report)
            rows.insert_alert_actions(
                [_action(alert_id(n), "raised", actor, now, seq) for n, _, _, _ in new]
                + [_action(i, "updated", actor, now, seq) for i, _ in updated]
            )
            uow.commit()
        return ScanResult(
            [alert_id(n) for n, *_ in new], [i for i, _ in updated], [r.id for r in reports], seq
        )

    def _detect(self, first: date | None, last: date | None) -> list[Alert]:
        """Read and judge with the cyclic garbage collector paused: the history is millions of
        objects that live until the judgement is made, and every full collection would walk
        them all again (measured: `bench/supervision_store.py`). Reference counting still
        frees what is dropped."""
        paused = gc.isenabled()
        gc.disable()
        try:
            history = self.history(first, last)
            return detect_all(history, self.policy.supervision, self.trading_day())
        finally:
            if paused:
                gc.enable()

    def trading_day(self) -> date | None:
        """The day still trading now: today's trading day until its 15:00 close, else None."""
        now = self.clock.now()
        today = self.today()
        if not self.calendar.is_trading_day(today) or now >= self.calendar.day_end(today):
            return None
        return today

    def history(self, first: date | None = None, last: date | None = None) -> History:
        """What the detectors read over trading days first..last (in one transaction)."""
        with self.store.unit_of_work() as uow:
            rows = supervision_uow(uow)
            trades = rows.trade_events(first, last)
            wanted = {(t.instrument, t.day) for t in trades}
            return History(
                orders=rows.order_events(first, last),
                trades=trades,
                days=rows.day_contexts(wanted, self.policy.band_listed_pct, self.policy.tick_fen),
                controllers=rows.controllers(),
                holdings=rows.unit_holdings(),
            )

    def _large_holders(self, rows: SupervisionUnitOfWork, now: int) -> list[_Crossed]:
        """Crossings of the reporting threshold since the previous scan (module doc)."""
        limit = self.policy.position_limit
        mark = rows.supervision_mark(LARGE_HOLDER_MARK)
        last = rows.last_transfer_ordinal()
        if limit is None or last == mark:
            rows.set_supervision_mark(LARGE_HOLDER_MARK, last)
            return []
        pct = self.policy.large_holder_pct
        lowest = reporting_threshold(min(limit.other_t, limit.key_emitter_extra_t), pct)
        out: list[_Crossed] = []
        number = rows.count_large_holder_reports()
        for c in rows.large_holder_candidates(lowest, mark):
            limit_t = limit.other_t
            if c.kind == HolderKind.key_emitter:
                limit_t = rows.allocated(c.holder, c.asset) + limit.key_emitter_extra_t
            threshold = reporting_threshold(limit_t, pct)
            if c.position < threshold:
                continue
            recent = list(rows.movements(c.account_id, mark))
            for crossing in crossings(c.position, recent, threshold):
                m = crossing.movement
                if rows.large_holder_report_exists(c.holder, c.asset, m.ordinal):
                    continue
                number += 1
                trades = rows.buy_trades_of_day(c.holder, c.asset, m.day)
                alert = large_holder_alert(
                    c.holder,
                    c.asset,
                    crossing,
                    threshold,
                    limit_t,
                    trades if m.code == _DELIVERY else (),
                )
                days = _history_up_to(rows, c, m, crossing.after)
                report = LargeHolderReport(
                    f"LH{number}",
                    c.holder,
                    c.asset,
                    crossing.after,
                    threshold,
                    limit_t,
                    m.transfer,
                    m.ordinal,
                    m.at_us,
                    [(d.day.isoformat(), d.position, d.change) for d in days],
                    "",
                    now,
                )
                out.append(_Crossed(report, alert))
        rows.set_supervision_mark(LARGE_HOLDER_MARK, last)
        return out

    # -- the workflow --------------------------------------------------------------------------

    def investigate(
        self, cmd_id: str, alert: str, *, note: str | None = None, actor: str
    ) -> CommandResult:
        """A supervisor takes the alert up: open -> investigating."""
        body = {"id": cmd_id, "alert": alert, "note": note}

        def build(uow: UnitOfWork, now: int) -> Command:
            rows = supervision_uow(uow)
            stored = _alert(rows, alert)
            state = move(alert, stored.state, AlertState.investigating)
            rows.set_alert_state(alert, state, None, now)
            rows.insert_alert_actions(
                [
                    AlertAction(
                        alert, "investigate", state, None, None, note, cmd_id, actor, now, None
                    )
                ]
            )
            return Command("alert_investigate", actor, body)

        return self._run(cmd_id, "alert_investigate", body, build)

    def close_alert(
        self, cmd_id: str, alert: str, resolution: str, *, note: str | None = None, actor: str
    ) -> CommandResult:
        """Close the alert with a resolution (`Resolution`)."""
        body = {"id": cmd_id, "alert": alert, "resolution": resolution, "note": note}

        def build(uow: UnitOfWork, now: int) -> Command:
            rows = supervision_uow(uow)
            resolved = parse_choice(Resolution, resolution, "resolution")
            stored = _alert(rows, alert)
            state = move(alert, stored.state, AlertState.closed)
            rows.set_alert_state(alert, state, resolved, now)
            rows.insert_alert_actions(
                [
                    AlertAction(
                        alert,
                        "close",
                        state,
                        None,
                        None,
                        note or resolved,
                        cmd_id,
                        actor,
                        now,
                        None,
                    )
                ]
            )
            return Command("alert_close", actor, body)

        return self._run(cmd_id, "alert_close", body, build)

    def take_measure(
        self,
        cmd_id: str,
        alert: str,
        measure: str,
        *,
        account: str | None = None,
        text: str | None = None,
        actor: str,
    ) -> CommandResult:
        """Take a measure on an alert (`Measure`) against `account`, one of the accounts the
        alert concerns (by default its only one); restricting or freezing changes the account's
        state at once. A related account the alert does not name is reached through an alert
        that names it, or by the registry operator's own operations."""
        body = {"id": cmd_id, "alert": alert, "measure": measure, "account": account, "text": text}

        def build(uow: UnitOfWork, now: int) -> Command:
            rows = supervision_uow(uow)
            kind = parse_choice(Measure, measure, "measure")
            stored = _alert(rows, alert)
            state = after_measure(alert, stored.state)
            target = account or _only_account(stored, kind)
            if target not in stored.alert.accounts:
                raise DomainError(
                    RejectCode.invalid_field,
                    f"account {target!r}: alert {alert} concerns "
                    f"{', '.join(stored.alert.accounts) or 'no account'}; a measure is taken "
                    "against an account the alert concerns",
                    field="account",
                )
            holder = self._holder(uow, target, field="account")
            change = MEASURE_STATE_CHANGE.get(kind)
            if change is not None:
                allowed_from, new_state = STATE_CHANGES[change]
                if holder.state not in allowed_from:
                    raise DomainError(
                        RejectCode.account_state_does_not_allow,
                        f"{kind} needs account {target!r} to be "
                        f"{' or '.join(sorted(allowed_from))}; it is {holder.state}",
                        field="account",
                    )
                uow.set_holder_state(target, new_state)
            rows.set_alert_state(alert, state, None, now)
            wording = text or f"{kind.replace('_', ' ')} on alert {alert}: "
            wording = wording if text else wording + stored.alert.explanation
            rows.insert_alert_actions(
                [
                    AlertAction(
                        alert, "measure", state, kind, target, wording, cmd_id, actor, now, None
                    )
                ]
            )
            return Command("alert_measure", actor, {**body, "account": target})

        return self._run(cmd_id, "alert_measure", body, build)

    # -- reads ---------------------------------------------------------------------------------

    def alerts(self, **filters: Any) -> list[StoredAlert]:
        with self.store.unit_of_work() as uow:
            return supervision_uow(uow).alerts(**filters)

    def alert(self, alert_id_: str) -> tuple[StoredAlert, list[AlertAction]] | None:
        with self.store.unit_of_work() as uow:
            rows = supervision_uow(uow)
            stored = rows.alert(alert_id_)
            if stored is None:
                return None
            return stored, rows.alert_actions(alert_id_)

    def large_holder_reports(
        self, *, holder: str | None = None, report_id: str | None = None
    ) -> list[LargeHolderReport]:
        with self.store.unit_of_work() as uow:
            return supervision_uow(uow).large_holder_reports(holder=holder, report_id=report_id)


def _alert(rows: SupervisionUnitOfWork, alert: str) -> StoredAlert:
    stored = rows.alert(alert)
    if stored is None:
        raise DomainError(RejectCode.unknown_alert, f"no alert {alert!r}", field="alert")
    return stored


def _only_account(stored: StoredAlert, kind: Measure) -> str:
    accounts = stored.alert.accounts
    if len(accounts) != 1:
        raise DomainError(
            RejectCode.invalid_field,
            f"account: alert {stored.id} concerns {', '.join(accounts) or 'no account'}; name "
            f"the account the {kind} is for",
            field="account",
        )
    return accounts[0]


def _action(alert: str, action: str, actor: str, at: int, seq: int) -> AlertAction:
    return AlertAction(alert, action, AlertState.open, None, None, None, None, actor, at, seq)


def _new_evidence(found: Alert, kept: Alert) -> bool:
    """Whether a finding names orders or trades its topic's latest alert did not."""
    return bool(set(found.orders + found.trades) - set(kept.orders + kept.trades))


def _with_alert(report: LargeHolderReport, alert: str) -> LargeHolderReport:
    return replace(report, alert=alert)


def _history_up_to(
    rows: SupervisionUnitOfWork, c: Candidate, crossing: Movement, after: int
) -> list[Any]:
    """The daily positions up to the crossing, the last `HISTORY_DAYS` days that moved."""
    older: list[Movement] = []
    for m in rows.movements(c.account_id):
        if m.ordinal <= crossing.ordinal:
            older.append(m)
        if len({x.day for x in older}) > HISTORY_DAYS:
            older.pop()
            break
    return daily_history(after, older)
