"""People and API keys, four-eyes approvals, the journal and the audit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from cets.domain.errors import DomainError
from cets.domain.registry.access import OPERATOR_PERMISSIONS, Person, authorize
from cets.entrypoints.api import schemas as s
from cets.entrypoints.api.deps import Caller, Svc, allow, from_domain, refused
from cets.entrypoints.api.errors import ApiError, responses
from cets.entrypoints.api.routes.registry import operation_out
from cets.service.clock import SHANGHAI, from_us, to_us
from cets.service.ports import Approval, KeyRecord

router = APIRouter(prefix="/v1", tags=["access"])

IdPath = Annotated[str, Path(max_length=100, pattern=s.ID_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def _iso(us: int | None) -> str | None:
    return None if us is None else from_us(us).isoformat()


def _person_out(p: Person) -> s.PersonOut:
    return s.PersonOut(
        id=p.id,
        name=p.name,
        role=p.role,
        holder=p.holder,
        permissions=sorted(p.permissions),
        active=p.active,
    )


def _key_out(k: KeyRecord) -> s.KeyOut:
    return s.KeyOut(
        id=k.id,
        person=k.person,
        created_at=from_us(k.created_at).isoformat(),
        expires_at=_iso(k.expires_at),
        revoked_at=_iso(k.revoked_at),
    )


@router.get("/me", response_model=s.PersonOut, responses=responses(401), summary="Who am I")
def me(person: Caller) -> s.PersonOut:
    return _person_out(person)


@router.post(
    "/persons",
    status_code=201,
    response_model=s.PersonOut,
    responses=responses(401, 403, 409, 422),
    summary="Register a person (staff, or an operator of a holder's accounts)",
)
def add_person(body: s.PersonIn, svc: Svc, person: Caller) -> s.PersonOut:
    allow(person, "manage_people")
    permissions = (
        frozenset(body.permissions) if body.permissions is not None else OPERATOR_PERMISSIONS
    )
    new = Person(body.id, body.name, body.role, body.holder, permissions)
    try:
        return _person_out(svc.people.add(new, actor=person.id))
    except DomainError as exc:
        raise from_domain(exc) from exc


@router.get(
    "/persons",
    response_model=s.Page[s.PersonOut],
    responses=responses(401, 403, 422),
    summary="People in id order, optionally those operating one holder",
)
def list_persons(
    svc: Svc,
    person: Caller,
    holder: Annotated[str | None, Query(max_length=64, pattern=s.HOLDER_PATTERN)] = None,
    after: Annotated[str | None, Query(max_length=64, pattern=s.HOLDER_PATTERN)] = None,
    limit: Limit = 100,
) -> s.Page[s.PersonOut]:
    allow(person, "manage_people")
    page = svc.store.persons(holder=holder, after=after, limit=limit)
    return s.Page[s.PersonOut](
        items=[_person_out(p) for p in page],
        next=page[-1].id if len(page) == limit else None,
    )


@router.post(
    "/persons/{person_id}/keys",
    status_code=201,
    response_model=s.IssuedKeyOut,
    responses=responses(401, 403, 422),
    summary="Issue an API key (the secret is shown once)",
)
def issue_key(person_id: IdPath, body: s.KeyIn, svc: Svc, person: Caller) -> s.IssuedKeyOut:
    allow(person, "manage_people")
    expires = None
    if body.expires_at is not None:
        try:
            local = datetime.fromisoformat(body.expires_at).replace(tzinfo=SHANGHAI)
        except ValueError as exc:
            raise ApiError("invalid_field", str(exc), field="expires_at") from exc
        expires = to_us(local)
    try:
        issued = svc.people.issue_key(person_id, actor=person.id, expires_at=expires)
    except DomainError as exc:
        raise from_domain(exc) from exc
    return s.IssuedKeyOut(
        id=issued.id, person=issued.person, key=issued.token, expires_at=_iso(issued.expires_at)
    )


@router.get(
    "/persons/{person_id}/keys",
    response_model=list[s.KeyOut],
    responses=responses(401, 403, 422),
    summary="A person's keys (never their secrets)",
)
def list_keys(person_id: IdPath, svc: Svc, person: Caller) -> list[s.KeyOut]:
    allow(person, "manage_people")
    return [_key_out(k) for k in svc.store.keys_of(person_id)]


@router.delete(
    "/keys/{key_id}",
    response_model=s.KeyOut,
    responses=responses(401, 403, 422),
    summary="Revoke an API key",
)
def revoke_key(key_id: IdPath, svc: Svc, person: Caller) -> s.KeyOut:
    allow(person, "manage_people")
    try:
        return _key_out(svc.people.revoke_key(key_id, actor=person.id))
    except DomainError as exc:
        raise from_domain(exc) from exc


def _may_see(person: Person, request: Approval) -> bool:
    if request.requested_by == person.id:
        return True
    try:
        authorize(person, request.kind, request.params)
    except DomainError:
        return False
    return True


def _approval_out(a: Approval, now: int) -> s.ApprovalOut:
    state = "expired" if a.state == "pending" and now >= a.expires_at else a.state
    return s.ApprovalOut(
        id=a.id,
        kind=a.kind,
        params=dict(a.params),
        requested_by=a.requested_by,
        requested_at=from_us(a.requested_at).isoformat(),
        expires_at=from_us(a.expires_at).isoformat(),
        state=state,
        decided_by=a.decided_by,
        decided_at=_iso(a.decided_at),
        reason=a.reason,
        code=a.code,
    )


@router.get(
    "/approvals",
    response_model=s.Page[s.ApprovalOut],
    responses=responses(401, 422),
    summary="Four-eyes requests you made or may decide",
)
def list_approvals(
    svc: Svc,
    person: Caller,
    state: Literal["pending", "approved", "rejected", "expired"] | None = None,
    after: Annotated[str | None, Query(max_length=100, pattern=s.ID_PATTERN)] = None,
    limit: Limit = 100,
) -> s.Page[s.ApprovalOut]:
    now = to_us(svc.clock.now())
    page = svc.store.approvals(state=state, after=after, limit=limit)
    return s.Page[s.ApprovalOut](
        items=[_approval_out(a, now) for a in page if _may_see(person, a)],
        next=page[-1].id if len(page) == limit else None,
    )


@router.post(
    "/approvals/{approval_id}/approve",
    response_model=s.OperationOut,
    responses={201: {"model": s.OperationOut}, **responses(401, 403, 409, 422)},
    summary="Approve a request as the second person: the operation runs now",
)
def approve(approval_id: IdPath, response: Response, svc: Svc, person: Caller) -> s.OperationOut:
    return operation_out(approval_id, svc.gate.approve(person, approval_id), response)


@router.post(
    "/approvals/{approval_id}/reject",
    response_model=s.ApprovalOut,
    responses=responses(401, 403, 409, 422),
    summary="Reject a request (the requester may withdraw their own)",
)
def reject(approval_id: IdPath, body: s.RejectIn, svc: Svc, person: Caller) -> s.ApprovalOut:
    result = svc.gate.reject(person, approval_id, body.reason)
    if not result.ok:
        raise refused(result)
    decided = svc.store.approval(approval_id)
    assert decided is not None
    return _approval_out(decided, to_us(svc.clock.now()))


@router.get(
    "/journal",
    response_model=s.Page[s.JournalEntryOut],
    responses=responses(401, 403, 422),
    summary="The journal: who did what, when, chained by hash",
)
def journal(
    svc: Svc,
    person: Caller,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Limit = 100,
    tail: Annotated[
        bool, Query(description="The last `limit` entries (oldest first); `after` is ignored")
    ] = False,
) -> s.Page[s.JournalEntryOut]:
    allow(person, "read_registry")
    if tail:  # the chain is gapless: the last `limit` entries follow seq head - limit
        after = max(0, svc.store.journal_last_seq() - limit)
    page = svc.store.journal_page(after=after, limit=limit)
    return s.Page[s.JournalEntryOut](
        items=[
            s.JournalEntryOut(
                seq=e.seq,
                at=from_us(e.at_us).isoformat(),
                kind=e.kind,
                actor=e.actor,
                body=e.body,
                hash=e.hash,
            )
            for e in page
        ],
        next=str(page[-1].seq) if len(page) == limit else None,
    )


@router.get(
    "/audit",
    response_model=s.AuditOut,
    responses=responses(401, 403),
    summary="Re-check the journal chain and every ledger invariant now",
)
def run_audit(svc: Svc, person: Caller) -> s.AuditOut:
    allow(person, "read_registry")
    report = svc.store.audit()
    return s.AuditOut(
        ok=report.ok,
        entries=report.entries,
        chain_break=None if report.chain_break is None else str(report.chain_break),
        violations=[v.as_dict() for v in report.violations],
    )
