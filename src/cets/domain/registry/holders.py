"""Holders (subjects): the people, organisations and system parties that own accounts.

Invariants: a holder id is unique; a closed holder can do nothing (enforced by the registry's
handlers); the system holders below always exist in a CETS database.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HolderKind(StrEnum):
    key_emitter = "key_emitter"
    institution = "institution"
    individual = "individual"
    authority = "authority"
    registry_operator = "registry_operator"
    exchange_operator = "exchange_operator"
    settlement_bank = "settlement_bank"
    supervisor = "supervisor"
    system = "system"


class HolderState(StrEnum):
    normal = "normal"
    restricted = "restricted"
    frozen = "frozen"
    closure_pending = "closure_pending"
    closed = "closed"


# The parties every database starts with: the competent authority (issuance, reserve), the
# registry's own custody accounts, the exchange (fees, settlement in transit) and the default
# settlement bank (the outside side of deposits and withdrawals).
AUTHORITY = "authority"
REGISTRY = "registry"
EXCHANGE = "exchange"
BANK = "bank"


@dataclass(frozen=True, slots=True)
class Holder:
    id: str
    kind: str
    name: str
    controller: str | None = None
    state: str = HolderState.normal
    code: str | None = None  # unified social credit code or ID number; unique when given


SYSTEM_HOLDERS = (
    Holder(AUTHORITY, HolderKind.authority, "Competent authority (MEE)"),
    Holder(REGISTRY, HolderKind.registry_operator, "National registry"),
    Holder(EXCHANGE, HolderKind.exchange_operator, "National carbon exchange"),
    Holder(BANK, HolderKind.settlement_bank, "Settlement bank"),
)
