"""Fund accounts at settlement banks and withdrawals paid on instruction, as use cases.

- `open_fund_account`: the registry binds a holder's one fund account to one bank, with its
  number there. Binding it again the same way is a replay; any other binding, or a number the
  bank has given another holder, is `fund_account_exists`. A settlement bank has no fund account
  of its own (its side of the money is its `bank` account).
- `request_withdrawal`: the holder's operator (`transfer`) or the registry asks its bank to pay
  money out. After the same checks as an immediate withdrawal (states, T+1) the amount is held
  on the fund account (`withdrawal:{id}`, debit fund, credit the bank's account) and the request
  is `requested`. Idempotent on its client id like every registry command.
- `mark_paid` / `mark_rejected`: the holder's bank reports the payment made (the hold is posted)
  or refused (voided, with a reason). Both are final: reporting the same again is a replay,
  reporting the other is `hold_already_closed`. Another bank is `wrong_settlement_bank`.
"""

from __future__ import annotations

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import Purpose, TransferCode, TransferFlags
from cets.domain.registry.funds import (
    FundAccount,
    Withdrawal,
    WithdrawalStatus,
    withdrawal_hold_id,
)
from cets.domain.registry.holders import HolderKind
from cets.domain.units import CASH
from cets.service.clock import to_us
from cets.service.ports import Command, CommandResult, UnitOfWork
from cets.service.registry_money import FundRules, funds_uow

_SETTLE_FLAGS = {
    WithdrawalStatus.paid: TransferFlags.POST_PENDING,
    WithdrawalStatus.rejected: TransferFlags.VOID_PENDING,
}


class WithdrawalDesk(FundRules):
    """Fund account bindings and the withdrawal requests' life."""

    def open_fund_account(
        self, holder: str, bank: str, number: str, *, actor: str
    ) -> CommandResult:
        """Bind `holder`'s fund account to `bank` as account `number` (see the module doc)."""
        now = to_us(self.clock.now())
        with self.store.unit_of_work() as uow:
            uow.lock()
            try:
                known = funds_uow(uow).fund_account(holder)
                self._check_binding(uow, holder, bank, number, known)
                if known is not None:
                    return CommandResult(None, replayed=True)
                self._bind(uow, FundAccount(holder, bank, number, now), field="number")
            except DomainError as refused:
                return CommandResult(refused.code, refused.message, field=refused.field)
            body = {"holder": holder, "bank": bank, "number": number}
            seq = uow.journal("open_fund_account", actor, body, now)
            uow.commit()
        return CommandResult(None, seq=seq)

    def _check_binding(
        self, uow: UnitOfWork, holder: str, bank: str, number: str, known: FundAccount | None
    ) -> None:
        """Refuse a binding of an unknown or closed holder, to what is no bank, or over another."""
        found = self._holder(uow, holder, field="holder")
        if found.kind == HolderKind.settlement_bank:
            raise DomainError(
                RejectCode.invalid_field,
                f"{holder} is a settlement bank: its side of the money is its bank account",
                field="holder",
            )
        at = uow.holder(bank)
        if at is None or at.kind != HolderKind.settlement_bank:
            code = RejectCode.unknown_account if at is None else RejectCode.invalid_field
            raise DomainError(code, f"{bank!r} is no settlement bank", field="bank")
        if not number.strip() or len(number) > 64:
            raise DomainError(RejectCode.invalid_field, "number: 1-64 characters", field="number")
        if known is not None and (known.bank, known.number) != (bank, number):
            raise DomainError(
                RejectCode.fund_account_exists,
                f"{holder}'s fund account is at bank {known.bank!r} as {known.number!r} already",
                field="holder",
            )

    def request_withdrawal(
        self, cmd_id: str, holder: str, amount_fen: int, *, actor: str
    ) -> CommandResult:
        """Ask the holder's bank to pay `amount_fen` out; held until it is paid or rejected."""
        body = {"id": cmd_id, "account": holder, "amount_fen": amount_fen}

        def build(uow: UnitOfWork, now: int) -> Command:
            if amount_fen <= 0:
                raise DomainError(
                    RejectCode.amount_must_be_positive,
                    f"amount {amount_fen} fen, was expected > 0",
                    field="amount",
                )
            self._holder(uow, holder, moving_out=True, field="account")
            bank_id = self.holders_bank(uow, holder)
            fund = self._existing(uow, holder, Purpose.fund, CASH, amount_fen)
            self._check_withdrawable(uow, holder, amount_fen, now)
            (bank,) = self._accounts(uow, now, (bank_id, Purpose.bank, CASH))
            funds_uow(uow).insert_withdrawal(
                Withdrawal(
                    cmd_id,
                    holder,
                    bank_id,
                    amount_fen,
                    WithdrawalStatus.requested,
                    None,
                    now,
                    actor,
                )
            )
            hold = self._move(
                cmd_id,
                fund,
                bank,
                amount_fen,
                TransferCode.withdraw,
                flags=TransferFlags.PENDING,
                ref=cmd_id,
                transfer_id=TransferId(withdrawal_hold_id(cmd_id)),
            )
            return self._one("request_withdrawal", actor, body, hold)

        return self._run(cmd_id, "request_withdrawal", body, build)

    def mark_paid(self, withdrawal_id: str, *, actor: str) -> CommandResult:
        """The bank paid the request: the held money leaves the fund account for good."""
        return self._decide(withdrawal_id, WithdrawalStatus.paid, None, actor)

    def mark_rejected(self, withdrawal_id: str, reason: str, *, actor: str) -> CommandResult:
        """The bank refused to pay (`reason` says why): the held money is available again."""
        if not reason.strip():
            return CommandResult(
                RejectCode.invalid_field, "a rejection needs a reason", field="reason"
            )
        return self._decide(withdrawal_id, WithdrawalStatus.rejected, reason, actor)

    def _decide(
        self, withdrawal_id: str, status: WithdrawalStatus, reason: str | None, actor: str
    ) -> CommandResult:
        now = to_us(self.clock.now())
        with self.store.unit_of_work() as uow:
            uow.lock()
            try:
                request = self.known_withdrawal(uow, withdrawal_id)
                self._same_bank_as(uow, request, self.acting_bank(uow, actor), field="id")
                if (request.status, request.reason) == (status, reason):
                    return CommandResult(None, replayed=True)
                result = self._settle(uow, request, status, reason, actor, now)
            except DomainError as refused:
                return CommandResult(refused.code, refused.message, field=refused.field)
            uow.commit()
        return result

    @staticmethod
    def known_withdrawal(uow: UnitOfWork, withdrawal_id: str, *, field: str = "id") -> Withdrawal:
        request = funds_uow(uow).withdrawal(withdrawal_id)
        if request is None:
            raise DomainError(
                RejectCode.unknown_reference,
                f"no withdrawal request {withdrawal_id!r}",
                field=field,
            )
        return request

    @staticmethod
    def _same_bank_as(uow: UnitOfWork, request: Withdrawal, bank: str, *, field: str) -> None:
        if request.bank != bank:
            raise DomainError(
                RejectCode.wrong_settlement_bank,
                f"withdrawal {request.id!r} is to be paid by bank {request.bank!r}, not {bank!r}",
                field=field,
            )

    def _settle(
        self,
        uow: UnitOfWork,
        request: Withdrawal,
        status: WithdrawalStatus,
        reason: str | None,
        actor: str,
        now: int,
    ) -> CommandResult:
        """Post (paid) or void (rejected) the request's hold and record the outcome."""
        if request.status != WithdrawalStatus.requested:
            raise DomainError(
                RejectCode.hold_already_closed,
                f"withdrawal {request.id!r} was already {request.status}",
                field="id",
            )
        hold = uow.hold(withdrawal_hold_id(request.id))
        assert hold is not None, f"withdrawal {request.id} has no hold"
        transfer = self._on_hold(
            TransferId(f"{hold.id}/{status}"),
            hold,
            0,
            TransferCode.withdraw,
            _SETTLE_FLAGS[status],
            request.id,
        )
        body = {"id": request.id, "reason": reason}
        (result,) = uow.submit([Command(f"withdrawal_{status}", actor, body, (transfer,))], now)
        if not result.ok:
            assert result.code is not None
            raise DomainError(result.code, result.message)
        funds_uow(uow).settle_withdrawal(request.id, status, reason, now)
        return result
