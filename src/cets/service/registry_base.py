"""The registry's plumbing: one unit of work per command, idempotent on the command's client id.

The command's client id is its idempotency key (and the id of its transfer): repeating a command
with the same id and body returns the stored result, refusals included, so a client that retries
after a lost answer always learns what happened the first time; the same id with a different body
is `duplicate_id`. (The ledger kernel below keeps TigerBeetle's rule instead: a refused transfer
id is not remembered and may be used again.) The id is checked under the writers' lock, so
concurrent repeats get one execution and one answer.

Holder states (DOMAIN.md, "Accounts") and exactly what each blocks:
- normal: nothing;
- restricted (a registry or supervisory measure) and frozen (a judicial freeze of the whole
  account): the holder cannot move units or money out (transfer, cancel, pledge, withdraw:
  `account_restricted`); units can still reach it, and the authorities can still act on it
  (unit freezes, judicial deduction, forced surrender, true-up);
- closure pending: nothing more may come in (`account_restricted`), so that it can be emptied and
  closed; moving out is allowed;
- closed: nothing at all (`account_closed`), for good.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import (
    Account,
    AccountFlags,
    Hold,
    Purpose,
    Transfer,
    TransferFlags,
    default_flags,
)
from cets.domain.registry.holders import Holder, HolderKind, HolderState
from cets.domain.units import CASH, AssetError, is_unit, parse_asset
from cets.service.canonical import canonical_json
from cets.service.clock import Clock, to_us
from cets.service.ports import (
    AccountKey,
    AccountSpec,
    Command,
    CommandRecord,
    CommandResult,
    Store,
    UnitOfWork,
)

LIMITED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
# Holder kinds that trade and so get a fund account when they are opened.
TRADING_KINDS = frozenset({HolderKind.key_emitter, HolderKind.institution, HolderKind.individual})


def freeze_hold_id(ref: str) -> TransferId:
    return TransferId(f"freeze:{ref}")


def pledge_hold_id(ref: str) -> TransferId:
    return TransferId(f"pledge:{ref}")


class RegistryBase:
    """Shared by every registry operation: running a command, finding holders and accounts."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    # -- plumbing ----------------------------------------------------------------------------

    def _run(
        self,
        cmd_id: str,
        kind: str,
        body: dict[str, Any],
        build: Callable[[UnitOfWork, int], Command],
    ) -> CommandResult:
        """Run one command all-or-nothing, idempotent on `cmd_id` (refusals included)."""
        now = to_us(self.clock.now())
        text = canonical_json(body)
        with self.store.unit_of_work() as uow:
            uow.lock()  # writers take turns: the id check below then sees every earlier command
            known = uow.command(cmd_id)
            if known is not None:
                return self._repeat(uow, known, kind, text)
            try:
                result = uow.submit([build(uow, now)], now)[0]
            except DomainError as refused:
                result = CommandResult(refused.code, refused.message, field=refused.field)
            if result.ok:
                if not result.replayed:
                    uow.record_command(
                        CommandRecord(cmd_id, kind, text, result.seq, None, None), now
                    )
                    uow.commit()
                return result
        # Refused: nothing the command did stays, but the refusal is remembered for its id.
        with self.store.unit_of_work() as uow:
            uow.lock()
            if uow.command(cmd_id) is None:
                assert result.code is not None
                uow.record_command(
                    CommandRecord(cmd_id, kind, text, None, result.code, result.message), now
                )
                uow.commit()
        return result

    @staticmethod
    def _repeat(uow: UnitOfWork, known: CommandRecord, kind: str, text: str) -> CommandResult:
        if known.kind != kind or known.body != text:
            return CommandResult(
                RejectCode.duplicate_id,
                f"command id {known.id!r} was already used for a different {known.kind} command",
            )
        if known.seq is None:
            assert known.code is not None
            return CommandResult(RejectCode(known.code), known.message or "", replayed=True)
        return CommandResult(None, "", uow.transfers_of(known.seq), replayed=True, seq=known.seq)

    @staticmethod
    def _holder(
        uow: UnitOfWork,
        holder_id: str,
        *,
        moving_out: bool = False,
        receiving: bool = False,
        field: str = "account",
    ) -> Holder:
        """The holder named by parameter `field`, if its state allows what the command does."""
        holder = uow.holder(holder_id)
        if holder is None:
            raise DomainError(
                RejectCode.unknown_account, f"no account holder {holder_id!r}", field=field
            )
        if holder.state == HolderState.closed:
            raise DomainError(
                RejectCode.account_closed, f"account {holder_id!r} is closed", field=field
            )
        if moving_out and holder.state in (HolderState.restricted, HolderState.frozen):
            raise DomainError(
                RejectCode.account_restricted,
                f"account {holder_id!r} is {holder.state}: nothing may leave it",
                field=field,
            )
        if receiving and holder.state == HolderState.closure_pending:
            raise DomainError(
                RejectCode.account_restricted,
                f"account {holder_id!r} is pending closure: nothing more may come in",
                field=field,
            )
        return holder

    @staticmethod
    def _accounts(uow: UnitOfWork, now: int, *keys: tuple[str, str, str]) -> list[Account]:
        specs = [AccountSpec(AccountKey(h, p, a), default_flags(p)) for h, p, a in keys]
        opened = uow.open_accounts(specs, actor="registry", now_us=now)
        return [opened[s.key] for s in specs]

    @staticmethod
    def _existing(uow: UnitOfWork, holder: str, purpose: str, asset: str, amount: int) -> Account:
        """The account a debit comes from; one never opened holds nothing."""
        key = AccountKey(holder, purpose, asset)
        account = uow.account_of(key)
        if account is None:
            code = RejectCode.insufficient_funds if asset == CASH else RejectCode.insufficient_units
            raise DomainError(code, f"{holder} holds no {asset}; the command needs {amount}")
        return account

    @staticmethod
    def _named_hold(uow: UnitOfWork, hold_id: TransferId, what: str, ref: str) -> Hold:
        """The hold a freeze or pledge `ref` made; `unknown_reference` when there is none."""
        hold = uow.hold(hold_id)
        if hold is None:
            raise DomainError(RejectCode.unknown_reference, f"no {what} {ref!r}", field="ref")
        return hold

    @staticmethod
    def _one(kind: str, actor: str, body: dict[str, Any], transfer: Transfer) -> Command:
        """A command of a single transfer."""
        return Command(kind, actor, body, (transfer,))

    @staticmethod
    def _move(
        cmd_id: str,
        debit: Account,
        credit: Account,
        amount: int,
        code: str,
        *,
        flags: int = 0,
        ref: str | None = None,
        transfer_id: TransferId | None = None,
    ) -> Transfer:
        """A transfer between two accounts (by default the command's id is the transfer's)."""
        return Transfer(
            transfer_id or TransferId(cmd_id),
            debit.id,
            credit.id,
            debit.asset,
            amount,
            code,
            flags,
            ref=ref,
        )

    @staticmethod
    def _on_hold(
        transfer_id: TransferId, hold: Hold, amount: int, code: str, flags: int, ref: str
    ) -> Transfer:
        """Post or void `amount` of `hold` (0: all that remains)."""
        return Transfer(
            transfer_id,
            hold.debit_account_id,
            hold.credit_account_id,
            hold.asset,
            amount,
            code,
            flags,
            pending_id=hold.id,
            ref=ref,
        )

    def _take_and_deliver(
        self,
        cmd_id: str,
        hold: Hold,
        custody: Account,
        target: Account,
        amount: int,
        code: str,
        ref: str,
    ) -> tuple[Transfer, Transfer]:
        """A linked pair: post `amount` of `hold` into its custody account, then deliver it on to
        `target` (a judicial deduction, a pledge enforcement)."""
        return (
            self._on_hold(TransferId(cmd_id), hold, amount, code, TransferFlags.POST_PENDING, ref),
            self._move(
                cmd_id,
                custody,
                target,
                amount,
                code,
                ref=ref,
                transfer_id=TransferId(f"{cmd_id}/deliver"),
            ),
        )

    @staticmethod
    def _unit_asset(asset: str) -> str:
        try:
            parsed = parse_asset(asset)
        except AssetError as exc:
            raise DomainError(RejectCode.invalid_field, str(exc), field="asset") from exc
        if not is_unit(parsed):
            raise DomainError(
                RejectCode.invalid_field, f"asset {asset!r} is not a unit asset", field="asset"
            )
        return parsed

    # -- holders -----------------------------------------------------------------------------

    def open_holder(self, holder: Holder, *, actor: str) -> CommandResult:
        """Register a holder (its id is the idempotency key); traders get a fund account."""
        if holder.kind not in HolderKind.__members__:
            return CommandResult(
                RejectCode.invalid_field,
                f"kind {holder.kind!r} is not one of {', '.join(HolderKind)}",
            )
        now = to_us(self.clock.now())
        with self.store.unit_of_work() as uow:
            uow.lock()
            existing = uow.holder(holder.id)
            if existing is not None:
                if existing == holder:
                    return CommandResult(None, replayed=True)
                return CommandResult(
                    RejectCode.duplicate_id,
                    f"holder id {holder.id!r} is already registered differently",
                )
            same_subject = None if holder.code is None else uow.holder_by_code(holder.code)
            if same_subject is not None:
                return CommandResult(
                    RejectCode.duplicate_id,
                    f"code {holder.code} is already registered as holder {same_subject.id!r}: "
                    "one subject, one registration account",
                )
            uow.open_holders([holder], actor=actor, now_us=now)
            if holder.kind in TRADING_KINDS:
                self._accounts(uow, now, (holder.id, Purpose.fund, CASH))
            uow.commit()
        return CommandResult(None)
