"""Block agreement (大宗协议) trading: quotes, inquiries, counter-offers and acceptance.

DOMAIN.md, "Trading": a block trade (>= 100,000 t, within +-30% of the previous close, in the
13:00-15:00 session) comes from "a quote, an inquiry or a counter-offer, confirmed by both sides".

- A block quote is an order of mode `block`: it passes the block gates, holds its side (the
  seller's units or the buyer's funds, hold `order:<id>`) and waits outside the listed book. It
  may be put to one counterparty (`to`): then only that holder may accept or counter it.
- An inquiry (询价) asks for quotes: side, instrument, quantity, optionally a limit price and one
  counterparty it is put to. It passes the same gates (account state, halt, session, tick and
  band of a price given, quantity) but holds nothing: it commits to nothing, so it cannot be
  accepted, only answered with a counter-offer.
- A counter-offer (还价) answers an open block quote or inquiry: a block quote of the opposite
  side, with its own quantity and price, put to the poster of what it answers, and holding its
  side like any quote. It may itself be countered: a chain of negotiation, one thread (the id of
  the inquiry or quote that began it).
- Acceptance (`accept_block`) takes an open block quote whole, at its price: the acceptance is
  the other side's order, passes the gates, holds its side and makes the trade, which the
  day's end settles like every trade.

Invariants: every open block quote is covered by its own hold; only the holder a quote or
inquiry is put to answers or accepts it; an answer never comes from the poster itself; every
offer of a thread names the thread's first inquiry or quote.

Refusals, in precedence: a malformed quantity or price (`amount_must_be_positive`, not
recorded); what is answered is not an open block quote or inquiry (`unknown_order`, not
recorded); the id used before for something else (`duplicate_id`); then, recorded as a rejected
order: answering oneself (`accounts_must_be_different`), answering what is put to another
(`quote_not_addressed_to_account`), then the order gates and the means, as for any order.

Choices where the rules are silent (written down here so they are found):
- an inquiry is not checked against the inquirer's units or funds (it holds nothing); they are
  checked when the inquirer accepts a reply. Its limit price is information for the
  counterparties: a counter-offer may propose another price within the band (that is what a
  counter-offer is), which the inquirer accepts or not. An inquiry is not used up by a trade:
  it stays open for more replies until its poster cancels it or the day's end expires it, and
  it is answered only on the trading day it was made (a day closed with no order open, which
  the day's end may skip, still ends it);
- the original quote stays open while it is countered: it stays held, and whoever it is put to
  may still accept it, until it is accepted, cancelled or expires. So a holder who counters a
  reply to its own quote holds for both offers (both are firm, and could be accepted by
  different holders): cancel the quote first not to;
- answering replaces one's own offer that was answered: accepting a reply to one's own quote
  uses that quote up by the quantity traded (the rest of a larger quote stays open; reason
  `taken_up_by_the_accepted_reply` once nothing is left), and accepting or countering a reply to
  one's own counter-offer cancels that counter-offer whole (a counter-offer is replaced by the
  next move, reason `replaced_by_a_newer_counter_offer`; so only the latest terms of a chain can
  be taken). The release and the new hold are one linked chain in one journal entry: both or
  neither;
- a counter-offer stands on its own: if what it answered is taken by someone else, cancelled or
  expired, it stays open (its poster may cancel it) and may still be accepted;
- inquiries and orders share one id space at the block desk (`inquire`, `quote`, `counter` and
  `accept_block` refuse an id used by either; a listed order is not checked against inquiries);
- an inquiry refused at entry is kept (status `rejected`, the code as its reason), as orders are;
  a repeat with the same id and body gets the same answer. A repeated quote, counter-offer or
  inquiry with the same id and body is replayed; an acceptance id is never reused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import Transfer, TransferCode, TransferFlags
from cets.domain.trading.calendar import Mode, to_local
from cets.domain.trading.orders import Fill, Side
from cets.domain.trading.rules import check_order, check_quantity
from cets.service.block_terms import (
    OPEN,
    REPLACED,
    TAKEN_UP,
    Answered,
    BlockUnitOfWork,
    InquiryRow,
    OfferTerms,
    Release,
    block_uow,
    check_answerer,
    check_side,
    malformed,
    not_an_inquiry,
    opposite,
    quote_answered,
    replay,
    same_counter,
    same_inquiry,
    same_quote,
    used_id,
)
from cets.service.clock import to_us
from cets.service.ports import Command, CommandResult, OrderRow
from cets.service.venue_base import VenueBase, VenueUnitOfWork, order_hold_id


class BlockDesk(VenueBase):
    """The block agreement commands of the venue (mixed into `Exchange`)."""

    def quote(
        self,
        order_id: str,
        account: str,
        instrument: str,
        side: str,
        quantity: int,
        price: int,
        *,
        to: str | None = None,
        actor: str,
    ) -> CommandResult:
        """Post a block quote, to anyone or put to one counterparty `to`; it holds its side."""
        body: dict[str, Any] = dict(id=order_id, account=account, instrument=instrument)
        body |= dict(side=side, quantity=quantity, price=price, mode=Mode.block.value)
        if to is not None:
            body["to"] = to
        bad = malformed(quantity=quantity, price=price)
        if bad is not None:
            return bad

        def work(uow: VenueUnitOfWork) -> CommandResult:
            blk = block_uow(uow)
            repeat = _repeat(blk, order_id, lambda known, terms: same_quote(known, terms, body))
            if repeat is not None:
                return repeat
            now = self.clock.now()
            row = self._new_order(
                uow, now, order_id, instrument, account, side, Mode.block, price, quantity
            )
            terms = None if to is None else OfferTerms(order_id, order_id, None, to)
            try:
                if to is not None:
                    self._block_addressee(blk, side, account, to)
                hold = self._admit(uow, row, now)
                result = self._block_enter(blk, row, hold, None, "order", actor, body)
            except DomainError as refused:
                return self._block_rejected(blk, row, terms, refused)
            self._block_store(blk, row, terms, None)
            return result._replace(message=row.status)

        return self._refusing(work)

    def inquire(
        self,
        inquiry_id: str,
        account: str,
        instrument: str,
        side: str,
        quantity: int,
        price: int | None = None,
        *,
        to: str | None = None,
        actor: str,
    ) -> CommandResult:
        """Ask for block quotes (询价): checked like a block quote, but holding nothing."""
        body: dict[str, Any] = dict(id=inquiry_id, account=account, instrument=instrument)
        body |= dict(side=side, quantity=quantity, price=price, to=to)
        bad = malformed(quantity=quantity, **({} if price is None else {"price": price}))
        if bad is not None:
            return bad

        def work(uow: VenueUnitOfWork) -> CommandResult:
            blk = block_uow(uow)
            known = blk.inquiry(inquiry_id)
            if known is not None:
                return replay(same_inquiry(known, body), "inquiry", known)
            if blk.order(inquiry_id) is not None:
                raise used_id(inquiry_id, "an order")
            now = self.clock.now()
            row = InquiryRow(
                inquiry_id,
                instrument,
                account,
                side,
                quantity,
                price,
                to,
                OPEN,
                None,
                self.calendar.trading_day_of(to_local(now)),
                to_us(now),
            )
            try:
                self._block_check_inquiry(blk, row, now)
            except DomainError as refused:
                row.status, row.reason = "rejected", refused.code.value
                blk.insert_inquiry(row)
                return CommandResult(refused.code, refused.message, field=refused.field)
            blk.insert_inquiry(row)
            seq = uow.journal("block_inquiry", actor, body, row.at_us)
            return CommandResult(None, OPEN, seq=seq)

        return self._refusing(work)

    def counter(
        self,
        order_id: str,
        account: str,
        reply_to: str,
        quantity: int,
        price: int,
        *,
        actor: str,
    ) -> CommandResult:
        """Answer the open block quote or inquiry `reply_to` with a counter-offer (还价): a block
        quote of the other side, put to its poster, holding its side."""
        body = dict(id=order_id, account=account, reply_to=reply_to, quantity=quantity, price=price)
        bad = malformed(quantity=quantity, price=price)
        if bad is not None:
            return bad

        def work(uow: VenueUnitOfWork) -> CommandResult:
            blk = block_uow(uow)
            repeat = _repeat(blk, order_id, lambda known, terms: same_counter(known, terms, body))
            if repeat is not None:
                return repeat
            now = self.clock.now()
            answered = self._block_answered(blk, reply_to, now)
            side = opposite(answered.side)
            row = self._new_order(
                uow, now, order_id, answered.instrument, account, side, Mode.block, price, quantity
            )
            terms = OfferTerms(order_id, answered.thread, reply_to, answered.account)
            try:
                check_answerer(answered, account, "counter")
                hold = self._admit(uow, row, now)
                release = self._block_own_offer(blk, answered.terms, account, traded=None)
                result = self._block_enter(blk, row, hold, release, "block_counter", actor, body)
            except DomainError as refused:
                return self._block_rejected(blk, row, terms, refused)
            self._block_store(blk, row, terms, release)
            return result._replace(message=row.status)

        return self._refusing(work)

    def accept_block(self, order_id: str, account: str, quote: str, *, actor: str) -> CommandResult:
        """Block agreement: accept a posted block quote whole, at its price; the acceptance is
        the other side's order and makes the trade. Its own gates (block session 13:00-15:00,
        >= 100,000 t, +-30% band) and hold apply as to any order. Only the holder a quote is
        put to may accept it."""

        def work(uow: VenueUnitOfWork) -> CommandResult:
            blk = block_uow(uow)
            posted = blk.order(quote)
            if posted is None or posted.mode != Mode.block or posted.status != OPEN:
                raise DomainError(
                    RejectCode.unknown_order, f"no open block quote {quote!r}", field="quote"
                )
            if blk.order(order_id) is not None or blk.inquiry(order_id) is not None:
                return CommandResult(
                    RejectCode.duplicate_id, f"order id {order_id!r} was already used"
                )
            now = self.clock.now()
            side = opposite(posted.side)
            left = posted.quantity - posted.filled - posted.cancelled
            row = self._new_order(
                uow, now, order_id, posted.instrument, account, side, Mode.block, posted.price, left
            )
            body = {"id": order_id, "account": account, "quote": quote}
            terms = blk.offer_terms(quote)
            try:
                check_answerer(quote_answered(posted, terms), account, "accept")
                hold = self._admit(uow, row, now)
                release = self._block_own_offer(blk, terms, account, traded=left)
                result = self._block_enter(blk, row, hold, release, "block_accept", actor, body)
            except DomainError as refused:
                return self._refused(uow, row, refused)
            self._block_store(blk, row, None, release)
            buy, sell = (row.id, quote) if side == Side.buy else (quote, row.id)
            self._record_fills(
                uow, row, (Fill(quote, row.id, posted.price, left, buy, sell, 0, 0),), actor
            )
            row.status = "filled"
            uow.save_order_state(row)
            return result._replace(message=row.status)

        return self._refusing(work)

    def cancel_inquiry(
        self, inquiry_id: str, *, actor: str, account: str | None = None
    ) -> CommandResult:
        """Withdraw an open inquiry (it held nothing; the replies to it stay open)."""

        def work(uow: VenueUnitOfWork) -> CommandResult:
            blk = block_uow(uow)
            row = blk.inquiry(inquiry_id)
            if row is None or (account is not None and row.account != account):
                raise DomainError(
                    RejectCode.unknown_order, f"no inquiry {inquiry_id!r}", field="id"
                )
            if row.status != OPEN:
                raise DomainError(
                    RejectCode.unknown_order,
                    f"inquiry {inquiry_id!r} is {row.status}: nothing left to cancel",
                    field="id",
                )
            row.status = "cancelled"
            blk.save_inquiry_state(row)
            now = to_us(self.clock.now())
            seq = uow.journal("inquiry_cancelled", actor, {"id": inquiry_id}, now)
            return CommandResult(None, row.status, seq=seq)

        return self._refusing(work)

    def _expire_inquiries(self, uow: VenueUnitOfWork) -> int:
        """The day's end: inquiries are day orders too."""
        return block_uow(uow).expire_inquiries()

    # -- the steps of the commands ------------------------------------------------------------

    def _block_addressee(self, uow: BlockUnitOfWork, side: str, account: str, to: str) -> None:
        """A quote or inquiry may be put to another holder that exists and is not closed."""
        check_side(side)
        if to == account:
            raise DomainError(
                RejectCode.accounts_must_be_different,
                f"{account} cannot put a quote or inquiry to itself",
                field="to",
            )
        self._holder(uow, to, field="to")

    def _block_check_inquiry(self, uow: BlockUnitOfWork, row: InquiryRow, now: datetime) -> None:
        """An inquiry's gates in their precedence: those of a block quote, without the means."""
        check_side(row.side)
        if row.to is not None:
            self._block_addressee(uow, row.side, row.account, row.to)
        selling = row.side == Side.sell
        self._holder(uow, row.account, moving_out=selling, receiving=not selling, field="account")
        instruments = uow.instruments()
        if row.instrument not in instruments:
            raise DomainError(
                RejectCode.unknown_instrument,
                f"no instrument {row.instrument!r}",
                field="instrument",
            )
        prev_close, halted = instruments[row.instrument]
        halted = halted or uow.venue()[1]
        if row.price is not None:
            check_order(
                row.price,
                row.quantity,
                Mode.block,
                now,
                prev_close,
                self.calendar,
                self.policy,
                halted,
                instrument=row.instrument,
            )
            return
        if halted:  # the gates of `check_order` that do not need a price, in its order
            raise DomainError(
                RejectCode.instrument_halted,
                f"trading in {row.instrument} is halted; inquiries are rejected until it resumes",
                field="instrument",
            )
        self.calendar.check_session(now, Mode.block)
        check_quantity(row.quantity, Mode.block, self.policy)

    def _block_answered(self, uow: BlockUnitOfWork, reply_to: str, now: datetime) -> Answered:
        """The open block quote, else the open inquiry of today, that `reply_to` names (an
        inquiry of an earlier day is over even if no day's end has marked it expired yet)."""
        posted = uow.order(reply_to)
        if posted is not None and posted.mode == Mode.block and posted.status == OPEN:
            return quote_answered(posted, uow.offer_terms(reply_to))
        inquiry = uow.inquiry(reply_to) if posted is None else None
        today = self.calendar.trading_day_of(to_local(now))
        if inquiry is not None and inquiry.status == OPEN and inquiry.day == today:
            return Answered(
                inquiry.id,
                inquiry.account,
                inquiry.instrument,
                inquiry.side,
                inquiry.to,
                inquiry.id,
                None,
            )
        raise DomainError(
            RejectCode.unknown_order,
            f"no open block quote or inquiry {reply_to!r}",
            field="reply_to",
        )

    def _block_own_offer(
        self, uow: BlockUnitOfWork, answered: OfferTerms | None, account: str, *, traded: int | None
    ) -> Release | None:
        """What `account`'s answer to an offer releases of its own open offer that the offer
        replied to: a counter-offer whole (replaced by this move); its quote by the quantity
        `traded` when the answer is an acceptance (a counter-offer leaves the quote alone)."""
        if answered is None or answered.reply_to is None:
            return None
        own = uow.order(answered.reply_to)
        if own is None or own.account != account or own.mode != Mode.block or own.status != OPEN:
            return None
        own_terms = uow.offer_terms(own.id)
        left = own.quantity - own.filled - own.cancelled
        why = REPLACED if traded is None else TAKEN_UP
        if own_terms is not None and own_terms.reply_to is not None:
            return self._block_release(uow, own, left, why)
        if traded is None:
            return None
        return self._block_release(uow, own, min(left, traded), why)

    def _block_release(
        self, uow: BlockUnitOfWork, own: OrderRow, quantity: int, why: str
    ) -> Release:
        """Void `quantity` of `own`'s hold (all it keeps, fee part included, when nothing is
        left of it afterwards)."""
        hold = uow.hold(order_hold_id(own.id))
        assert hold is not None, f"open order {own.id} has no hold"
        whole = own.quantity - own.filled - own.cancelled == quantity
        share = quantity if own.side == Side.sell else quantity * own.price
        amount = 0 if whole else min(share, hold.remaining)  # 0: all that remains
        transfer = self._on_hold(
            TransferId(f"order:{own.id}/void:{own.cancelled + quantity}"),
            hold,
            amount,
            TransferCode.order,
            TransferFlags.VOID_PENDING,
            own.id,
        )
        return Release(own, quantity, transfer, why)

    def _block_enter(
        self,
        uow: BlockUnitOfWork,
        row: OrderRow,
        hold: Transfer,
        release: Release | None,
        kind: str,
        actor: str,
        body: dict[str, Any],
    ) -> CommandResult:
        """Journal `row` as `kind` with its hold, after the release it makes (one linked chain:
        both or neither); a refusal is raised as the DomainError the order is rejected with."""
        transfers: tuple[Transfer, ...] = (hold,)
        if release is not None:
            transfers = (release.transfer, hold)
            body = body | {
                "releases": {
                    "order": release.order.id,
                    "quantity": release.quantity,
                    "reason": release.why,
                }
            }
        (result,) = uow.submit([Command(kind, actor, body, transfers)], row.at_us)
        if not result.ok:
            assert result.code is not None
            raise DomainError(result.code, result.message)
        return result

    def _block_store(
        self,
        uow: BlockUnitOfWork,
        row: OrderRow,
        terms: OfferTerms | None,
        release: Release | None,
    ) -> None:
        """Store an accepted quote, counter-offer or acceptance, and what its release left."""
        uow.insert_order(row)
        if terms is not None:
            uow.insert_offer_terms(terms)
        if release is None:
            return
        own = release.order
        own.cancelled += release.quantity
        if own.quantity - own.filled - own.cancelled == 0:
            own.status, own.reason = "cancelled", release.why
        uow.save_order_state(own)

    def _block_rejected(
        self,
        uow: BlockUnitOfWork,
        row: OrderRow,
        terms: OfferTerms | None,
        refused: DomainError,
    ) -> CommandResult:
        """Record a refused quote or counter-offer, with its terms (the thread shows it)."""
        result = self._refused(uow, row, refused)
        if terms is not None:
            uow.insert_offer_terms(terms)
        return result


def _repeat(
    uow: BlockUnitOfWork, order_id: str, same: Callable[[OrderRow, OfferTerms | None], bool]
) -> CommandResult | None:
    """The answer to a quote or counter-offer id used before (None: a new id): replayed if
    `same` says it is the same offer, else `duplicate_id`; an inquiry's id is taken too."""
    known = uow.order(order_id)
    if known is not None:
        return replay(same(known, uow.offer_terms(order_id)), "order", known)
    not_an_inquiry(uow, order_id)
    return None
