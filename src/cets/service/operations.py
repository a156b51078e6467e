"""Every registry operation by name, and the gate every request passes: role, four-eyes, run.

`OPERATIONS` maps an operation's kind to its handler, with parameters named as in the scenario
files (SCENARIOS.md); amounts of money are in fen. The API, the CLI, the scenario runner and the
approval queue all dispatch through it, so an operation parked for approval runs later exactly as
it would have run at once.

Four-eyes (DOMAIN.md, "Institutions and users"): when the policy says an operation needs a second
person, `Gate.submit` parks it as a pending request under the operation's own client id and answers
`approval_required`; `Gate.approve` by a different person allowed to perform it runs it then, as
the requester's act (the approval is its own journal entry naming the approver). A request lapses
after `Policy.approval_expiry_s`. Approving runs the operation (idempotent on its id) and then
records the decision; if the process dies in between, approving again replays the stored result
and records it, so an approval is never lost or run twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from cets.domain.compliance.allocation import PlanLine
from cets.domain.compliance.records import EmissionEntry
from cets.domain.errors import DomainError, RejectCode
from cets.domain.policy import Policy
from cets.domain.registry.access import Person, authorize
from cets.service.canonical import canonical_json
from cets.service.clock import to_us
from cets.service.ports import Approval, CommandResult, Store
from cets.service.registry import Registry

Params = Mapping[str, Any]
Operation = Callable[[Registry, str, Params, str], CommandResult]

OPERATIONS: dict[str, Operation] = {
    "issue": lambda r, i, p, a: r.issue(i, p["asset"], p["quantity"], to=p.get("to"), actor=a),
    "allocate": lambda r, i, p, a: r.allocate(i, p["to"], p["asset"], p["quantity"], actor=a),
    "true_up": lambda r, i, p, a: r.true_up(i, p["to"], p["asset"], p["quantity"], actor=a),
    "transfer": lambda r, i, p, a: r.transfer(
        i, p["from"], p["to"], p["asset"], p["quantity"], actor=a
    ),
    "cancel": lambda r, i, p, a: r.cancel(i, p["account"], p["asset"], p["quantity"], actor=a),
    "freeze": lambda r, i, p, a: r.freeze(
        i, p["account"], p["asset"], p["quantity"], p["ref"], actor=a
    ),
    "unfreeze": lambda r, i, p, a: r.unfreeze(i, p["ref"], p.get("quantity"), actor=a),
    "deduct": lambda r, i, p, a: r.deduct(i, p["ref"], p["to"], p["quantity"], actor=a),
    "pledge": lambda r, i, p, a: r.pledge(
        i, p["account"], p["pledgee"], p["asset"], p["quantity"], p["ref"], actor=a
    ),
    "release": lambda r, i, p, a: r.release(i, p["ref"], actor=a),
    "enforce": lambda r, i, p, a: r.enforce(i, p["ref"], p.get("quantity"), actor=a),
    "succeed": lambda r, i, p, a: r.succeed(i, p["account"], p["to"], actor=a),
    "restrict": lambda r, i, p, a: r.restrict(i, p["account"], actor=a),
    "unrestrict": lambda r, i, p, a: r.unrestrict(i, p["account"], actor=a),
    "close_account": lambda r, i, p, a: r.close_account(i, p["account"], actor=a),
    "freeze_account": lambda r, i, p, a: r.freeze_account(i, p["account"], actor=a),
    "unfreeze_account": lambda r, i, p, a: r.unfreeze_account(i, p["account"], actor=a),
    "begin_closure": lambda r, i, p, a: r.begin_closure(i, p["account"], actor=a),
    "deposit": lambda r, i, p, a: r.deposit(i, p["account"], p["amount"], actor=a),
    "withdraw": lambda r, i, p, a: r.withdraw(i, p["account"], p["amount"], actor=a),
}


# Operations of the venue's settlement desk (`Exchange`), gated the same way: confirming a run is
# four-eyes when configured (DOMAIN.md, "Settlement"). A confirmation is idempotent on its run.
VenueOperation = Callable[[Any, str, Params, str], CommandResult]
VENUE_OPERATIONS: dict[str, VenueOperation] = {
    "confirm_settlement": lambda x, i, p, a: x.confirm_run(
        p["run"], actor=a, accept_breaks=p.get("accept_breaks")
    ),
}


# Compliance operations (`cets.service.compliance.Compliance`), gated the same way.
ComplianceOperation = Callable[[Any, str, Params, str], CommandResult]
COMPLIANCE_OPERATIONS: dict[str, ComplianceOperation] = {
    "open_period": lambda c, i, p, a: c.open_period(
        i,
        p["first_year"],
        p.get("last_year"),
        deadline=_day(p.get("deadline")),
        cumulative=p.get("cumulative", False),
        rules=p.get("rules"),
        actor=a,
    ),
    "operation_years": lambda c, i, p, a: c.set_operation_years(
        i, p["account"], p.get("first_year"), p.get("last_year"), actor=a
    ),
    "emissions": lambda c, i, p, a: c.enter_emissions(i, [_entry(p)], actor=a),
    "import_emissions": lambda c, i, p, a: c.enter_emissions(
        i, [_entry(e) for e in p["entries"]], actor=a
    ),
    "forced_surrender": lambda c, i, p, a: c.forced_surrender(
        i, p["account"], p["asset"], p["quantity"], p["year"], actor=a
    ),
    "surrender": lambda c, i, p, a: c.surrender(
        i, p["account"], p["year"], p["asset"], p["quantity"], actor=a
    ),
    "use_offset": lambda c, i, p, a: c.decide_offset(i, p["offset"], use=True, actor=a),
    "reject_offset": lambda c, i, p, a: c.decide_offset(
        i, p["offset"], use=False, reason=p.get("reason"), actor=a
    ),
    "borrow": lambda c, i, p, a: c.borrow(i, p["account"], p["year"], p["quantity"], actor=a),
    "compliance_close": lambda c, i, p, a: c.close(i, p["year"], actor=a),
    "allocation_plan": lambda c, i, p, a: c.import_plan(
        i, [_plan_line(x) for x in p["lines"]], actor=a
    ),
    "verified_output": lambda c, i, p, a: c.record_output(
        i, p["year"], p["account"], p["line"], p["output"], actor=a
    ),
    "pre_allocate": lambda c, i, p, a: c.pre_allocate(i, p["year"], actor=a),
    "final_allocate": lambda c, i, p, a: c.final_allocate(i, p["year"], actor=a),
}


# Supervision's workflow over alerts (`cets.service.supervision.Supervision`), gated the same way.
SupervisionOperation = Callable[[Any, str, Params, str], CommandResult]
SUPERVISION_OPERATIONS: dict[str, SupervisionOperation] = {
    "investigate_alert": lambda s, i, p, a: s.investigate(
        i, p["alert"], note=p.get("note"), actor=a
    ),
    "close_alert": lambda s, i, p, a: s.close_alert(
        i, p["alert"], p["resolution"], note=p.get("note"), actor=a
    ),
    "alert_measure": lambda s, i, p, a: s.take_measure(
        i, p["alert"], p["measure"], account=p.get("account"), text=p.get("text"), actor=a
    ),
}


# Parameters arrive as values (API, CLI, scenario) or, when a parked four-eyes request is
# approved, as the JSON they were stored as: dates and decimals as text, dataclasses as mappings.


def _entry(p: Params | EmissionEntry) -> EmissionEntry:
    """An emissions entry from its parameters: `tonnes` None (or `excluded: true`) excludes the
    year."""
    if isinstance(p, EmissionEntry):
        return p
    tonnes = None if p.get("excluded") else p.get("tonnes")
    return EmissionEntry(p["account"], p["year"], tonnes, p.get("reason"))


def _day(value: date | str | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _plan_line(value: PlanLine | Params) -> PlanLine:
    if isinstance(value, PlanLine):
        return value
    return PlanLine(
        value["year"],
        value["holder"],
        value["line"],
        Decimal(value["benchmark"]),
        tuple(Decimal(f) for f in value["factors"]),
        value["previous_output"],
        value.get("verified_output"),
    )


class Gate:
    """Authorisation, four-eyes and dispatch in front of the registry.

    `check_roles=False` is for the scenario runner, which acts as whichever role a step needs
    (SCENARIOS.md); four-eyes still applies when the policy turns it on.
    """

    def __init__(
        self,
        registry: Registry,
        policy: Policy,
        *,
        check_roles: bool = True,
        venue: Any = None,
        compliance: Any = None,
        supervision: Any = None,
    ) -> None:
        self.registry = registry
        self.policy = policy
        self.check_roles = check_roles
        self.venue = venue  # the Exchange, for VENUE_OPERATIONS
        self.compliance = compliance  # the Compliance desk, for COMPLIANCE_OPERATIONS
        self.supervision = supervision  # the Supervision desk, for SUPERVISION_OPERATIONS

    def offers(self, kind: str) -> bool:
        """Whether this gate can perform `kind`."""
        return (
            kind in OPERATIONS
            or (kind in VENUE_OPERATIONS and self.venue is not None)
            or (kind in COMPLIANCE_OPERATIONS and self.compliance is not None)
            or (kind in SUPERVISION_OPERATIONS and self.supervision is not None)
        )

    def _dispatch(self, kind: str, cmd_id: str, params: Params, actor: str) -> CommandResult:
        if kind in SUPERVISION_OPERATIONS:
            assert self.supervision is not None, f"{kind} needs the gate's supervision desk"
            return SUPERVISION_OPERATIONS[kind](self.supervision, cmd_id, params, actor)
        if kind in COMPLIANCE_OPERATIONS:
            assert self.compliance is not None, f"{kind} needs the gate's compliance desk"
            return COMPLIANCE_OPERATIONS[kind](self.compliance, cmd_id, params, actor)
        if kind in VENUE_OPERATIONS:
            assert self.venue is not None, f"{kind} needs the gate's venue"
            return VENUE_OPERATIONS[kind](self.venue, cmd_id, params, actor)
        return OPERATIONS[kind](self.registry, cmd_id, params, actor)

    @property
    def store(self) -> Store:
        return self.registry.store

    def _now(self) -> int:
        return to_us(self.registry.clock.now())

    def _authorize(self, person: Person, kind: str, params: Params) -> None:
        if self.check_roles:
            authorize(person, kind, params)

    def submit(self, person: Person, kind: str, cmd_id: str, params: Params) -> CommandResult:
        """Perform `kind`, or park it for a second person when four-eyes applies."""
        if not self.offers(kind):
            return CommandResult(RejectCode.invalid_field, f"no operation {kind!r}")
        try:
            self._authorize(person, kind, params)
        except DomainError as refused:
            return CommandResult(refused.code, refused.message, field=refused.field)
        if self.policy.needs_approval(kind, dict(params)):
            parked = self._park(person, kind, cmd_id, params)
            if parked is not None:
                return parked
        else:
            taken = self._taken_by_request(kind, cmd_id, params)
            if taken is not None:
                return taken
        return self._dispatch(kind, cmd_id, params, person.id)

    def _taken_by_request(self, kind: str, cmd_id: str, params: Params) -> CommandResult | None:
        """`duplicate_id` when a four-eyes request already holds `cmd_id` for something else
        (its id is reserved for the operation it will run once approved)."""
        with self.store.unit_of_work() as uow:
            known = uow.approval(cmd_id)
        if known is None or (known.kind == kind and _same(known.params, params)):
            return None
        return CommandResult(
            RejectCode.duplicate_id,
            f"command id {cmd_id!r} is held by a {known.kind} request awaiting approval",
        )

    def _park(self, person: Person, kind: str, cmd_id: str, params: Params) -> CommandResult | None:
        """Record a pending request; None when the id already ran (the caller replays it)."""
        now = self._now()
        with self.store.unit_of_work() as uow:
            uow.lock()
            known = uow.approval(cmd_id)
            if known is None:
                if uow.command(cmd_id) is not None:
                    return None  # the id was used by a command that ran: replay or duplicate_id
                request = Approval(
                    cmd_id,
                    kind,
                    dict(params),
                    person.id,
                    now,
                    now + self.policy.approval_expiry_s * 1_000_000,
                    "pending",
                )
                uow.insert_approval(request)
                uow.journal(
                    "approval_requested", person.id, {"id": cmd_id, "kind": kind, **params}, now
                )
                uow.commit()
                return _pending(request)
        if known.kind != kind or canonical_json(dict(known.params)) != canonical_json(dict(params)):
            return CommandResult(
                RejectCode.duplicate_id,
                f"command id {cmd_id!r} was already used for a different {known.kind} request",
            )
        if known.state == "approved":
            return None
        if known.state == "pending" and now < known.expires_at:
            return _pending(known)
        return _closed(known, now)

    def approve(self, person: Person, request_id: str) -> CommandResult:
        """A second person approves: the operation runs now, as the requester's act."""
        request, refused = self._decidable(person, request_id)
        if request is None:
            return refused
        if request.state == "approved":  # a repeat by the approver: the stored result
            return self._dispatch(request.kind, request.id, request.params, request.requested_by)
        if request.requested_by == person.id:
            return CommandResult(
                RejectCode.not_authorized,
                f"{person.id!r} requested {request.id!r}; a second person must approve it",
            )
        result = self._dispatch(request.kind, request.id, request.params, request.requested_by)
        self._decide(request, "approved", person, code=result.code)
        return result

    def reject(self, person: Person, request_id: str, reason: str = "") -> CommandResult:
        """Refuse a pending request (the requester may withdraw their own)."""
        request, refused = self._decidable(person, request_id)
        if request is None:
            return refused
        if request.state == "approved":
            return _closed(request, self._now())
        self._decide(request, "rejected", person, reason=reason or None)
        return CommandResult(None)

    def _decidable(self, person: Person, request_id: str) -> tuple[Approval | None, CommandResult]:
        with self.store.unit_of_work() as uow:
            request = uow.approval(request_id)
        if request is None:
            return None, CommandResult(
                RejectCode.unknown_reference, f"no approval request {request_id!r}"
            )
        try:
            self._authorize(person, request.kind, request.params)
        except DomainError as refused:
            return None, CommandResult(refused.code, refused.message, field=refused.field)
        now = self._now()
        if request.state == "approved" and request.decided_by == person.id:
            return request, CommandResult(None)
        if request.state != "pending":
            return None, _closed(request, now)
        if now >= request.expires_at:
            self._decide(request, "expired", None)
            return None, _closed(request, now)
        return request, CommandResult(None)

    def _decide(
        self,
        request: Approval,
        state: str,
        person: Person | None,
        *,
        reason: str | None = None,
        code: RejectCode | None = None,
    ) -> None:
        now = self._now()
        by = person.id if person else None
        with self.store.unit_of_work() as uow:
            uow.lock()
            current = uow.approval(request.id)
            if current is None or current.state != "pending":
                return  # decided meanwhile (or by an earlier attempt of this same approval)
            uow.decide_approval(request.id, state, by=by, at=now, reason=reason, code=code)
            uow.journal(
                f"approval_{state}",
                by or "system",
                {"id": request.id, "kind": request.kind, "reason": reason, "code": code},
                now,
            )
            uow.commit()

    def expire_due(self) -> int:
        """Mark every pending request past its expiry as expired; how many were."""
        now = self._now()
        due = self.store.approvals(state="pending", limit=None)
        expired = [a for a in due if now >= a.expires_at]
        for request in expired:
            self._decide(request, "expired", None)
        return len(expired)


def _same(a: Params, b: Params) -> bool:
    return canonical_json(dict(a)) == canonical_json(dict(b))


def _pending(request: Approval) -> CommandResult:
    return CommandResult(
        RejectCode.approval_required,
        f"{request.kind} {request.id!r} waits for a second person's approval "
        f"(requested by {request.requested_by})",
    )


def _closed(request: Approval, now: int) -> CommandResult:
    if request.state == "expired" or (request.state == "pending" and now >= request.expires_at):
        return CommandResult(
            RejectCode.approval_expired, f"request {request.id!r} expired unapproved"
        )
    by = f" by {request.decided_by}" if request.decided_by else ""
    return CommandResult(
        RejectCode.approval_not_pending, f"request {request.id!r} was already {request.state}{by}"
    )
