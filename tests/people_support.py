"""The people and holders the API and browser fixtures register: a person of every role (two of
each staff role so four-eyes has a second person), key emitters E1 and E2 (E2 under controller
G1) and an individual investor I1."""

from __future__ import annotations

from cets.domain.registry.access import Role
from cets.domain.registry.holders import Holder

# person id -> (role, holder)
PEOPLE: dict[str, tuple[Role, str | None]] = {
    "auth1": (Role.authority, None),
    "auth2": (Role.authority, None),
    "reg1": (Role.registry_operator, None),
    "reg2": (Role.registry_operator, None),
    "exch1": (Role.exchange_operator, None),
    "bank1": (Role.settlement_bank, None),
    "sup1": (Role.supervisor, None),
    "e1op": (Role.key_emitter, "E1"),
    "e1op2": (Role.key_emitter, "E1"),
    "e2op": (Role.key_emitter, "E2"),
    "i1op": (Role.investor, "I1"),
}
HOLDERS = (
    Holder("E1", "key_emitter", "Wuhan Power No.1", code="91420100MA4K00001A"),
    Holder("E2", "key_emitter", "Xiangyang Thermal", controller="G1"),
    Holder("I1", "individual", "Zhang San"),
)
