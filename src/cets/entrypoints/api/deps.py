"""What every route depends on: the services, and the person the API key belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyHeader

from cets.adapters.sql.store import SqlStore
from cets.domain.errors import DomainError, RejectCode
from cets.domain.policy import Policy
from cets.domain.registry.access import Person, authorize
from cets.domain.trading.calendar import TradingCalendar
from cets.domain.units import AmountError, format_fen, parse_fen
from cets.entrypoints.api import schemas as s
from cets.entrypoints.api.errors import ApiError
from cets.service.clock import Clock
from cets.service.compliance import Compliance
from cets.service.exchange import Exchange
from cets.service.funds import Funds
from cets.service.operations import Gate
from cets.service.people import AuthenticationError, People
from cets.service.ports import CommandResult, OrderRow
from cets.service.registry import Registry
from cets.service.supervision import Supervision


@dataclass(frozen=True, slots=True)
class Services:
    store: SqlStore
    clock: Clock
    policy: Policy
    registry: Registry
    gate: Gate
    people: People
    exchange: Exchange
    funds: Funds
    compliance: Compliance
    supervision: Supervision

    @classmethod
    def build(cls, store: SqlStore, clock: Clock, policy: Policy) -> Services:
        calendar = TradingCalendar.from_policy(policy)
        registry = Registry(store, clock, calendar=calendar)
        exchange = Exchange(store, clock, policy)
        compliance = Compliance(store, clock, policy)
        supervision = Supervision(store, clock, policy)
        gate = Gate(
            registry, policy, venue=exchange, compliance=compliance, supervision=supervision
        )
        return cls(
            store,
            clock,
            policy,
            registry,
            gate,
            People(store, clock),
            exchange,
            Funds(store, clock, calendar=calendar),
            compliance,
            supervision,
        )


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="cets_<id>_<secret>")


def current_person(
    svc: Annotated[Services, Depends(services)],
    token: Annotated[str | None, Security(_api_key)],
) -> Person:
    try:
        return svc.people.authenticate(token)
    except AuthenticationError as exc:
        raise ApiError("not_authenticated", str(exc)) from exc


Svc = Annotated[Services, Depends(services)]
Caller = Annotated[Person, Depends(current_person)]


def allow(person: Person, kind: str, params: Mapping[str, Any] | None = None) -> None:
    """403 `not_authorized` unless `person` may do `kind` (see `domain.registry.access`)."""
    try:
        authorize(person, kind, params or {})
    except DomainError as refused:
        raise ApiError(refused.code, refused.message, field=refused.field) from refused


def refused(result: CommandResult) -> ApiError:
    assert result.code is not None
    return ApiError(result.code, result.message, field=result.field)


def fen(text: str, field: str) -> int:
    """A price or amount of the body ("60.50") in fen; anything else is invalid_field."""
    try:
        return parse_fen(text, field=field)
    except AmountError as exc:
        raise ApiError(RejectCode.invalid_field, str(exc), field=field) from exc


def order_out(o: OrderRow) -> s.OrderOut:
    """An order as every venue route shows it."""
    return s.OrderOut(
        id=o.id,
        account=o.account,
        instrument=o.instrument,
        side=o.side,
        mode=o.mode,
        price=format_fen(o.price),
        quantity=o.quantity,
        filled=o.filled,
        remaining=o.quantity - o.filled - o.cancelled,
        status=o.status,
        reason=o.reason,
    )


def created(result: CommandResult, response: Response) -> None:
    """Answer a write: its refusal as problem+json, else 201 (made now) or 200 (a replay of the
    same client id and body)."""
    if not result.ok:
        raise refused(result)
    response.status_code = 200 if result.replayed else 201


def from_domain(exc: DomainError) -> ApiError:
    return ApiError(exc.code, exc.message, field=exc.field)
