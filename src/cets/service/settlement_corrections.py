"""Objections to settlement runs and correction runs (see `cets.service.settlement`).

- **Objections**: a party to a run (a buyer or seller of one of its trades) may object until the
  next trading day opens (`objections_until`), naming one of its trades or not; objections are
  recorded, never acted on silently.
- **Corrections**: a new run of kind `correction` with its own legs between holders' holding and
  fund accounts and the exchange's fee account, naming the delivered run it corrects (and the
  objection it answers), or `reverse`: a trade of that run undone whole (`reversal_legs`), once.
  Confirming it delivers its legs as one linked batch (`SettlementDesk._deliver_correction`).
  The corrected run is never edited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ledger.model import Purpose
from cets.domain.registry.holders import EXCHANGE
from cets.domain.settlement.runs import CorrectionLeg, Objection, RunKind, RunStatus, prepared_run
from cets.domain.trading.calendar import to_local
from cets.domain.units import CASH
from cets.service.clock import to_us
from cets.service.ports import CommandResult, TradeRow
from cets.service.settlement import SettlementDesk, SettlementUnitOfWork
from cets.service.venue_base import VenueUnitOfWork

__all__ = ["CorrectionDesk", "reversal_legs"]

CORRECTABLE = frozenset({Purpose.holding, Purpose.fund, Purpose.fees})


class CorrectionDesk(SettlementDesk):
    """Objections and corrections, on the venue's writer (see the module doc)."""

    def object_to_run(
        self,
        objection_id: str,
        run_id: str,
        *,
        account: str,
        text: str,
        trade: str | None = None,
        actor: str,
    ) -> CommandResult:
        """Record `account`'s objection to run `run_id` (until the next trading day opens)."""

        def work(raw: VenueUnitOfWork) -> CommandResult:
            uow = self._suow(raw)
            known = uow.objection(objection_id)
            if known is not None:
                if (known.run, known.account, known.trade, known.text) == (
                    run_id,
                    account,
                    trade,
                    text,
                ):
                    return CommandResult(None, "recorded", replayed=True)
                raise DomainError(
                    RejectCode.duplicate_id, f"objection {objection_id!r} exists", field="id"
                )
            run = self._the_run(uow, run_id)
            at = to_us(self.clock.now())
            if at >= run.objections_until:
                raise DomainError(
                    RejectCode.objection_window_closed,
                    f"objections to run {run_id} were taken until the next trading day opened",
                    field="run",
                )
            if not text.strip():
                raise DomainError(RejectCode.invalid_field, "say what is objected to", field="text")
            if account not in uow.run_parties(run_id):
                raise DomainError(
                    RejectCode.not_a_party_to_run,
                    f"{account} has no trade in run {run_id}",
                    field="account",
                )
            if trade is not None:
                found = uow.trade_in_run(trade, run_id)
                if found is None or account not in (found.buyer, found.seller):
                    raise DomainError(
                        RejectCode.unknown_reference,
                        f"{account} has no trade {trade!r} in run {run_id}",
                        field="trade",
                    )
            uow.insert_objection(
                Objection(objection_id, run_id, account, trade, text, actor, at, None)
            )
            body = {
                "id": objection_id,
                "run": run_id,
                "account": account,
                "trade": trade,
                "text": text,
            }
            seq = uow.journal("settlement_objection", actor, body, at)
            return CommandResult(None, "recorded", seq=seq)

        return self._refusing(work)

    def correct_run(
        self,
        run_id: str,
        *,
        corrects: str,
        legs: Sequence[CorrectionLeg] = (),
        reverse: str | None = None,
        reason: str,
        objection: str | None = None,
        actor: str,
    ) -> CommandResult:
        """Prepare correction run `run_id` of delivered run `corrects`: `legs`, delivered as
        one linked batch once the run is confirmed. `reverse` names a trade of that run to undo
        whole instead (its legs are `reversal_legs`). The corrected run stays as it was."""

        def work(raw: VenueUnitOfWork) -> CommandResult:
            uow = self._suow(raw)
            nonlocal legs
            known = uow.run(run_id)
            taken = DomainError(RejectCode.duplicate_id, f"run {run_id!r} exists", field="id")
            if known is not None and known.kind != RunKind.correction:
                raise taken
            target = self._the_run(uow, corrects, field="corrects")
            if reverse is not None:
                legs = _reversal(uow, reverse, corrects)
            if known is not None:  # the same correction again answers as it stands
                same = (known.corrects, known.reason) == (corrects, reason)
                if same and uow.correction_legs(run_id) == list(legs):
                    return CommandResult(None, known.status, replayed=True)
                raise taken
            if reverse is not None:
                _not_corrected_yet(uow, reverse)
            if target.status != RunStatus.delivered:
                raise DomainError(
                    RejectCode.run_state_does_not_allow,
                    f"run {corrects} is {target.status}: only a delivered run is corrected",
                    field="corrects",
                )
            if not reason.strip():
                raise DomainError(RejectCode.invalid_field, "say why", field="reason")
            self._check_legs(uow, legs)
            if objection is not None:
                _answer(uow, objection, corrects, run_id)
            at = to_us(self.clock.now())
            day = self.calendar.trading_day_of(to_local(self.clock.now()))
            uow.insert_run(
                prepared_run(
                    run_id,
                    day,
                    RunKind.correction,
                    len({leg.trade for leg in legs if leg.trade}),
                    at,
                    actor,
                    self._objections_until(day),
                    corrects=corrects,
                    reason=reason,
                )
            )
            uow.insert_correction_legs(run_id, legs)
            body = {
                "run": run_id,
                "corrects": corrects,
                "reason": reason,
                "objection": objection,
                "legs": [_leg_body(leg) for leg in legs],
            }
            seq = uow.journal("settlement_correction", actor, body, at)
            return CommandResult(None, RunStatus.prepared, seq=seq)

        return self._refusing(work)

    def _check_legs(self, uow: SettlementUnitOfWork, legs: Sequence[CorrectionLeg]) -> None:
        if not legs:
            raise DomainError(RejectCode.invalid_field, "a correction needs legs", field="legs")
        for i, leg in enumerate(legs):
            where = f"legs[{i}]"
            purposes = (leg.from_purpose, leg.to_purpose)
            if Purpose.fees in purposes and leg.asset != CASH:
                raise DomainError(
                    RejectCode.invalid_field,
                    f"{where}: the fee account holds money, not {leg.asset}",
                    field=where,
                )
            for holder, purpose in (
                (leg.from_holder, leg.from_purpose),
                (leg.to_holder, leg.to_purpose),
            ):
                if purpose not in CORRECTABLE or (purpose == Purpose.fees) != (holder == EXCHANGE):
                    raise DomainError(
                        RejectCode.invalid_field,
                        f"{where}: a correction moves between holders' holding and fund accounts "
                        f"and the exchange's fee account, not {holder}'s {purpose!r} account",
                        field=where,
                    )
                self._holder(uow, holder, field=where)
            if type(leg.amount) is not int or leg.amount <= 0:
                raise DomainError(
                    RejectCode.amount_must_be_positive, f"{where}: amount {leg.amount}", field=where
                )


def _reversal(uow: SettlementUnitOfWork, trade_id: str, run_id: str) -> tuple[CorrectionLeg, ...]:
    """The legs that undo trade `trade_id` of run `run_id`."""
    trade = uow.trade_in_run(trade_id, run_id)
    if trade is None:
        raise DomainError(
            RejectCode.unknown_reference, f"no trade {trade_id!r} in run {run_id}", field="reverse"
        )
    return reversal_legs(trade)


def _not_corrected_yet(uow: SettlementUnitOfWork, trade_id: str) -> None:
    """A trade is reversed once: after any correction of it, what is left takes explicit legs."""
    earlier = uow.trade_corrections(trade_id)
    if earlier:
        raise DomainError(
            RejectCode.duplicate_id,
            f"trade {trade_id} is corrected by run {', '.join(earlier)} already: "
            "correct what is left with explicit legs",
            field="reverse",
        )


def _answer(uow: SettlementUnitOfWork, objection: str, run_id: str, correction: str) -> None:
    """Mark objection `objection` to run `run_id` answered by run `correction`."""
    found = uow.objection(objection)
    if found is None or found.run != run_id:
        raise DomainError(
            RejectCode.unknown_reference,
            f"no objection {objection!r} to run {run_id}",
            field="objection",
        )
    uow.resolve_objection(objection, correction)


def reversal_legs(trade: TradeRow) -> tuple[CorrectionLeg, ...]:
    """The legs that undo a settled trade whole: each fee back to whoever paid it (first, so the
    seller's refund helps it pay back), the value back to the buyer, the units back to the
    seller."""
    value = trade.price * trade.quantity
    legs = [
        CorrectionLeg(EXCHANGE, Purpose.fees, holder, Purpose.fund, CASH, fee, trade.id)
        for holder, fee in ((trade.buyer, trade.buyer_fee), (trade.seller, trade.seller_fee))
        if fee
    ]
    legs += [
        CorrectionLeg(trade.seller, Purpose.fund, trade.buyer, Purpose.fund, CASH, value, trade.id),
        CorrectionLeg(
            trade.buyer,
            Purpose.holding,
            trade.seller,
            Purpose.holding,
            trade.instrument,
            trade.quantity,
            trade.id,
        ),
    ]
    return tuple(legs)


def _leg_body(leg: CorrectionLeg) -> list[Any]:
    return [
        leg.from_holder,
        leg.from_purpose,
        leg.to_holder,
        leg.to_purpose,
        leg.asset,
        leg.amount,
        leg.trade,
    ]
