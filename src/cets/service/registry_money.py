"""The money rules the registry's deposit, withdraw and transfer share with `funds.Funds`: which
settlement bank acts, which bank a holder's fund account is at, and T+1.

Banks (DOMAIN.md, "Accounts": one fund account at a settlement bank):
- a person of role `settlement_bank` acts for the bank named as their holder; one without a
  holder, and any caller that is no registered person (the scenario runner, a system caller),
  acts for the default bank `bank`, so everything written before banks were told apart works on;
- a holder's fund account is at the bank it was bound to (`open_fund_account`, or the first
  deposit, which binds it to the depositing bank with the holder's id as its number); a holder
  never bound banks with the default bank;
- a deposit or withdrawal by a bank other than the holder's is `wrong_settlement_bank`; each
  bank's side of the money is its own ledger account (bank holder, purpose `bank`, CNY).

T+1 (DOMAIN.md, "Trading"), "today" being the latest trading day on or before today's local date
(Asia/Shanghai, the policy's holidays closed):
- money: withdrawable = available - net proceeds (value less the seller's fee) of the holder's
  sales of today, never below 0; more is `insufficient_funds`, saying how much may leave and why;
- units: transferable = available - the units of today's purchases already delivered; more is
  `units_not_yet_sellable` (field `quantity`). Units bought and not yet delivered are not in the
  holding account at all, so only delivered ones need holding back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ledger.model import Purpose, TransferCode
from cets.domain.registry.bank_files import StatementLine
from cets.domain.registry.funds import (
    FundAccount,
    Withdrawal,
    bank_of,
    t1_day,
    withdrawable,
)
from cets.domain.registry.holders import BANK
from cets.domain.trading.calendar import TradingCalendar, to_local
from cets.domain.units import CASH, format_fen
from cets.service.clock import Clock, from_us
from cets.service.ports import AccountKey, Command, Store, UnitOfWork
from cets.service.registry_base import RegistryBase


class FundsUnitOfWork(UnitOfWork, Protocol):
    def fund_account(self, holder: str) -> FundAccount | None: ...
    def fund_account_by_number(self, bank: str, number: str) -> FundAccount | None: ...
    def insert_fund_account(self, f: FundAccount) -> None: ...
    def withdrawal(self, withdrawal_id: str) -> Withdrawal | None: ...
    def withdrawals(
        self,
        *,
        bank: str | None = None,
        status: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[Withdrawal]: ...
    def insert_withdrawal(self, w: Withdrawal) -> None: ...
    def settle_withdrawal(
        self, withdrawal_id: str, status: str, reason: str | None, at_us: int
    ) -> None: ...
    def statement_line(self, bank: str, reference: str) -> StatementLine | None: ...
    def insert_statement_lines(
        self, bank: str, lines: Sequence[StatementLine], imported_at: int
    ) -> None: ...
    def sale_proceeds_since(self, seller: str, day: date) -> int: ...
    def delivered_purchases_since(self, buyer: str, instrument: str, day: date) -> int: ...


def funds_uow(uow: UnitOfWork) -> FundsUnitOfWork:
    return uow  # type: ignore[return-value]  # the SQL unit of work has the fund rows


@dataclass(frozen=True, slots=True)
class Withdrawable:
    """What may leave a fund account now, and why not more (T+1)."""

    available: int
    recent_proceeds: int  # net proceeds of sales on `day`, not yet withdrawable
    day: date  # the trading day still under T+1
    from_day: date  # when those proceeds become withdrawable

    @property
    def amount(self) -> int:
        return withdrawable(self.available, self.recent_proceeds)

    def refusal(self, holder: str, asked: int) -> DomainError:
        why = "its available balance"
        if self.recent_proceeds:
            why = (
                f"{format_fen(self.available)} available less {format_fen(self.recent_proceeds)}"
                f" net proceeds of sales on trading day {self.day}, withdrawable from "
                f"{self.from_day} (T+1)"
            )
        return DomainError(
            RejectCode.insufficient_funds,
            f"{holder} may withdraw {format_fen(self.amount)} now, not {format_fen(asked)}: {why}",
            field="amount",
        )


class FundRules(RegistryBase):
    """Banks and T+1 for the registry's money and unit movements."""

    def __init__(
        self, store: Store, clock: Clock, *, calendar: TradingCalendar | None = None
    ) -> None:
        super().__init__(store, clock)
        self.calendar = calendar or TradingCalendar()

    # -- banks -------------------------------------------------------------------------------

    @staticmethod
    def acting_bank(uow: UnitOfWork, actor: str) -> str:
        """The settlement bank `actor` acts for (see the module docstring)."""
        return bank_of(uow.person(actor))

    @staticmethod
    def holders_bank(uow: UnitOfWork, holder: str) -> str:
        binding = funds_uow(uow).fund_account(holder)
        return BANK if binding is None else binding.bank

    def _same_bank(self, uow: UnitOfWork, holder: str, bank: str, *, field: str) -> None:
        """`wrong_settlement_bank` unless `holder`'s fund account is at `bank`."""
        at = self.holders_bank(uow, holder)
        if at != bank:
            raise DomainError(
                RejectCode.wrong_settlement_bank,
                f"{holder}'s fund account is at bank {at!r}, not at {bank!r}",
                field=field,
            )

    @staticmethod
    def _bind(uow: UnitOfWork, binding: FundAccount, *, field: str) -> None:
        """Record where a holder's fund account is; its number must be free at the bank."""
        fuow = funds_uow(uow)
        taken = fuow.fund_account_by_number(binding.bank, binding.number)
        if taken is not None:
            raise DomainError(
                RejectCode.fund_account_exists,
                f"bank {binding.bank!r} has account number {binding.number!r} already, "
                f"for {taken.holder}",
                field=field,
            )
        fuow.insert_fund_account(binding)

    def _deposit(
        self,
        uow: UnitOfWork,
        now: int,
        cmd_id: str,
        holder: str,
        amount_fen: int,
        bank: str,
        actor: str,
        body: dict[str, Any],
    ) -> Command:
        """Money in from `bank` to the holder's fund account, binding a holder never bound to
        that bank (number: the holder's id)."""
        self._holder(uow, holder, receiving=True, field="account")
        if funds_uow(uow).fund_account(holder) is None:
            self._bind(uow, FundAccount(holder, bank, holder, now), field="account")
        else:
            self._same_bank(uow, holder, bank, field="account")
        bank_side, fund = self._accounts(
            uow, now, (bank, Purpose.bank, CASH), (holder, Purpose.fund, CASH)
        )
        return self._one(
            "deposit",
            actor,
            body,
            self._move(cmd_id, bank_side, fund, amount_fen, TransferCode.deposit),
        )

    # -- T+1 ---------------------------------------------------------------------------------

    def _t1_day(self, now: int) -> date:
        return t1_day(self.calendar, to_local(from_us(now)).date())

    def withdrawable(self, uow: UnitOfWork, holder: str, now: int) -> Withdrawable:
        day = self._t1_day(now)
        key = AccountKey(holder, Purpose.fund, CASH)
        fund = uow.accounts([key]).get(key)
        return Withdrawable(
            0 if fund is None else fund.available,
            funds_uow(uow).sale_proceeds_since(holder, day),
            day,
            self.calendar.next_trading_day(day),
        )

    def _check_withdrawable(self, uow: UnitOfWork, holder: str, amount: int, now: int) -> None:
        """`insufficient_funds` when more than T+1 lets leave is asked for."""
        money = self.withdrawable(uow, holder, now)
        if amount > money.amount:
            raise money.refusal(holder, amount)

    def _check_transferable(
        self, uow: UnitOfWork, holder: str, asset: str, quantity: int, now: int
    ) -> None:
        """`units_not_yet_sellable` when a transfer would move units bought today."""
        day = self._t1_day(now)
        recent = funds_uow(uow).delivered_purchases_since(holder, asset, day)
        if recent == 0:
            return
        key = AccountKey(holder, Purpose.holding, asset)
        holding = uow.accounts([key]).get(key)
        available = 0 if holding is None else holding.available
        transferable = max(0, available - recent)
        if quantity > transferable:
            raise DomainError(
                RejectCode.units_not_yet_sellable,
                f"{holder} may transfer {transferable} t of {asset} now, not {quantity}: "
                f"{recent} t of its {available} t available were bought on trading day {day} "
                f"and are transferable from {self.calendar.next_trading_day(day)} (T+1)",
                field="quantity",
            )
