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
- **Objections** (`settlement_corrections`): a party to a run (a buyer or seller of one of its
  trades) may object until the next trading day opens (`objections_until`); objections are
  recorded, never acted on silently.
- **Corrections** (`settlement_corrections`): a new run of kind `correction` with its own legs,
  naming the delivered run it corrects (and the objection it answers); prepared, then confirmed
  by a person, which delivers its legs as one linked batch in the same transaction (a correction
  that cannot be delivered is not confirmed either). The corrected run is never edited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import Hold, TransferCode, TransferFlags
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
from cets.domain.trading.calendar import Mode, local_datetime
from cets.service.clock import to_us
from cets.service.ports import Command, CommandResult, TradeRow
from cets.service.venue_base import VenueBase, VenueUnitOfWork

__all__ = ["SettlementDesk", "SettlementUnitOfWork"]

DELIVERY_CHUNK = 10_000  # trades per transaction when a run is delivered


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
