"""People and their API keys: registration, key issue and revocation, authentication.

A key reads `cets_<key id>_<secret>`. Only the SHA-256 of the secret is stored; the secret is 256
random bits, so a fast hash is enough (nothing to brute-force), and it is compared in constant
time. A key authenticates its person while it is neither revoked nor expired and the person is
active. Creating a person, issuing and revoking a key are journaled with the acting person (never
the secret), so the journal shows who gave whom access.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from cets.domain.errors import DomainError, RejectCode
from cets.domain.registry.access import (
    HOLDER_ROLES,
    OPERATOR_PERMISSIONS,
    ROLE_HOLDER_KINDS,
    Person,
    Role,
)
from cets.service.clock import Clock, to_us
from cets.service.ports import KeyRecord, Store

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}")
_TOKEN = re.compile(r"cets_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


class AuthenticationError(Exception):
    """The key is missing, malformed, unknown, revoked or expired (HTTP 401)."""


@dataclass(frozen=True, slots=True)
class IssuedKey:
    id: str
    person: str
    token: str  # shown once; only its hash is kept
    expires_at: int | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class People:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def add(self, person: Person, *, actor: str) -> Person:
        """Register a person; DomainError naming the field when something is wrong."""
        _check(person)
        now = to_us(self.clock.now())
        with self.store.unit_of_work() as uow:
            uow.lock()
            existing = uow.person(person.id)
            if existing is not None:
                if existing == person:
                    return existing
                raise DomainError(
                    RejectCode.duplicate_id, f"person {person.id!r} already exists", field="id"
                )
            if person.holder is not None:
                holder = uow.holder(person.holder)
                if holder is None:
                    raise DomainError(
                        RejectCode.unknown_account,
                        f"no account holder {person.holder!r}",
                        field="holder",
                    )
                kinds = ROLE_HOLDER_KINDS[Role(person.role)]
                if holder.kind not in kinds:
                    raise DomainError(
                        RejectCode.invalid_field,
                        f"role {person.role} operates {' or '.join(sorted(kinds))} holders; "
                        f"{holder.id!r} is a {holder.kind}",
                        field="role",
                    )
            uow.insert_person(person, now)
            uow.journal(
                "add_person",
                actor,
                {
                    "id": person.id,
                    "name": person.name,
                    "role": person.role,
                    "holder": person.holder,
                    "permissions": sorted(person.permissions),
                },
                now,
            )
            uow.commit()
        return person

    def first_key(self, person_id: str = "admin") -> IssuedKey | None:
        """On a database with nobody in it: the first authority person and a key for them.
        None when people already exist (keys are then issued by someone who has one)."""
        if self.store.persons(limit=1):
            return None
        self.add(Person(person_id, "First administrator", Role.authority), actor="system")
        return self.issue_key(person_id, actor="system")

    def issue_key(self, person_id: str, *, actor: str, expires_at: int | None = None) -> IssuedKey:
        now = to_us(self.clock.now())
        if expires_at is not None and expires_at <= now:
            raise DomainError(
                RejectCode.invalid_field, "expires_at is in the past", field="expires_at"
            )
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with self.store.unit_of_work() as uow:
            uow.lock()
            if uow.person(person_id) is None:
                raise DomainError(
                    RejectCode.unknown_reference, f"no person {person_id!r}", field="person"
                )
            uow.insert_key(KeyRecord(key_id, person_id, _digest(secret), now, expires_at))
            uow.journal(
                "issue_key",
                actor,
                {"key": key_id, "person": person_id, "expires_at": expires_at},
                now,
            )
            uow.commit()
        return IssuedKey(key_id, person_id, f"cets_{key_id}_{secret}", expires_at)

    def revoke_key(self, key_id: str, *, actor: str) -> KeyRecord:
        now = to_us(self.clock.now())
        with self.store.unit_of_work() as uow:
            uow.lock()
            record = uow.key(key_id)
            if record is None:
                raise DomainError(
                    RejectCode.unknown_reference, f"no API key {key_id!r}", field="key"
                )
            if record.revoked_at is None:
                uow.revoke_key(key_id, now)
                uow.journal("revoke_key", actor, {"key": key_id, "person": record.person}, now)
                uow.commit()
            return uow.key(key_id) or record

    def authenticate(self, token: str | None) -> Person:
        """The person a key belongs to; AuthenticationError with the reason otherwise."""
        if not token:
            raise AuthenticationError("an API key is required (header X-API-Key)")
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise AuthenticationError("the API key is malformed")
        key_id, secret = match.groups()
        with self.store.unit_of_work() as uow:
            record = uow.key(key_id)
            person = uow.person(record.person) if record else None
        if record is None or person is None:
            raise AuthenticationError("the API key is not known")
        if not hmac.compare_digest(record.secret_sha256, _digest(secret)):
            raise AuthenticationError("the API key is not known")
        if record.revoked_at is not None:
            raise AuthenticationError(f"the API key {key_id} was revoked")
        if record.expires_at is not None and to_us(self.clock.now()) >= record.expires_at:
            raise AuthenticationError(f"the API key {key_id} has expired")
        if not person.active:
            raise AuthenticationError(f"person {person.id} is deactivated")
        return person


def _check(person: Person) -> None:
    if not _ID.fullmatch(person.id):
        raise DomainError(
            RejectCode.invalid_field,
            f"id {person.id!r}: 1-64 letters, digits or _.:@- starting with a letter or digit",
            field="id",
        )
    if not person.name.strip():
        raise DomainError(RejectCode.invalid_field, "name must not be empty", field="name")
    if person.role not in Role.__members__:
        raise DomainError(
            RejectCode.invalid_field,
            f"role {person.role!r} is not one of {', '.join(Role)}",
            field="role",
        )
    holder_role = Role(person.role) in HOLDER_ROLES
    if holder_role and person.holder is None:
        raise DomainError(
            RejectCode.invalid_field,
            f"role {person.role} acts for a holder: holder is required",
            field="holder",
        )
    # Staff act for no holder, except a settlement bank's, who may name their bank.
    if not holder_role and person.holder is not None and person.role != Role.settlement_bank:
        raise DomainError(
            RejectCode.invalid_field,
            f"role {person.role} is staff and acts for no holder",
            field="holder",
        )
    unknown = person.permissions - OPERATOR_PERMISSIONS
    if unknown:
        raise DomainError(
            RejectCode.invalid_field,
            f"permission {sorted(unknown)[0]!r} is not one of "
            f"{', '.join(sorted(OPERATOR_PERMISSIONS))}",
            field="permissions",
        )
