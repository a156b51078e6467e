"""The nouns of block agreement negotiation and its pure checks: inquiries, a quote's terms
(addressee, what it answers, its thread), threads, and the rules an answer must meet. The
commands that use them are `block.BlockDesk`'s; the module docstring there gives the rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ledger.model import Transfer
from cets.domain.trading.calendar import Mode
from cets.domain.trading.orders import Side
from cets.service.ports import CommandResult, OrderRow
from cets.service.venue_base import VenueUnitOfWork

OPEN = "open"
TAKEN_UP = "taken_up_by_the_accepted_reply"
REPLACED = "replaced_by_a_newer_counter_offer"


@dataclass(slots=True)
class InquiryRow:
    """An inquiry as recorded (accepted or rejected) and its state now."""

    id: str
    instrument: str
    account: str
    side: str  # what the inquirer would do: buy or sell
    quantity: int
    price: int | None  # a limit, fen per tonne; None: none given
    to: str | None  # the one counterparty it is put to; None: anyone
    status: str  # open, cancelled, expired, rejected
    reason: str | None
    day: date
    at_us: int


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """What a block quote's order row cannot say: who may accept it, what it answers, its thread."""

    id: str
    thread: str
    reply_to: str | None
    to: str | None


@dataclass(frozen=True, slots=True)
class Thread:
    """A negotiation: the inquiry that began it (if one did) and its offers in arrival order."""

    id: str
    inquiry: InquiryRow | None
    offers: list[tuple[OrderRow, OfferTerms | None]]

    def seen_by(self, holder: str) -> Thread:
        """What one holder's operators see of it: what the holder posted, what is put to it, and
        what is put to anyone (other holders' private offers are not theirs to see)."""
        inquiry = self.inquiry
        if inquiry is not None and not _sees(holder, inquiry.account, inquiry.to):
            inquiry = None
        offers = [
            (o, terms)
            for o, terms in self.offers
            if _sees(holder, o.account, None if terms is None else terms.to)
        ]
        return Thread(self.id, inquiry, offers)


def _sees(holder: str, poster: str, to: str | None) -> bool:
    return holder == poster or to is None or to == holder


@dataclass(frozen=True, slots=True)
class Release:
    """The part of the answering holder's own open offer that its answer uses up or replaces."""

    order: OrderRow
    quantity: int
    transfer: Transfer
    why: str


def block_uow(uow: VenueUnitOfWork) -> BlockUnitOfWork:
    return uow  # type: ignore[return-value]  # the SQL unit of work has the block rows


class BlockUnitOfWork(VenueUnitOfWork, Protocol):
    def inquiry(self, inquiry_id: str) -> InquiryRow | None: ...
    def insert_inquiry(self, row: InquiryRow) -> None: ...
    def save_inquiry_state(self, row: InquiryRow) -> None: ...
    def expire_inquiries(self) -> int: ...
    def offer_terms(self, order_id: str) -> OfferTerms | None: ...
    def insert_offer_terms(self, terms: OfferTerms) -> None: ...


@dataclass(frozen=True, slots=True)
class Answered:
    """What an answer (a counter-offer or an acceptance) answers: a block quote or an inquiry."""

    id: str
    account: str
    instrument: str
    side: str
    to: str | None
    thread: str
    terms: OfferTerms | None  # a quote's terms (None: an inquiry, or a quote without terms)


def quote_answered(posted: OrderRow, terms: OfferTerms | None) -> Answered:
    return Answered(
        posted.id,
        posted.account,
        posted.instrument,
        posted.side,
        None if terms is None else terms.to,
        posted.id if terms is None else terms.thread,
        terms,
    )


def check_answerer(answered: Answered, account: str, verb: str) -> None:
    """Only another holder answers, and only the one a quote or inquiry is put to."""
    if account == answered.account:
        raise DomainError(
            RejectCode.accounts_must_be_different,
            f"{account} cannot {verb} its own quote {answered.id!r}",
            field="account",
        )
    if answered.to is not None and answered.to != account:
        raise DomainError(
            RejectCode.quote_not_addressed_to_account,
            f"{answered.id!r} is put to {answered.to} only, not to {account}",
            field="account",
        )


def check_side(side: str) -> None:
    if side not in (Side.buy, Side.sell):
        raise DomainError(RejectCode.invalid_field, f"side {side!r}: buy or sell", field="side")


def opposite(side: str) -> str:
    return Side.buy.value if side == Side.sell else Side.sell.value


def malformed(**values: int) -> CommandResult | None:
    """A quantity or price of 0 or less is no offer at all: refused, and not recorded."""
    for name, value in values.items():
        if value <= 0:
            return CommandResult(
                RejectCode.amount_must_be_positive, f"{name} {value}, was expected > 0", field=name
            )
    return None


def used_id(ident: str, what: str) -> DomainError:
    return DomainError(
        RejectCode.duplicate_id, f"id {ident!r} was already used for {what}", field="id"
    )


def not_an_inquiry(uow: BlockUnitOfWork, order_id: str) -> None:
    if uow.inquiry(order_id) is not None:
        raise used_id(order_id, "an inquiry")


def same_quote(known: OrderRow, terms: OfferTerms | None, body: dict[str, Any]) -> bool:
    mine = (known.account, known.instrument, known.side, known.quantity, known.price, known.mode)
    given = tuple(body[k] for k in ("account", "instrument", "side", "quantity", "price", "mode"))
    return mine == given and (None if terms is None else terms.to) == body.get("to")


def same_counter(known: OrderRow, terms: OfferTerms | None, body: dict[str, Any]) -> bool:
    mine = (known.account, known.quantity, known.price, known.mode)
    given = (body["account"], body["quantity"], body["price"], Mode.block.value)
    return mine == given and terms is not None and terms.reply_to == body["reply_to"]


def same_inquiry(known: InquiryRow, body: dict[str, Any]) -> bool:
    mine = (known.account, known.instrument, known.side, known.quantity, known.price, known.to)
    keys = ("account", "instrument", "side", "quantity", "price", "to")
    return mine == tuple(body[k] for k in keys)


def replay(same: bool, what: str, known: OrderRow | InquiryRow) -> CommandResult:
    """A repeat of the same id: the first answer again if the body is the same."""
    if not same:
        return CommandResult(
            RejectCode.duplicate_id, f"{what} id {known.id!r} was already used for another {what}"
        )
    if known.status == "rejected":
        assert known.reason is not None
        return CommandResult(
            RejectCode(known.reason), f"{what} {known.id!r} was rejected", replayed=True
        )
    return CommandResult(None, known.status, replayed=True)
