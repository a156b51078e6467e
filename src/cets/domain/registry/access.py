"""Who may do what: roles, the people who act, and the rule for every operation (DOMAIN.md,
"Institutions and users").

Every action is taken by a `Person`, who has exactly one `Role`. Holder roles (key emitters and
investors) act only for their own holder (`Person.holder`) and only with the operator permissions
they were given (an account may have several operators, each with their own permissions). The
staff roles act on any holder, within their role's operations.

Choices where DOMAIN.md is silent (written down here so they are found):
- pledges are registered, released and enforced by the registry operator (the pledge contract
  is signed outside the registry; the operator records it);
- restrict / unrestrict may be done by the registry operator or a supervisor (a risk measure);
- alerts, scans, measures on alerts and large-holder reports are the supervisor's only: not
  even the authority or the registry operator reads them (a supervisor reports to the
  authority through the `report_to_authority` measure). A measure restricts or freezes an
  account the alert names (DOMAIN.md lists freezing among supervision's measures), which the
  supervisor may not do outside an alert (`freeze_account` stays the registry operator's);
- people and API keys are created and revoked by the authority or the registry operator;
- reading a holder's statements: the holder's own operators with `read`, the authority, the
  registry operator and supervisors; the exchange operator and settlement banks cannot (the
  exchange operator does see orders);
- the day's end (expiry, settlement, the close) may be run by the exchange operator or the
  registry operator (who runs settlement); listing instruments and halts are the exchange
  operator's;
- one-way auctions: the exchange operator announces and closes them; an auction of the
  authority's reserve (a primary auction: the state's allowances for sale) is announced by the
  authority itself, not by the exchange alone, and closed by the exchange operator like any
  other; bids are a holder's trading (`trade` on its own account). An auction's announcement
  and results are read by staff (the exchange operator included) and by holders' operators with
  `read`, who see only their own holder's bids;
- a settlement bank's staff person names their bank as `holder` (none: the default bank); a
  bank acts on the fund accounts at it only (`wrong_settlement_bank`, checked by the service,
  which knows where each fund account is);
- a four-eyes approver must satisfy the same rule as the requester (for a holder's large
  transfer: another operator of the same holder with `transfer`) and be a different person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cets.domain.errors import DomainError, RejectCode


class Role(StrEnum):
    authority = "authority"
    registry_operator = "registry_operator"
    exchange_operator = "exchange_operator"
    key_emitter = "key_emitter"
    investor = "investor"
    settlement_bank = "settlement_bank"
    supervisor = "supervisor"


HOLDER_ROLES = frozenset({Role.key_emitter, Role.investor})
# What an operator of a holder's account may be allowed to do.
OPERATOR_PERMISSIONS = frozenset({"read", "transfer", "cancel", "trade", "surrender"})
# Holder kinds each holder role may operate for.
ROLE_HOLDER_KINDS: dict[Role, frozenset[str]] = {
    Role.key_emitter: frozenset({"key_emitter"}),
    Role.investor: frozenset({"institution", "individual"}),
    # A settlement bank's staff may name their bank (no holder: the default bank `bank`).
    Role.settlement_bank: frozenset({"settlement_bank"}),
}


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who acts: staff of an institution, or an operator of a holder's accounts."""

    id: str
    name: str
    role: str
    holder: str | None = None
    permissions: frozenset[str] = field(default_factory=lambda: OPERATOR_PERMISSIONS)
    active: bool = True


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may perform an operation: staff `roles`, and holder roles on their own account."""

    staff: frozenset[Role] = frozenset()
    own: str | None = None  # the parameter naming the account a holder role must own
    permission: str | None = None  # the operator permission a holder role needs


def _staff(*roles: Role) -> Rule:
    return Rule(frozenset(roles))


_AUTHORITY = _staff(Role.authority)
_REGISTRY = _staff(Role.registry_operator)
_READERS = frozenset({Role.authority, Role.registry_operator, Role.supervisor})

RULES: dict[str, Rule] = {
    "open_holder": _REGISTRY,
    "issue": _AUTHORITY,
    "allocate": _AUTHORITY,
    "true_up": _AUTHORITY,
    "forced_surrender": _AUTHORITY,
    # Compliance: the authority runs periods, plans, allocations, emissions, offsets and closes;
    # an entity surrenders from its own account (operator permission `surrender`); staff read
    # every status, an entity its own.
    "open_period": _AUTHORITY,
    "operation_years": _AUTHORITY,
    "emissions": _AUTHORITY,
    "import_emissions": _AUTHORITY,
    "allocation_plan": _AUTHORITY,
    "verified_output": _AUTHORITY,
    "pre_allocate": _AUTHORITY,
    "final_allocate": _AUTHORITY,
    "use_offset": _AUTHORITY,
    "reject_offset": _AUTHORITY,
    "borrow": _AUTHORITY,
    "compliance_close": _AUTHORITY,
    "surrender": Rule(own="account", permission="surrender"),
    "read_compliance": Rule(_READERS, own="account", permission="read"),
    "transfer": Rule(own="from", permission="transfer"),
    "cancel": Rule(own="account", permission="cancel"),
    "freeze": _REGISTRY,
    "unfreeze": _REGISTRY,
    "deduct": _REGISTRY,
    "pledge": _REGISTRY,
    "release": _REGISTRY,
    "enforce": _REGISTRY,
    "restrict": _staff(Role.registry_operator, Role.supervisor),
    "unrestrict": _staff(Role.registry_operator, Role.supervisor),
    "close_account": _REGISTRY,
    "freeze_account": _REGISTRY,
    "unfreeze_account": _REGISTRY,
    "begin_closure": _REGISTRY,
    "succeed": _REGISTRY,
    "deposit": _staff(Role.settlement_bank),
    "withdraw": _staff(Role.settlement_bank),
    # Funds at settlement banks: the registry binds a holder's fund account to its bank; a
    # holder's operators (`transfer`) or the registry ask for a withdrawal; the bank reports it
    # paid or rejected and sends its statements; staff and banks read the requests (a bank its
    # own: the routes keep it to its bank).
    "open_fund_account": _REGISTRY,
    "request_withdrawal": Rule(frozenset({Role.registry_operator}), "account", "transfer"),
    "settle_withdrawal": _staff(Role.settlement_bank),
    "import_bank_statement": _staff(Role.settlement_bank),
    "read_withdrawals": Rule(_READERS | {Role.settlement_bank}),
    "manage_people": _staff(Role.authority, Role.registry_operator),
    # The venue: holders trade their own accounts; the exchange operator runs the market.
    "trade": Rule(own="account", permission="trade"),
    "read_orders": Rule(_READERS | {Role.exchange_operator}, own="account", permission="read"),
    "run_market": _staff(Role.exchange_operator),
    "close_day": _staff(Role.exchange_operator, Role.registry_operator),
    "open_auction": _staff(Role.exchange_operator),
    "open_reserve_auction": _AUTHORITY,
    "close_auction": _staff(Role.exchange_operator),
    "read_auctions": Rule(_READERS | {Role.exchange_operator}, own="holder", permission="read"),
    # Settlement runs: the registry operator confirms (four-eyes when configured), delivers and
    # corrects; a party objects for its own account; staff read runs and reconciliation, a holder
    # its own account's report.
    "confirm_settlement": _REGISTRY,
    "deliver_settlement": _REGISTRY,
    "correct_settlement": _REGISTRY,
    "object_to_settlement": Rule(frozenset({Role.registry_operator}), "account", "trade"),
    "read_settlement": Rule(_READERS | {Role.exchange_operator, Role.settlement_bank}),
    "read_settlement_account": Rule(
        _READERS | {Role.exchange_operator, Role.settlement_bank}, "account", "read"
    ),
    "read_holder": Rule(_READERS, own="holder", permission="read"),
    "read_registry": Rule(_READERS),
    # Supervision (issue 7): alerts, scans, measures and large-holder reports are the
    # supervisor's alone; a measure that restricts or freezes an account is taken through them.
    "supervision_scan": _staff(Role.supervisor),
    "investigate_alert": _staff(Role.supervisor),
    "close_alert": _staff(Role.supervisor),
    "alert_measure": _staff(Role.supervisor),
    "read_alerts": _staff(Role.supervisor),
}


def authorize(person: Person, kind: str, params: Mapping[str, Any]) -> None:
    """Raise `not_authorized` unless `person` may perform `kind` with `params`."""
    rule = RULES.get(kind)
    assert rule is not None, f"no access rule for operation {kind!r}"
    if not person.active:
        raise DomainError(RejectCode.not_authorized, f"person {person.id!r} is deactivated")
    if person.role in rule.staff:
        return
    if person.role in HOLDER_ROLES and rule.own is not None:
        account = params.get(rule.own)
        if person.holder is None or account != person.holder:
            raise DomainError(
                RejectCode.not_authorized,
                f"{person.id!r} acts for {person.holder!r} only, not for {account!r}",
                field=rule.own,
            )
        if rule.permission is not None and rule.permission not in person.permissions:
            raise DomainError(
                RejectCode.not_authorized,
                f"{person.id!r} lacks the operator permission {rule.permission!r}",
            )
        return
    raise DomainError(RejectCode.not_authorized, f"role {person.role!r} may not perform {kind!r}")
