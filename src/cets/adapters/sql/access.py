"""Rows for people, API keys and four-eyes approvals (see `tables` for what each holds).

`AccessRows` is mixed into the unit of work: these writes share the command's transaction and
are journaled by the service. The read functions take a connection and lock nothing.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select, update

from cets.adapters.sql import tables as t
from cets.domain.registry.access import Person
from cets.service.canonical import canonical_json
from cets.service.ports import Approval, KeyRecord


def _person(row: Any) -> Person:
    return Person(
        row.id,
        row.name,
        row.role,
        row.holder,
        frozenset(row.permissions.split()),
        bool(row.active),
    )


def _approval(row: Any) -> Approval:
    return Approval(
        row.id,
        row.kind,
        orjson.loads(row.params),
        row.requested_by,
        row.requested_at,
        row.expires_at,
        row.state,
        row.decided_by,
        row.decided_at,
        row.reason,
        row.code,
    )


def person(conn: Connection, person_id: str) -> Person | None:
    row = conn.execute(select(t.persons).where(t.persons.c.id == person_id)).first()
    return None if row is None else _person(row)


def persons(
    conn: Connection,
    *,
    holder: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[Person]:
    """People in id order, from just after `after` (keyset pagination)."""
    stmt = select(t.persons).order_by(t.persons.c.id).limit(limit)
    if holder is not None:
        stmt = stmt.where(t.persons.c.holder == holder)
    if after is not None:
        stmt = stmt.where(t.persons.c.id > after)
    return [_person(r) for r in conn.execute(stmt)]


def key(conn: Connection, key_id: str) -> KeyRecord | None:
    row = conn.execute(select(t.api_keys).where(t.api_keys.c.id == key_id)).first()
    if row is None:
        return None
    return KeyRecord(
        row.id, row.person, row.secret_sha256, row.created_at, row.expires_at, row.revoked_at
    )


def keys_of(conn: Connection, person_id: str) -> list[KeyRecord]:
    rows = conn.execute(
        select(t.api_keys).where(t.api_keys.c.person == person_id).order_by(t.api_keys.c.id)
    )
    return [
        KeyRecord(r.id, r.person, r.secret_sha256, r.created_at, r.expires_at, r.revoked_at)
        for r in rows
    ]


def approval(conn: Connection, approval_id: str) -> Approval | None:
    row = conn.execute(select(t.approvals).where(t.approvals.c.id == approval_id)).first()
    return None if row is None else _approval(row)


def approvals(
    conn: Connection,
    *,
    state: str | None = None,
    after: str | None = None,
    limit: int | None = 100,
) -> list[Approval]:
    """Requests in id order, from just after `after` (keyset pagination)."""
    stmt = select(t.approvals).order_by(t.approvals.c.id).limit(limit)
    if state is not None:
        stmt = stmt.where(t.approvals.c.state == state)
    if after is not None:
        stmt = stmt.where(t.approvals.c.id > after)
    return [_approval(r) for r in conn.execute(stmt)]


class AccessRows:
    """Writes of people, keys and approvals inside the unit of work's transaction."""

    conn: Connection

    def person(self, person_id: str) -> Person | None:
        return person(self.conn, person_id)

    def insert_person(self, p: Person, now_us: int) -> None:
        self.conn.execute(
            t.persons.insert().values(
                id=p.id,
                name=p.name,
                role=p.role,
                holder=p.holder,
                permissions=" ".join(sorted(p.permissions)),
                active=int(p.active),
                created_at=now_us,
            )
        )

    def key(self, key_id: str) -> KeyRecord | None:
        return key(self.conn, key_id)

    def insert_key(self, record: KeyRecord) -> None:
        self.conn.execute(
            t.api_keys.insert().values(
                id=record.id,
                person=record.person,
                secret_sha256=record.secret_sha256,
                created_at=record.created_at,
                expires_at=record.expires_at,
                revoked_at=record.revoked_at,
            )
        )

    def revoke_key(self, key_id: str, now_us: int) -> None:
        self.conn.execute(
            update(t.api_keys).where(t.api_keys.c.id == key_id).values(revoked_at=now_us)
        )

    def approval(self, approval_id: str) -> Approval | None:
        return approval(self.conn, approval_id)

    def insert_approval(self, a: Approval) -> None:
        self.conn.execute(
            t.approvals.insert().values(
                id=a.id,
                kind=a.kind,
                params=canonical_json(dict(a.params)),
                requested_by=a.requested_by,
                requested_at=a.requested_at,
                expires_at=a.expires_at,
                state=a.state,
            )
        )

    def decide_approval(
        self,
        approval_id: str,
        state: str,
        *,
        by: str | None,
        at: int,
        reason: str | None = None,
        code: str | None = None,
    ) -> None:
        self.conn.execute(
            update(t.approvals)
            .where(t.approvals.c.id == approval_id)
            .values(state=state, decided_by=by, decided_at=at, reason=reason, code=code)
        )
