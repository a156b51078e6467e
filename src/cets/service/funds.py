"""Funds at settlement banks: what a holder has and may withdraw, the payment instructions a
bank is sent, and the statements it sends back (the use cases of `withdrawals` plus these).

A statement import (`import_statement`) is one transaction and all-or-nothing: every line is
checked and booked in turn, and if any line is malformed or refused, nothing of the file stays
and every refused line is reported with its line number, field and code. Line by line:
- a line whose (bank, reference) was imported before is unchanged if it reads the same, else
  `duplicate_id`; importing a file again therefore changes nothing, and says so;
- a deposit is the registry's deposit with the bank's reference as its client id (so a deposit
  already made through the API under that id is recognised, not made twice); its `account` is
  the fund account's number at the bank, or else the holder's id;
- a withdrawal line reports the request whose id is its reference paid; its account and amount
  must be the request's (a mismatch is a break to look at, never silently booked), and a request
  already paid stays as it is;
- every line read is kept (`bank_statement_lines`) for reconciliation, and the import is one
  journal entry listing the new lines.

Choices where the brief is silent: the instructions for a day (`--day`) are the open requests
made on that local date, so each request is instructed once per day it was made in and a bank
working through each day's file never pays one twice; without a day, every open request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from cets.domain.errors import DomainError, RejectCode, first_code
from cets.domain.ledger.model import Purpose
from cets.domain.registry.bank_files import LineProblem, PaymentInstruction, StatementLine
from cets.domain.registry.funds import Withdrawal, WithdrawalStatus
from cets.domain.registry.holders import BANK, HolderKind
from cets.domain.units import CASH
from cets.service.canonical import canonical_json
from cets.service.clock import from_us, to_us
from cets.service.ports import AccountKey, CommandRecord, UnitOfWork
from cets.service.registry_money import funds_uow
from cets.service.withdrawals import WithdrawalDesk


@dataclass(frozen=True, slots=True)
class FundsView:
    """A holder's fund account: where it is and what it holds, may move, may withdraw."""

    holder: str
    bank: str
    number: str | None  # None: never bound (the default bank, until a deposit binds it)
    balance: int
    available: int
    withdrawable: int
    recent_proceeds: int  # what T+1 keeps in today
    t1_day: date


@dataclass(frozen=True, slots=True)
class StatementOutcome:
    """What an import did: `deposits` credited and `payments` booked now, `recognised` lines
    the registry had booked already (a deposit made through the API under the reference, a
    request reported paid), `unchanged` lines imported before; or, when `problems`, nothing at
    all (`code`: the first refusal's)."""

    lines: int
    deposits: int = 0
    payments: int = 0
    recognised: int = 0
    unchanged: int = 0
    problems: tuple[LineProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def changed(self) -> bool:
        """Whether the import wrote anything (new lines are kept even when recognised)."""
        return self.ok and self.unchanged < self.lines

    @property
    def code(self) -> RejectCode | None:
        return first_code([p.code for p in self.problems]) if self.problems else None

    @property
    def first(self) -> LineProblem | None:
        """The problem reported as the file's: the first of the code that takes precedence."""
        return next((p for p in self.problems if p.code == self.code), None)

    def summary(self) -> str:
        if self.problems:
            return "; ".join(str(p) for p in self.problems)
        if not self.changed:
            return f"nothing changed: all {self.lines} lines were imported before"
        return (
            f"{self.lines} lines: {self.deposits} deposits credited, {self.payments} "
            f"withdrawals paid, {self.recognised} booked already, {self.unchanged} imported before"
        )


class Funds(WithdrawalDesk):
    """Funds at settlement banks: bindings, withdrawals, reads and the banks' files."""

    # -- reads -------------------------------------------------------------------------------

    def view(self, holder: str) -> FundsView | None:
        """The holder's fund account now; None when there is no such holder."""
        now = to_us(self.clock.now())
        with self.store.unit_of_work() as uow:
            if uow.holder(holder) is None:
                return None
            binding = funds_uow(uow).fund_account(holder)
            money = self.withdrawable(uow, holder, now)
            key = AccountKey(holder, Purpose.fund, CASH)
            fund = uow.accounts([key]).get(key)
        return FundsView(
            holder,
            BANK if binding is None else binding.bank,
            None if binding is None else binding.number,
            0 if fund is None else fund.balance,
            money.available,
            money.amount,
            money.recent_proceeds,
            money.day,
        )

    def withdrawals(
        self,
        *,
        bank: str | None = None,
        status: str | None = None,
        after: str | None = None,
        limit: int | None = 100,
    ) -> list[Withdrawal]:
        with self.store.unit_of_work() as uow:
            return funds_uow(uow).withdrawals(bank=bank, status=status, after=after, limit=limit)

    def withdrawal(self, withdrawal_id: str) -> Withdrawal | None:
        with self.store.unit_of_work() as uow:
            return funds_uow(uow).withdrawal(withdrawal_id)

    def instructions(self, bank: str, day: date | None = None) -> list[PaymentInstruction]:
        """The open requests `bank` is to pay (made on local date `day`, if given)."""
        with self.store.unit_of_work() as uow:
            fuow = funds_uow(uow)
            found = []
            for w in fuow.withdrawals(bank=bank, status=WithdrawalStatus.requested):
                at = from_us(w.requested_at)
                if day is not None and at.date() != day:
                    continue
                binding = fuow.fund_account(w.holder)
                number = w.holder if binding is None else binding.number
                found.append(PaymentInstruction(w.id, w.holder, number, w.amount_fen, at))
        return found

    # -- statements --------------------------------------------------------------------------

    def import_statement(
        self, bank: str, lines: Sequence[StatementLine], *, actor: str
    ) -> StatementOutcome:
        """Book a bank's statement, all-or-nothing (see the module docstring). DomainError when
        the bank itself is refused (no such bank, or `actor` acts for another)."""
        now = to_us(self.clock.now())
        with self.store.unit_of_work() as uow:
            uow.lock()
            self._check_importer(uow, bank, actor)
            done: Counter[str] = Counter()
            new: list[StatementLine] = []
            problems: list[LineProblem] = []
            for line in lines:
                try:
                    outcome = self._book_line(uow, bank, line, actor, now)
                except DomainError as refused:
                    field = refused.field or "line"
                    problems.append(LineProblem(line.line, field, refused.message, refused.code))
                    continue
                done[outcome] += 1
                if outcome != "unchanged":
                    new.append(line)
            if problems:
                return StatementOutcome(len(lines), problems=tuple(problems))
            if new:
                funds_uow(uow).insert_statement_lines(bank, new, now)
                listed = [
                    [x.day.isoformat(), x.reference, x.account, x.type, x.amount_fen] for x in new
                ]
                uow.journal("import_bank_statement", actor, {"bank": bank, "lines": listed}, now)
                uow.commit()
        return StatementOutcome(
            len(lines), done["deposit"], done["payment"], done["booked"], done["unchanged"]
        )

    def _check_importer(self, uow: UnitOfWork, bank: str, actor: str) -> None:
        found = uow.holder(bank)
        if found is None or found.kind != HolderKind.settlement_bank:
            code = RejectCode.unknown_account if found is None else RejectCode.invalid_field
            raise DomainError(code, f"{bank!r} is no settlement bank", field="bank")
        acting = self.acting_bank(uow, actor)
        if acting != bank:
            raise DomainError(
                RejectCode.wrong_settlement_bank,
                f"{actor} acts for bank {acting!r}, not {bank!r}",
                field="bank",
            )

    def _book_line(
        self, uow: UnitOfWork, bank: str, line: StatementLine, actor: str, now: int
    ) -> str:
        """Book one line: "deposit" or "payment" (made now), "booked" (the registry had it
        already), "unchanged" (the same line was imported before)."""
        known = funds_uow(uow).statement_line(bank, line.reference)
        if known is not None:
            if _values(known) == _values(line):
                return "unchanged"
            raise DomainError(
                RejectCode.duplicate_id,
                f"reference {line.reference!r} was imported before with other values",
                field="reference",
            )
        if line.type == "deposit":
            return self._book_deposit(uow, bank, line, actor, now)
        return self._book_payment(uow, bank, line, actor, now)

    @staticmethod
    def _statement_holder(uow: UnitOfWork, bank: str, account: str) -> str:
        """The holder a statement's `account` names: by its number at the bank, else its id."""
        bound = funds_uow(uow).fund_account_by_number(bank, account)
        return account if bound is None else bound.holder

    def _book_deposit(
        self, uow: UnitOfWork, bank: str, line: StatementLine, actor: str, now: int
    ) -> str:
        holder = self._statement_holder(uow, bank, line.account)
        body = {"id": line.reference, "account": holder, "amount_fen": line.amount_fen}
        text = canonical_json(body)
        known = uow.command(line.reference)
        if known is not None:
            if (known.kind, known.body) != ("deposit", text):
                raise DomainError(
                    RejectCode.duplicate_id,
                    f"reference {line.reference!r} is the client id of an earlier {known.kind} "
                    "command with other values",
                    field="reference",
                )
            if known.code is not None:
                raise DomainError(
                    RejectCode(known.code),
                    f"deposit {line.reference!r} was refused before: {known.message}",
                    field="reference",
                )
            return "booked"
        command = self._deposit(
            uow, now, line.reference, holder, line.amount_fen, bank, actor, body
        )
        (result,) = uow.submit([command], now)
        if not result.ok:
            assert result.code is not None
            raise DomainError(result.code, result.message, field="amount")
        uow.record_command(
            CommandRecord(line.reference, "deposit", text, result.seq, None, None), now
        )
        return "deposit"

    def _book_payment(
        self, uow: UnitOfWork, bank: str, line: StatementLine, actor: str, now: int
    ) -> str:
        request = self.known_withdrawal(uow, line.reference, field="reference")
        self._same_bank_as(uow, request, bank, field="reference")
        if self._statement_holder(uow, bank, line.account) != request.holder:
            raise DomainError(
                RejectCode.invalid_field,
                f"withdrawal {request.id!r} is from {request.holder}, not {line.account!r}",
                field="account",
            )
        if line.amount_fen != request.amount_fen:
            raise DomainError(
                RejectCode.invalid_field,
                f"withdrawal {request.id!r} is for {request.amount_fen} fen, "
                f"the line pays {line.amount_fen}",
                field="amount",
            )
        if request.status == WithdrawalStatus.paid:
            return "booked"
        self._settle(uow, request, WithdrawalStatus.paid, None, actor, now)
        return "payment"


def _values(line: StatementLine) -> tuple[object, ...]:
    """What a statement line says (not where in its file it was)."""
    return (line.day, line.reference, line.account, line.type, line.amount_fen)
