"""What the service layer needs from storage (ports), and the command/result types it speaks.

A `Command` is the unit of acceptance and of journaling: its transfers form one linked chain (all
or none), and an accepted command is appended to the journal exactly once. Adapters implement
`Store` and `UnitOfWork` (SQL for SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple, Protocol

from cets.domain.errors import RejectCode
from cets.domain.journal import ChainBreak
from cets.domain.ledger.invariants import Violation
from cets.domain.ledger.model import Account, Hold, Transfer
from cets.domain.registry.access import Person
from cets.domain.registry.holders import Holder


@dataclass(frozen=True, slots=True)
class AccountKey:
    holder: str
    purpose: str
    asset: str


@dataclass(frozen=True, slots=True)
class AccountSpec:
    key: AccountKey
    flags: int


@dataclass(frozen=True, slots=True)
class Command:
    """An instruction to the ledger: journaled as `kind` by `actor` with `body` when accepted."""

    kind: str
    actor: str
    body: Mapping[str, Any]
    transfers: tuple[Transfer, ...] = ()


class CommandResult(NamedTuple):
    """What became of a command. A NamedTuple: the hot path makes one per command."""

    code: RejectCode | None
    message: str = ""
    transfers: tuple[Transfer, ...] = ()
    replayed: bool = False
    seq: int | None = None  # the journal entry, for an accepted new command
    field: str | None = None  # the parameter at fault, for a refusal about one

    @property
    def ok(self) -> bool:
        return self.code is None


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """What became of a command id: accepted as journal entry `seq`, or refused with `code`."""

    id: str
    kind: str
    body: str  # canonical JSON
    seq: int | None
    code: str | None
    message: str | None


@dataclass(frozen=True, slots=True)
class AuditReport:
    chain_break: ChainBreak | None
    violations: list[Violation] = field(default_factory=list)
    entries: int = 0

    @property
    def ok(self) -> bool:
        return self.chain_break is None and not self.violations


class UnitOfWork(Protocol):
    """One database transaction; nothing is visible to others until `commit`."""

    def lock(self) -> None: ...

    def open_holders(self, holders: Sequence[Holder], *, actor: str, now_us: int) -> None: ...

    def holder(self, holder_id: str) -> Holder | None: ...

    def set_holder_state(self, holder_id: str, state: str) -> None: ...

    def holder_accounts(self, holder_id: str) -> list[Account]: ...

    def holder_by_code(self, code: str) -> Holder | None: ...

    def account_by_id(self, account_id: int) -> Account: ...

    def open_accounts(
        self, specs: Sequence[AccountSpec], *, actor: str, now_us: int
    ) -> dict[AccountKey, Account]: ...

    def accounts(self, keys: Sequence[AccountKey]) -> dict[AccountKey, Account]: ...
    def account_of(self, key: AccountKey) -> Account | None:
        """The account, if opened: for its id and asset only (its balances may be older than
        this transaction's last command; the kernel reads balances for itself)."""
        ...

    def hold(self, hold_id: str) -> Hold | None: ...

    def command(self, command_id: str) -> CommandRecord | None: ...

    def record_command(self, record: CommandRecord, now_us: int) -> None: ...

    def transfers_of(self, seq: int) -> tuple[Transfer, ...]: ...

    def submit(self, commands: Sequence[Command], now_us: int) -> list[CommandResult]: ...

    def journal(self, kind: str, actor: str, body: Any, now_us: int) -> int: ...

    def person(self, person_id: str) -> Person | None: ...

    def insert_person(self, p: Person, now_us: int) -> None: ...

    def key(self, key_id: str) -> KeyRecord | None: ...

    def insert_key(self, record: KeyRecord) -> None: ...

    def revoke_key(self, key_id: str, now_us: int) -> None: ...

    def approval(self, approval_id: str) -> Approval | None: ...

    def insert_approval(self, a: Approval) -> None: ...

    def decide_approval(
        self,
        approval_id: str,
        state: str,
        *,
        by: str | None,
        at: int,
        reason: str | None = None,
        code: str | None = None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class Store(Protocol):
    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]: ...

    def submit_batch(self, commands: Sequence[Command], now_us: int) -> list[CommandResult]: ...

    def all_accounts(self) -> list[Account]: ...

    def holders(self) -> list[Holder]: ...

    def open_holds(self) -> list[Hold]: ...

    def transfers(self) -> Iterator[Transfer]: ...

    def audit(self) -> AuditReport: ...

    def persons(
        self, *, holder: str | None = None, after: str | None = None, limit: int | None = None
    ) -> list[Person]: ...

    def approvals(
        self, *, state: str | None = None, after: str | None = None, limit: int | None = 100
    ) -> list[Approval]: ...


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An API key as stored: never the secret, only its SHA-256."""

    id: str
    person: str
    secret_sha256: str
    created_at: int
    expires_at: int | None = None
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class Approval:
    """A four-eyes request: operation `kind` with `params`, parked until a second person decides."""

    id: str
    kind: str
    params: Mapping[str, Any]
    requested_by: str
    requested_at: int
    expires_at: int
    state: str  # pending | approved | rejected | expired
    decided_by: str | None = None
    decided_at: int | None = None
    reason: str | None = None
    code: str | None = None  # what the approved operation came to (None: accepted)


@dataclass(slots=True)
class OrderRow:
    """An order as the venue records it (accepted or rejected) and its state now."""

    id: str
    seq: int
    instrument: str
    account: str
    side: str
    mode: str
    price: int
    quantity: int
    filled: int
    cancelled: int
    status: str
    reason: str | None
    day: date
    at_us: int
    closed_us: int | None = None  # when it was cancelled or expired


@dataclass(frozen=True, slots=True)
class TradeRow:
    """A trade as made, and the journal entry that settled it once settled."""

    ordinal: int
    id: str
    instrument: str
    mode: str
    buy_order: str
    sell_order: str
    buyer: str
    seller: str
    price: int
    quantity: int
    buyer_fee: int
    seller_fee: int
    day: date
    at_us: int
    settled_seq: int | None = None
