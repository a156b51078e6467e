"""Registry use cases over the ledger kernel: issue, allocate, true-up, transfer, cancel, freeze,
unfreeze, judicial deduction, pledge, release, deposit, withdraw, and the holder's states
(restrict, unrestrict, close). One handler per command; each runs in one unit of work and is
all-or-nothing (a refused command rolls back whatever it opened).

Accounts used (holder, purpose, asset):
- issuance: (authority, issuance, A): the negative side of every unit of A in existence;
- reserve: (authority, reserve, A): issued, not yet allocated;
- holding: (holder, holding, A): a holder's units; fund: (holder, fund, CNY): its money;
- frozen custody: (registry, frozen, A): the credit side of freeze holds; a deduction posts part
  of a freeze into custody and delivers it on, in one chain;
- pledged custody: (pledgee, pledged, A): the credit side of pledge holds, one per pledgee, so
  the hold itself names who may enforce it; enforcement posts into it and delivers on;
- surrender: (authority, surrender, A): surrendered units, forever (`compliance` surrenders);
- cancellation: (registry, cancellation, A): cancelled units, kept forever;
- bank: (B, bank, CNY): settlement bank B's side, negative by what holders keep with it (the
  default bank is `bank`; which bank a holder is at and T+1: see `registry_money`).

Idempotency and holder states: see `registry_base`.
"""

from __future__ import annotations

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import Purpose, TransferCode, TransferFlags
from cets.domain.registry.holders import AUTHORITY, BANK, REGISTRY, HolderState
from cets.domain.units import CASH
from cets.service.ports import Command, CommandResult, UnitOfWork
from cets.service.registry_base import freeze_hold_id, pledge_hold_id
from cets.service.registry_money import FundRules
from cets.service.registry_states import AccountStates

_VOID = TransferFlags.VOID_PENDING


class Registry(AccountStates, FundRules):
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
                self._holder(uow, to, receiving=True, field="to")
            target = (to, Purpose.holding, unit) if to else (AUTHORITY, Purpose.reserve, unit)
            issuance, credit = self._accounts(uow, now, (AUTHORITY, Purpose.issuance, unit), target)
            return self._one(
                "issue",
                actor,
                body,
                self._move(cmd_id, issuance, credit, quantity, TransferCode.issue),
            )

        return self._run(cmd_id, "issue", body, build)

    def allocate(
        self, cmd_id: str, to: str, asset: str, quantity: int, *, actor: str = AUTHORITY
    ) -> CommandResult:
        """Free allocation from the authority's reserve to a holder."""
        body = {"id": cmd_id, "to": to, "asset": asset, "quantity": quantity}

        def build(uow: UnitOfWork, now: int) -> Command:
            unit = self._unit_asset(asset)
            self._holder(uow, to, receiving=True, field="to")
            reserve = self._existing(uow, AUTHORITY, Purpose.reserve, unit, quantity)
            (target,) = self._accounts(uow, now, (to, Purpose.holding, unit))
            return self._one(
                "allocate",
                actor,
                body,
                self._move(cmd_id, reserve, target, quantity, TransferCode.allocate),
            )

        return self._run(cmd_id, "allocate", body, build)

    def true_up(
        self, cmd_id: str, to: str, asset: str, quantity: int, *, actor: str = AUTHORITY
    ) -> CommandResult:
        """Allocation correction: a top-up from the reserve (quantity > 0) or a recovery back to
        it (quantity < 0), which needs the units available at the holder."""
        body = {"id": cmd_id, "to": to, "asset": asset, "quantity": quantity}

        def build(uow: UnitOfWork, now: int) -> Command:
            unit = self._unit_asset(asset)
            self._holder(uow, to, receiving=quantity > 0, field="to")
            if quantity == 0:
                raise DomainError(
                    RejectCode.amount_must_be_positive,
                    "quantity 0: a true-up moves at least 1 t",
                    field="quantity",
                )
            if quantity > 0:
                debit = self._existing(uow, AUTHORITY, Purpose.reserve, unit, quantity)
                (credit,) = self._accounts(uow, now, (to, Purpose.holding, unit))
            else:
                debit = self._existing(uow, to, Purpose.holding, unit, -quantity)
                (credit,) = self._accounts(uow, now, (AUTHORITY, Purpose.reserve, unit))
            return self._one(
                "true_up",
                actor,
                body,
                self._move(cmd_id, debit, credit, abs(quantity), TransferCode.true_up),
            )

        return self._run(cmd_id, "true_up", body, build)

    def cancel(
        self, cmd_id: str, holder: str, asset: str, quantity: int, *, actor: str | None = None
    ) -> CommandResult:
        """Voluntary cancellation: the units leave circulation for good (the cancellation
        account keeps them); the journal entry (seq and hash) is the certificate's proof."""
        body = {"id": cmd_id, "account": holder, "asset": asset, "quantity": quantity}

        def build(uow: UnitOfWork, now: int) -> Command:
            unit = self._unit_asset(asset)
            self._holder(uow, holder, moving_out=True, field="account")
            debit = self._existing(uow, holder, Purpose.holding, unit, quantity)
            (credit,) = self._accounts(uow, now, (REGISTRY, Purpose.cancellation, unit))
            return self._one(
                "cancel",
                actor or holder,
                body,
                self._move(cmd_id, debit, credit, quantity, TransferCode.cancel),
            )

        return self._run(cmd_id, "cancel", body, build)

    def transfer(
        self, cmd_id: str, source: str, to: str, asset: str, quantity: int, *, actor: str
    ) -> CommandResult:
        """A registry transfer between two holders; T+1 holds back units bought today."""
        body = {"id": cmd_id, "from": source, "to": to, "asset": asset, "quantity": quantity}

        def build(uow: UnitOfWork, now: int) -> Command:
            unit = self._unit_asset(asset)
            self._holder(uow, source, moving_out=True, field="from")
            self._holder(uow, to, receiving=True, field="to")
            debit = self._existing(uow, source, Purpose.holding, unit, quantity)
            self._check_transferable(uow, source, unit, quantity, now)
            (credit,) = self._accounts(uow, now, (to, Purpose.holding, unit))
            return self._one(
                "transfer",
                actor,
                body,
                self._move(cmd_id, debit, credit, quantity, TransferCode.transfer),
            )

        return self._run(cmd_id, "transfer", body, build)

    # -- holds: freezes and pledges ----------------------------------------------------------

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
            self._holder(uow, holder, field="account")
            debit = self._existing(uow, holder, Purpose.holding, unit, quantity)
            (custody,) = self._accounts(uow, now, (REGISTRY, Purpose.frozen, unit))
            return self._one(
                "freeze",
                actor,
                body,
                self._move(
                    cmd_id,
                    debit,
                    custody,
                    quantity,
                    TransferCode.freeze,
                    flags=TransferFlags.PENDING,
                    ref=ref,
                    transfer_id=freeze_hold_id(ref),
                ),
            )

        return self._run(cmd_id, "freeze", body, build)

    def unfreeze(
        self, cmd_id: str, ref: str, quantity: int | None = None, *, actor: str = REGISTRY
    ) -> CommandResult:
        """Release a freeze, wholly (no quantity) or in part."""
        body = {"id": cmd_id, "ref": ref, "quantity": quantity}

        def build(uow: UnitOfWork, now: int) -> Command:
            if quantity is not None and quantity <= 0:
                raise DomainError(
                    RejectCode.amount_must_be_positive,
                    f"quantity {quantity}, was expected >= 1 (leave it out to release it all)",
                    field="quantity",
                )
            hold = self._named_hold(uow, freeze_hold_id(ref), "freeze", ref)
            return self._one(
                "unfreeze",
                actor,
                body,
                self._on_hold(
                    TransferId(cmd_id), hold, quantity or 0, TransferCode.unfreeze, _VOID, ref
                ),
            )

        return self._run(cmd_id, "unfreeze", body, build)

    def deduct(
        self, cmd_id: str, ref: str, to: str, quantity: int, *, actor: str = REGISTRY
    ) -> CommandResult:
        """Judicial deduction: `quantity` of freeze `ref` goes to `to` (e.g. a creditor), as one
        linked chain: the frozen units are taken into custody, then delivered."""
        body = {"id": cmd_id, "ref": ref, "to": to, "quantity": quantity}

        def build(uow: UnitOfWork, now: int) -> Command:
            hold = self._named_hold(uow, freeze_hold_id(ref), "freeze", ref)
            self._holder(uow, to, receiving=True, field="to")
            custody, target = self._accounts(
                uow, now, (REGISTRY, Purpose.frozen, hold.asset), (to, Purpose.holding, hold.asset)
            )
            return Command(
                "deduct",
                actor,
                body,
                self._take_and_deliver(
                    cmd_id, hold, custody, target, quantity, TransferCode.deduct, ref
                ),
            )

        return self._run(cmd_id, "deduct", body, build)

    def pledge(
        self,
        cmd_id: str,
        holder: str,
        pledgee: str,
        asset: str,
        quantity: int,
        ref: str,
        *,
        actor: str = REGISTRY,
    ) -> CommandResult:
        """Pledge registration: a hold on the holder's units in favour of `pledgee`, named `ref`."""
        body = {
            "id": cmd_id,
            "account": holder,
            "pledgee": pledgee,
            "asset": asset,
            "quantity": quantity,
            "ref": ref,
        }

        def build(uow: UnitOfWork, now: int) -> Command:
            unit = self._unit_asset(asset)
            self._holder(uow, holder, moving_out=True, field="account")
            self._holder(uow, pledgee, field="pledgee")
            debit = self._existing(uow, holder, Purpose.holding, unit, quantity)
            (custody,) = self._accounts(uow, now, (pledgee, Purpose.pledged, unit))
            return self._one(
                "pledge",
                actor,
                body,
                self._move(
                    cmd_id,
                    debit,
                    custody,
                    quantity,
                    TransferCode.pledge,
                    flags=TransferFlags.PENDING,
                    ref=ref,
                    transfer_id=pledge_hold_id(ref),
                ),
            )

        return self._run(cmd_id, "pledge", body, build)

    def release(self, cmd_id: str, ref: str, *, actor: str = REGISTRY) -> CommandResult:
        """Pledge release: the whole of what pledge `ref` still holds is free again."""
        body = {"id": cmd_id, "ref": ref}

        def build(uow: UnitOfWork, now: int) -> Command:
            hold = self._named_hold(uow, pledge_hold_id(ref), "pledge", ref)
            return self._one(
                "release",
                actor,
                body,
                self._on_hold(TransferId(cmd_id), hold, 0, TransferCode.release, _VOID, ref),
            )

        return self._run(cmd_id, "release", body, build)

    def enforce(
        self, cmd_id: str, ref: str, quantity: int | None = None, *, actor: str = REGISTRY
    ) -> CommandResult:
        """Pledge enforcement: `quantity` (default: all that remains) of pledge `ref` goes to the
        pledgee, as one linked chain (post into the pledgee's custody, then deliver)."""
        body = {"id": cmd_id, "ref": ref, "quantity": quantity}

        def build(uow: UnitOfWork, now: int) -> Command:
            hold = self._named_hold(uow, pledge_hold_id(ref), "pledge", ref)
            if hold.remaining == 0:
                raise DomainError(
                    RejectCode.hold_already_closed, f"pledge {ref!r} was already released"
                )
            amount = quantity if quantity is not None else hold.remaining
            custody = uow.account_by_id(hold.credit_account_id)
            self._holder(uow, custody.holder, receiving=True, field="ref")
            (target,) = self._accounts(uow, now, (custody.holder, Purpose.holding, hold.asset))
            return Command(
                "enforce",
                actor,
                body,
                self._take_and_deliver(
                    cmd_id, hold, custody, target, amount, TransferCode.enforce, ref
                ),
            )

        return self._run(cmd_id, "enforce", body, build)

    # -- succession ------------------------------------------------------------

    def succeed(self, cmd_id: str, holder: str, to: str, *, actor: str = REGISTRY) -> CommandResult:
        """Change by succession or merger: everything `holder` has (units of every asset and its
        funds) passes to `to` in one linked chain, and `holder` is closed. Refused with
        `units_encumbered` while anything of it is frozen, pledged or in orders: those holds
        must be resolved first (a freeze follows the court, a pledge the pledgee)."""
        body = {"id": cmd_id, "account": holder, "to": to}

        def build(uow: UnitOfWork, now: int) -> Command:
            self._holder(uow, holder, field="account")
            self._holder(uow, to, receiving=True, field="to")
            if holder == to:
                raise DomainError(
                    RejectCode.accounts_must_be_different,
                    f"account {holder!r} cannot succeed itself",
                    field="to",
                )
            moves = []
            for account in uow.holder_accounts(holder):
                if account.debits_pending or account.credits_pending:
                    raise DomainError(
                        RejectCode.units_encumbered,
                        f"{holder} has {account.debits_pending + account.credits_pending} "
                        f"{account.asset} under holds; resolve them first",
                        field="account",
                    )
                if account.purpose in (Purpose.holding, Purpose.fund) and account.balance > 0:
                    (target,) = self._accounts(uow, now, (to, account.purpose, account.asset))
                    moves.append(
                        self._move(
                            cmd_id,
                            account,
                            target,
                            account.balance,
                            TransferCode.transfer,
                            ref=f"succession:{holder}",
                            transfer_id=TransferId(f"{cmd_id}/{account.purpose}/{account.asset}"),
                        )
                    )
            uow.set_holder_state(holder, HolderState.closed)
            return Command("succeed", actor, body, tuple(moves))

        return self._run(cmd_id, "succeed", body, build)

    # -- money -------------------------------------------------------------------------------

    def deposit(
        self, cmd_id: str, holder: str, amount_fen: int, *, actor: str = BANK
    ) -> CommandResult:
        """Money in from `actor`'s settlement bank to the holder's fund account, which must be
        at that bank (a holder never bound is bound to it: see `registry_money`)."""
        body = {"id": cmd_id, "account": holder, "amount_fen": amount_fen}

        def build(uow: UnitOfWork, now: int) -> Command:
            bank = self.acting_bank(uow, actor)
            return self._deposit(uow, now, cmd_id, holder, amount_fen, bank, actor, body)

        return self._run(cmd_id, "deposit", body, build)

    def withdraw(
        self, cmd_id: str, holder: str, amount_fen: int, *, actor: str = BANK
    ) -> CommandResult:
        """Money out of the holder's fund account to its settlement bank, paid at once (a
        request the bank pays later: `funds.Funds.request_withdrawal`); `actor` must act for
        that bank, and T+1 keeps today's sale proceeds in."""
        body = {"id": cmd_id, "account": holder, "amount_fen": amount_fen}

        def build(uow: UnitOfWork, now: int) -> Command:
            self._holder(uow, holder, moving_out=True, field="account")
            bank_id = self.acting_bank(uow, actor)
            self._same_bank(uow, holder, bank_id, field="account")
            fund = self._existing(uow, holder, Purpose.fund, CASH, amount_fen)
            self._check_withdrawable(uow, holder, amount_fen, now)
            (bank,) = self._accounts(uow, now, (bank_id, Purpose.bank, CASH))
            return self._one(
                "withdraw",
                actor,
                body,
                self._move(cmd_id, fund, bank, amount_fen, TransferCode.withdraw),
            )

        return self._run(cmd_id, "withdraw", body, build)
