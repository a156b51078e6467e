"""Block agreement negotiation over HTTP (included in the venue's router, under /v1/block):
quotes put to anyone or to one holder, inquiries, counter-offers, withdrawing an inquiry, and
a negotiation's thread. Acceptance is POST /v1/block-accepts; cancelling a quote or counter-offer
is POST /v1/orders/{id}/cancel. Rules: `cets.service.block`.

Who sees what: a holder's operators see in a thread what their holder posted, what is put to it
and what is put to anyone; the authority, the registry operator, supervisors and the exchange
operator see it all (as for orders). Another holder's inquiry is not found (404), not forbidden."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from cets.adapters.sql.block_reads import BlockReads
from cets.domain.registry.access import HOLDER_ROLES
from cets.domain.units import format_fen
from cets.entrypoints.api import schemas as s
from cets.entrypoints.api.deps import Caller, Svc, allow, created, fen, order_out, refused
from cets.entrypoints.api.errors import ApiError, responses
from cets.service.block_terms import InquiryRow, OfferTerms
from cets.service.ports import OrderRow

router = APIRouter(prefix="/block", tags=["block agreement"])

IdPath = Annotated[str, Path(max_length=100, pattern=s.ID_PATTERN)]
POST_RESPONSES = {
    200: {"description": "a repeat of the same id and body"},
    **responses(401, 403, 409, 422),
}


def _reads(svc: Svc) -> BlockReads:
    return BlockReads(svc.store.engine)


def offer_out(o: OrderRow, terms: OfferTerms | None) -> s.BlockOfferOut:
    return s.BlockOfferOut(
        **order_out(o).model_dump(),
        to=None if terms is None else terms.to,
        reply_to=None if terms is None else terms.reply_to,
        thread=o.id if terms is None else terms.thread,
    )


def inquiry_out(i: InquiryRow) -> s.InquiryOut:
    return s.InquiryOut(
        id=i.id,
        account=i.account,
        instrument=i.instrument,
        side=i.side,
        quantity=i.quantity,
        price=None if i.price is None else format_fen(i.price),
        to=i.to,
        status=i.status,
        reason=i.reason,
    )


def _offer(svc: Svc, order_id: str) -> s.BlockOfferOut:
    order = svc.store.venue_order(order_id)
    assert order is not None, f"accepted offer {order_id} has no row"
    return offer_out(order, _reads(svc).terms(order_id))


@router.post(
    "/quotes",
    status_code=201,
    response_model=s.BlockOfferOut,
    responses=POST_RESPONSES,
    summary="Post a block quote (>= 100,000 t, +-30%, 13:00-15:00), to anyone or to one holder",
)
def post_quote(
    body: s.BlockQuoteIn, response: Response, svc: Svc, person: Caller
) -> s.BlockOfferOut:
    allow(person, "trade", {"account": body.account})
    result = svc.exchange.quote(
        body.id,
        body.account,
        body.instrument,
        body.side,
        body.quantity,
        fen(body.price, "price"),
        to=body.to,
        actor=person.id,
    )
    created(result, response)
    return _offer(svc, body.id)


@router.post(
    "/inquiries",
    status_code=201,
    response_model=s.InquiryOut,
    responses=POST_RESPONSES,
    summary="Ask for block quotes (an inquiry): it holds nothing and is answered by counter-offers",
)
def post_inquiry(body: s.InquiryIn, response: Response, svc: Svc, person: Caller) -> s.InquiryOut:
    allow(person, "trade", {"account": body.account})
    price = None if body.price is None else fen(body.price, "price")
    result = svc.exchange.inquire(
        body.id,
        body.account,
        body.instrument,
        body.side,
        body.quantity,
        price,
        to=body.to,
        actor=person.id,
    )
    created(result, response)
    found = _reads(svc).inquiry(body.id)
    assert found is not None
    return inquiry_out(found)


@router.post(
    "/counter-offers",
    status_code=201,
    response_model=s.BlockOfferOut,
    responses=POST_RESPONSES,
    summary="Answer a block quote or inquiry: a block quote of the other side, put to its poster",
)
def post_counter(
    body: s.CounterIn, response: Response, svc: Svc, person: Caller
) -> s.BlockOfferOut:
    allow(person, "trade", {"account": body.account})
    result = svc.exchange.counter(
        body.id,
        body.account,
        body.reply_to,
        body.quantity,
        fen(body.price, "price"),
        actor=person.id,
    )
    created(result, response)
    return _offer(svc, body.id)


@router.post(
    "/inquiries/{inquiry_id}/cancel",
    response_model=s.InquiryOut,
    responses=responses(401, 403, 404, 422),
    summary="Withdraw an open inquiry (the counter-offers to it stay open)",
)
def cancel_inquiry(inquiry_id: IdPath, svc: Svc, person: Caller) -> s.InquiryOut:
    found = _reads(svc).inquiry(inquiry_id)
    owner = person.holder if found is None else found.account
    if person.role in HOLDER_ROLES and person.holder != owner:
        owner, found = person.holder, None  # another holder's inquiry is not found
    allow(person, "trade", {"account": owner})
    if found is None:
        raise ApiError("not_found", f"no inquiry {inquiry_id!r}", status=404)
    result = svc.exchange.cancel_inquiry(inquiry_id, actor=person.id)
    if not result.ok:
        raise refused(result)
    after = _reads(svc).inquiry(inquiry_id)
    assert after is not None
    return inquiry_out(after)


@router.get(
    "/threads/{thread_id}",
    response_model=s.ThreadOut,
    responses=responses(401, 403, 404, 422),
    summary="A negotiation: the inquiry or quote it began with and every offer since",
)
def thread(thread_id: IdPath, svc: Svc, person: Caller) -> s.ThreadOut:
    holder = person.holder if person.role in HOLDER_ROLES else None
    allow(person, "read_orders", {"account": person.holder})
    found = _reads(svc).thread(thread_id)
    if found is not None and holder is not None:
        found = found.seen_by(holder)
    seen = set() if found is None else {o.id for o, _ in found.offers}
    if found is not None and found.inquiry is not None:
        seen.add(found.inquiry.id)
    if found is None or thread_id not in seen:  # what the holder may not see is not found
        raise ApiError("not_found", f"no negotiation {thread_id!r}", status=404)
    return s.ThreadOut(
        id=found.id,
        inquiry=None if found.inquiry is None else inquiry_out(found.inquiry),
        offers=[offer_out(o, terms) for o, terms in found.offers],
    )
