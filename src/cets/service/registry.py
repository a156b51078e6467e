"""Registry use cases over the ledger kernel: open holders, issue, allocate, transfer, freeze,
unfreeze, deposit, withdraw. One handler per command; each runs in one unit of work and is
all-or-nothing (a refused command rolls back whatever it opened).

Accounts used (holder, purpose, asset):
- issuance: (authority, issuance, A): the negative side of every unit of A in existence;
- reserve: (authority, reserve, A): issued, not yet allocated;
- holding: (holder, holding, A): a holder's units; fund: (holder, fund, CNY): its money;
- frozen custody: (registry, frozen, A): the credit side of freeze holds;
- bank: (bank, bank, CNY): the settlement bank's side, negative by what holders keep with it.

Idempotency and holder states: see `registry_base`.
"""

from __future__ import annotations

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import (
    Purpose,
    Transfer,
    TransferCode,
    TransferFlags,
)
from cets.domain.registry.holders import AUTHORITY, BANK, REGISTRY
from cets.domain.units import CASH
from cets.service.ports import (
    Command,
    CommandResult,
    UnitOfWork,
)
from cets.service.registry_base import RegistryBase, freeze_hold_id


class Registry(RegistryBase):
    """Every registry operation as a use case."""

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
