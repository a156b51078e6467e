"""Settlement runs (DOMAIN.md, "Settlement"): each trading day's trades cleared gross and
delivered versus payment, prepared, confirmed, then delivered; objections; corrections.

- **Prepare** (at the day's end, inside `Exchange.end_of_day`): every trade not yet in a run goes
  into the day's run `R<day>`, and each order hold gives back what its trades do not need (the
  rest of an expired order, the difference between a buy order's limit and the prices it got).
- **Confirm**: reconciliation (`reconcile`) must show no break, or the confirming person writes
  why the listed breaks are accepted (`accept_breaks`); a run with breaks is never confirmed
  silently. With `Policy.settlement_auto_confirm` (the default) the system confirms a daily run
  without breaks at once; with four-eyes on (`confirm_settlement` in `four_eyes_ops`) a person
  confirms it and a second approves.
- **Deliver**: one linked batch per trade (`cets.domain.settlement.dvp`), written a chunk of
  trades per transaction. A delivery interrupted (a crash, a kill) resumes where it stopped:
  chunks are all-or-nothing and a settled trade is never picked again, so every trade is
  settled exactly once. `resume_deliveries` (run by `cets serve` at start) finishes confirmed runs.
- **Objections**: a party to a run (a buyer or seller of one of its trades) may object until the
  next trading day opens (`objections_until`); objections are recorded, never acted on silently.
- **Corrections**: a new run of kind `correction` with its own legs, naming the delivered run it
  corrects (and the objection it answers); prepared, then confirmed by a person, which delivers
  its legs as one linked batch in the same transaction (a correction that cannot be delivered is
  not confirmed either). The corrected run is never edited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import Hold, Purpose, TransferCode, TransferFlags
from cets.domain.registry.holders import EXCHANGE
from cets.domain.settlement.reconcile import Break
from cets.domain.settlement.runs import (
    CorrectionLeg,
    Objection,
    Run,
    RunKind,
    RunStatus,
    daily_run_id,
    prepared_run,
)
from cets.domain.trading.calendar import Mode, local_datetime, to_local
from cets.domain.units import CASH
from cets.service.clock import to_us
from cets.service.ports import Command, CommandResult, TradeRow
from cets.service.venue_base import VenueBase, VenueUnitOfWork

__all__ = ["SettlementDesk", "SettlementUnitOfWork", "reversal_legs"]

DELIVERY_CHUNK = 10_000  # trades per transaction when a run is delivered
CORRECTABLE = frozenset({Purpose.holding, Purpose.fund, Purpose.fees})


class SettlementUnitOfWork(VenueUnitOfWork, Protocol):
    def assign_run(self, run_id: str) -> int: ...
    def insert_run(self, run: Run) -> None: ...
    def run(self, run_id: str) -> Run | None: ...
    def set_run(self, run_id: str, **values: Any) -> None: ...
    def day_runs(self, day: date) -> int: ...
    def unsettled_in_run(self, run_id: str) -> int: ...
    def order_hold_needs(self) -> list[tuple[Hold, int]]: ...
    def insert_objection(self, objection: Objection) -> None: ...
    def objection(self, objection_id: str) -> Objection | None: ...
    def resolve_objection(self, objection_id: str, run_id: str) -> None: ...
    def insert_correction_legs(self, run_id: str, legs: Sequence[CorrectionLeg]) -> None: ...
    def correction_legs(self, run_id: str) -> list[CorrectionLeg]: ...
    def deliver_chunk(
        self, run_id: str, limit: int, now_us: int, actor: str, after: int = 0
    ) -> tuple[int, int]: ...
    def run_breaks(self, run: Run) -> list[Break]: ...
    def run_parties(self, run_id: str) -> set[str]: ...
    def trade_in_run(self, trade_id: str, run_id: str) -> TradeRow | None: ...
    def trade_corrections(self, trade_id: str) -> list[str]: ...


class SettlementDesk(VenueBase):
    """The settlement runs' commands, on the venue's writer (see the module doc)."""

    delivery_chunk = DELIVERY_CHUNK

    def _suow(self, uow: VenueUnitOfWork) -> SettlementUnitOfWork:
        return uow  # type: ignore[return-value]  # the SQL unit of work has the settlement rows

    # -- prepare -------------------------------------------------------------------------------

    def _prepare_run(self, raw: VenueUnitOfWork, day: date, actor: str, at: int) -> Run | None:
        """The day's run: every trade not yet in one; each order hold cut to what they need.
        A day closed again (by hand, after the closer) gets a second run only if trades came
        since (`R<day>-2`, ...); otherwise None."""
        uow = self._suow(raw)
        self._release_excess(uow, actor, at)
        run_id = daily_run_id(day)
        earlier = uow.day_runs(day)
        if earlier:
            run_id = f"{run_id}-{earlier + 1}"
        count = uow.assign_run(run_id)
        if earlier and not count:
            return None
        run = prepared_run(
            run_id, day, RunKind.daily, count, at, actor, self._objections_until(day)
        )
        uow.insert_run(run)
        uow.journal(
            "settlement_prepared",
            actor,
            {"run": run_id, "day": day.isoformat(), "trades": count},
            at,
        )
        return run

    def _release_excess(self, uow: SettlementUnitOfWork, actor: str, at: int) -> None:
        """Give back what each order hold has beyond what its unsettled trades need."""
        releases = [
            self._on_hold(
                TransferId(f"{hold.id}/release"),
                hold,
                hold.remaining - need,
                TransferCode.order,
                TransferFlags.VOID_PENDING,
                hold.ref or "",
            )
            for hold, need in uow.order_hold_needs()
            if hold.remaining > need
        ]
        if releases:
            body = {"holds": [tr.pending_id for tr in releases]}
            (result,) = uow.submit(
                [Command("release_order_holds", actor, body, tuple(releases))], at
            )
            assert result.ok, f"releasing order holds: {result.code} {result.message}"

    def _objections_until(self, day: date) -> int:
        """The next trading day's opening: objections to `day`'s run are taken until then."""
        opening = self.calendar.sessions(Mode.listed)[0][0]
        return to_us(local_datetime(self.calendar.next_trading_day(day), opening))

    # -- confirm and deliver ---------------------------------------------------------------

    def settle_run(self, run_id: str, *, actor: str) -> CommandResult:
        """After the day's end: confirm the run if policy lets the system do it and it has no
        break, then deliver it. A run left prepared waits for a person (`confirm_run`)."""
        policy = self.policy
        if not policy.settlement_auto_confirm or policy.needs_approval("confirm_settlement", {}):
            return CommandResult(None, RunStatus.prepared)
        confirmed = self.confirm_run(run_id, actor=actor)
        if confirmed.code == RejectCode.run_has_breaks:
            return CommandResult(None, RunStatus.prepared)
        return confirmed

    def confirm_run(
        self,
        run_id: str,
        *,
        actor: str,
        accept_breaks: str | None = None,
        deliver: bool = True,
    ) -> CommandResult:
        """Confirm a prepared run, then deliver it (unless `deliver` is false: `deliver_run`
        later). Refused with `run_has_breaks` (saying how many) unless reconciliation shows
        none or `accept_breaks` says why they are accepted."""

        def work(raw: VenueUnitOfWork) -> CommandResult:
            uow = self._suow(raw)
            run = self._the_run(uow, run_id)
            if run.status != RunStatus.prepared:
                return CommandResult(None, run.status, replayed=True)
            breaks = uow.run_breaks(run)
            reason = (accept_breaks or "").strip() or None
            if breaks and reason is None:
                kinds = sorted({b.kind for b in breaks})
                raise DomainError(
                    RejectCode.run_has_breaks,
                    f"run {run_id} has {len(breaks)} reconciliation break(s) ({', '.join(kinds)}); "
                    "confirm it only with accept_breaks saying why",
                    field="accept_breaks",
                )
            at = to_us(self.clock.now())
            uow.set_run(
                run_id,
                status=RunStatus.confirmed,
                confirmed_at=at,
                confirmed_by=actor,
                breaks_accepted=reason if breaks else None,
            )
            body = {"run": run_id, "breaks": [b.as_dict() for b in breaks], "accepted": reason}
            seq = uow.journal("settlement_confirmed", actor, body, at)
            if run.kind == RunKind.correction:
                # A correction's legs are delivered with its confirmation, all or nothing: a
                # correction that cannot be delivered (a holder no longer has the units or the
                # money) is not confirmed either, and says why.
                return self._deliver_correction(uow, run, actor)
            return CommandResult(None, RunStatus.confirmed, seq=seq)

        confirmed = self._refusing(work)
        if not confirmed.ok or not deliver or confirmed.message != RunStatus.confirmed:
            return confirmed  # refused, or a correction (delivered with it), or a repeat
        return self.deliver_run(run_id, actor=actor)

    def deliver_run(self, run_id: str, *, actor: str) -> CommandResult:
        """Deliver a confirmed run (see the module doc); a delivered one answers as it is."""
        run = self.store.settlement_run(run_id)  # type: ignore[attr-defined]
        if run is None:
            return CommandResult(
                RejectCode.unknown_run, f"no settlement run {run_id!r}", field="run"
            )
        if run.status == RunStatus.delivered:
            return CommandResult(None, RunStatus.delivered, replayed=True)
        if run.status != RunStatus.confirmed:
            return CommandResult(
                RejectCode.run_state_does_not_allow,
                f"run {run_id} is {run.status}: only a confirmed run is delivered",
                field="run",
            )
        after = 0  # the last trade ordinal delivered: each chunk starts after it
        while True:
            try:
                done, after = self._write(
                    lambda uow, start=after: self._suow(uow).deliver_chunk(
                        run_id, self.delivery_chunk, to_us(self.clock.now()), actor, start
                    )
                )
            except DomainError as refused:  # a leg the ledger refuses: this chunk wrote nothing
                return CommandResult(refused.code, refused.message, field="run")
            if not done:
                break
        return self._refusing(lambda uow: self._finish(self._suow(uow), run_id, actor))

    def _finish(self, uow: SettlementUnitOfWork, run_id: str, actor: str) -> CommandResult:
        run = self._the_run(uow, run_id)
        if run.status == RunStatus.delivered:
            return CommandResult(None, RunStatus.delivered, replayed=True)
        left = uow.unsettled_in_run(run_id)
        assert left == 0, f"run {run_id}: {left} trades still unsettled after delivery"
        at = to_us(self.clock.now())
        uow.set_run(run_id, status=RunStatus.delivered, delivered_at=at)
        seq = uow.journal("settlement_delivered", actor, {"run": run_id, "trades": run.trades}, at)
        return CommandResult(None, RunStatus.delivered, seq=seq)

    def resume_deliveries(
        self, *, actor: str, prepared: bool = False
    ) -> list[tuple[str, CommandResult]]:
        """Finish delivering every confirmed run (after a crash in the middle of one), oldest
        first; with `prepared`, also settle (`settle_run`) every daily run still prepared, as
        the day's end would have if the process had not stopped between the two. Each run's
        outcome; a refused one stays as it was, for a person to see."""
        statuses = (RunStatus.prepared, RunStatus.confirmed) if prepared else (RunStatus.confirmed,)
        done = []
        for status in statuses:
            for run in reversed(self.store.settlement_runs(status=status)):  # type: ignore[attr-defined]
                if status == RunStatus.prepared and run.kind == RunKind.daily:
                    done.append((run.id, self.settle_run(run.id, actor=actor)))
                elif status == RunStatus.confirmed:
                    done.append((run.id, self.deliver_run(run.id, actor=actor)))
        return done

    # -- objections and corrections ----------------------------------------------------------

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
                trade = uow.trade_in_run(reverse, corrects)
                if trade is None:
                    raise DomainError(
                        RejectCode.unknown_reference,
                        f"no trade {reverse!r} in run {corrects}",
                        field="reverse",
                    )
                legs = reversal_legs(trade)
            if known is not None:  # the same correction again answers as it stands
                same = (known.corrects, known.reason) == (corrects, reason)
                if same and uow.correction_legs(run_id) == list(legs):
                    return CommandResult(None, known.status, replayed=True)
                raise taken
            if reverse is not None:
                earlier = uow.trade_corrections(reverse)
                if earlier:
                    raise DomainError(
                        RejectCode.duplicate_id,
                        f"trade {reverse} is corrected by run {', '.join(earlier)} already: "
                        "correct what is left with explicit legs",
                        field="reverse",
                    )
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
                found = uow.objection(objection)
                if found is None or found.run != corrects:
                    raise DomainError(
                        RejectCode.unknown_reference,
                        f"no objection {objection!r} to run {corrects}",
                        field="objection",
                    )
                uow.resolve_objection(objection, run_id)
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

    def _deliver_correction(self, uow: SettlementUnitOfWork, run: Run, actor: str) -> CommandResult:
        at = to_us(self.clock.now())
        moves = []
        for n, leg in enumerate(uow.correction_legs(run.id)):
            debit = self._existing(uow, leg.from_holder, leg.from_purpose, leg.asset, leg.amount)
            (credit,) = self._accounts(uow, at, (leg.to_holder, leg.to_purpose, leg.asset))
            moves.append(
                self._move(
                    run.id,
                    debit,
                    credit,
                    leg.amount,
                    TransferCode.correction,
                    ref=leg.trade or run.corrects,
                    transfer_id=TransferId(f"correct:{run.id}/{n}"),
                )
            )
        (result,) = uow.submit(
            [Command("settle_correction", actor, {"run": run.id}, tuple(moves))], at
        )
        if not result.ok:
            assert result.code is not None
            raise DomainError(result.code, f"correction {run.id}: {result.message}")
        uow.set_run(run.id, status=RunStatus.delivered, delivered_at=at)
        return CommandResult(None, RunStatus.delivered, seq=result.seq)

    @staticmethod
    def _the_run(uow: SettlementUnitOfWork, run_id: str, *, field: str = "run") -> Run:
        run = uow.run(run_id)
        if run is None:
            raise DomainError(RejectCode.unknown_run, f"no settlement run {run_id!r}", field=field)
        return run


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
