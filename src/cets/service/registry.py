"""Registry use cases over the ledger kernel: open holders, issue, allocate, transfer, freeze,
unfreeze, deposit, withdraw. One handler per command; each runs in one unit of work and is
all-or-nothing (a refused command rolls back whatever it opened).

Accounts used (holder, purpose, asset):
- issuance: (authority, issuance, A): the negative side of every unit of A in existence;
- reserve: (authority, reserve, A): issued, not yet allocated;
- holding: (holder, holding, A): a holder's units; fund: (holder, fund, CNY): its money;
- frozen custody: (registry, frozen, A): the credit side of freeze holds;
- bank: (bank, bank, CNY): the settlement bank's side, negative by what holders keep with it.

The command's client id is its idempotency key (and the id of its transfer): repeating a command
with the same id and body returns the stored result, refusals included, so a client that retries
after a lost answer always learns what happened the first time; the same id with a different body
is `duplicate_id`. (The ledger kernel below keeps TigerBeetle's rule instead: a refused transfer
id is not remembered and may be used again.)

Rules the registry issue will extend (DOMAIN.md, "Accounts"): a closed holder can do nothing
(`account_closed`); a restricted one cannot move units or money out (`account_restricted`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import (
    Account,
    AccountFlags,
    Purpose,
    Transfer,
    TransferCode,
    TransferFlags,
)
from cets.domain.registry.holders import AUTHORITY, BANK, REGISTRY, Holder, HolderKind, HolderState
from cets.domain.units import CASH, is_unit, parse_asset
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


class Registry:
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
                result = CommandResult(refused.code, refused.message)
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
    def _holder(uow: UnitOfWork, holder_id: str, *, moving_out: bool = False) -> Holder:
        holder = uow.holder(holder_id)
        if holder is None:
            raise DomainError(RejectCode.unknown_account, f"no account holder {holder_id!r}")
        if holder.state == HolderState.closed:
            raise DomainError(RejectCode.account_closed, f"account {holder_id!r} is closed")
        if moving_out and holder.state in (HolderState.restricted, HolderState.frozen):
            raise DomainError(
                RejectCode.account_restricted, f"account {holder_id!r} is {holder.state}"
            )
        return holder

    @staticmethod
    def _accounts(uow: UnitOfWork, now: int, *keys: tuple[str, str, str]) -> list[Account]:
        specs = [
            AccountSpec(
                AccountKey(h, p, a), 0 if p in (Purpose.issuance, Purpose.bank) else LIMITED
            )
            for h, p, a in keys
        ]
        opened = uow.open_accounts(specs, actor="registry", now_us=now)
        return [opened[s.key] for s in specs]

    @staticmethod
    def _existing(uow: UnitOfWork, holder: str, purpose: str, asset: str, amount: int) -> Account:
        """The account a debit comes from; one never opened holds nothing."""
        key = AccountKey(holder, purpose, asset)
        account = uow.accounts([key]).get(key)
        if account is None:
            code = RejectCode.insufficient_funds if asset == CASH else RejectCode.insufficient_units
            raise DomainError(code, f"{holder} holds no {asset}; the command needs {amount}")
        return account

    @staticmethod
    def _unit_asset(asset: str) -> str:
        parsed = parse_asset(asset)
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
            existing = uow.holder(holder.id)
            if existing is not None:
                if existing == holder:
                    return CommandResult(None, replayed=True)
                return CommandResult(
                    RejectCode.duplicate_id,
                    f"holder id {holder.id!r} is already registered differently",
                )
            uow.open_holders([holder], actor=actor, now_us=now)
            if holder.kind in TRADING_KINDS:
                self._accounts(uow, now, (holder.id, Purpose.fund, CASH))
            uow.commit()
        return CommandResult(None)

    # -- units -------------------------------------------------------------------------------

    def issue(
        self,
        cmd_id: str,
        asset: str,
        quantity: int,
        *,
        to: str | None = None,
        actor: str = AUTHORITY,
    ) -> CommandResult:
        """Create units: into the authority's reserve, or straight to a holder (CCER)."""
        body = {"id": cmd_id, "asset": asset, "quantity": quantity, "to": to}

        def build(uow: UnitOfWork, now: int) -> Command:
            unit = self._unit_asset(asset)
            if to is not None:
                self._holder(uow, to)
            target = (to, Purpose.holding, unit) if to else (AUTHORITY, Purpose.reserve, unit)
            issuance, credit = self._accounts(uow, now, (AUTHORITY, Purpose.issuance, unit), target)
            return Command(
                "issue",
                actor,
                body,
                (
                    Transfer(
                        TransferId(cmd_id),
                        issuance.id,
                        credit.id,
                        unit,
                        quantity,
                        TransferCode.issue,
                    ),
                ),
            )

        return self._run(cmd_id, "issue", body, build)

    def allocate(
        self, cmd_id: str, to: str, asset: str, quantity: int, *, actor: str = AUTHORITY
    ) -> CommandResult:
        """Free allocation from the authority's reserve to a holder."""
        body = {"id": cmd_id, "to": to, "asset": asset, "quantity": quantity}

        def build(uow: UnitOfWork, now: int) -> Command:
            unit = self._unit_asset(asset)
            self._holder(uow, to)
            reserve = self._existing(uow, AUTHORITY, Purpose.reserve, unit, quantity)
            (target,) = self._accounts(uow, now, (to, Purpose.holding, unit))
            return Command(
                "allocate",
                actor,
                body,
                (
                    Transfer(
                        TransferId(cmd_id),
                        reserve.id,
                        target.id,
                        unit,
                        quantity,
                        TransferCode.allocate,
                    ),
                ),
            )

        return self._run(cmd_id, "allocate", body, build)

    def transfer(
        self, cmd_id: str, source: str, to: str, asset: str, quantity: int, *, actor: str
    ) -> CommandResult:
        """A registry transfer between two holders."""
        body = {"id": cmd_id, "from": source, "to": to, "asset": asset, "quantity": quantity}

        def build(uow: UnitOfWork, now: int) -> Command:
            unit = self._unit_asset(asset)
            self._holder(uow, source, moving_out=True)
            self._holder(uow, to)
            debit = self._existing(uow, source, Purpose.holding, unit, quantity)
            (credit,) = self._accounts(uow, now, (to, Purpose.holding, unit))
            return Command(
                "transfer",
                actor,
                body,
                (
                    Transfer(
                        TransferId(cmd_id),
                        debit.id,
                        credit.id,
                        unit,
                        quantity,
                        TransferCode.transfer,
                    ),
                ),
            )

        return self._run(cmd_id, "transfer", body, build)

    def freeze(
        self,
        cmd_id: str,
        holder: str,
        asset: str,
        quantity: int,
        ref: str,
        *,
        actor: str = REGISTRY,
    ) -> CommandResult:
        """An administrative or judicial freeze: a hold on the holder's units, named by `ref`."""
        body = {"id": cmd_id, "account": holder, "asset": asset, "quantity": quantity, "ref": ref}

        def build(uow: UnitOfWork, now: int) -> Command:
            unit = self._unit_asset(asset)
            self._holder(uow, holder)
            debit = self._existing(uow, holder, Purpose.holding, unit, quantity)
            (custody,) = self._accounts(uow, now, (REGISTRY, Purpose.frozen, unit))
            return Command(
                "freeze",
                actor,
                body,
                (
                    Transfer(
                        freeze_hold_id(ref),
                        debit.id,
                        custody.id,
                        unit,
                        quantity,
                        TransferCode.freeze,
                        TransferFlags.PENDING,
                        ref=ref,
                    ),
                ),
            )

        return self._run(cmd_id, "freeze", body, build)

    def unfreeze(
        self, cmd_id: str, ref: str, quantity: int | None = None, *, actor: str = REGISTRY
    ) -> CommandResult:
        """Release a freeze, wholly (no quantity) or in part."""
        body = {"id": cmd_id, "ref": ref, "quantity": quantity}

        def build(uow: UnitOfWork, now: int) -> Command:
            hold = uow.hold(freeze_hold_id(ref))
            if hold is None:
                raise DomainError(RejectCode.unknown_reference, f"no freeze {ref!r}", field="ref")
            return Command(
                "unfreeze",
                actor,
                body,
                (
                    Transfer(
                        TransferId(cmd_id),
                        hold.debit_account_id,
                        hold.credit_account_id,
                        hold.asset,
                        quantity or 0,
                        TransferCode.unfreeze,
                        TransferFlags.VOID_PENDING,
                        pending_id=hold.id,
                        ref=ref,
                    ),
                ),
            )

        return self._run(cmd_id, "unfreeze", body, build)

    # -- money -------------------------------------------------------------------------------

    def deposit(
        self, cmd_id: str, holder: str, amount_fen: int, *, actor: str = BANK
    ) -> CommandResult:
        """Money in from the settlement bank to the holder's fund account."""
        body = {"id": cmd_id, "account": holder, "amount_fen": amount_fen}

        def build(uow: UnitOfWork, now: int) -> Command:
            self._holder(uow, holder)
            bank, fund = self._accounts(
                uow, now, (BANK, Purpose.bank, CASH), (holder, Purpose.fund, CASH)
            )
            return Command(
                "deposit",
                actor,
                body,
                (
                    Transfer(
                        TransferId(cmd_id), bank.id, fund.id, CASH, amount_fen, TransferCode.deposit
                    ),
                ),
            )

        return self._run(cmd_id, "deposit", body, build)

    def withdraw(
        self, cmd_id: str, holder: str, amount_fen: int, *, actor: str = BANK
    ) -> CommandResult:
        """Money out of the holder's fund account to the settlement bank."""
        body = {"id": cmd_id, "account": holder, "amount_fen": amount_fen}

        def build(uow: UnitOfWork, now: int) -> Command:
            self._holder(uow, holder, moving_out=True)
            fund = self._existing(uow, holder, Purpose.fund, CASH, amount_fen)
            (bank,) = self._accounts(uow, now, (BANK, Purpose.bank, CASH))
            return Command(
                "withdraw",
                actor,
                body,
                (
                    Transfer(
                        TransferId(cmd_id),
                        fund.id,
                        bank.id,
                        CASH,
                        amount_fen,
                        TransferCode.withdraw,
                    ),
                ),
            )

        return self._run(cmd_id, "withdraw", body, build)
