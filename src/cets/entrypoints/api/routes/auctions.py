"""One-way auctions over HTTP: announced (the exchange operator; the authority for its own
reserve), bid on (holders' operators with `trade`, for their own holder), closed (the exchange
operator), and read back with each bid's allocation and price.

Reading an auction needs a key: staff see every bid, a holder's operator (with `read`) the
announcement, the result and its own holder's bids only (who else bid, and how, is not theirs to
see; the public tape shows the auction's trades without buyers or sellers).

Prices are strings in yuan per tonne with two decimals; window times Asia/Shanghai local time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response

from cets.domain.errors import RejectCode
from cets.domain.registry.access import HOLDER_ROLES, Person
from cets.domain.registry.holders import AUTHORITY
from cets.domain.trading.calendar import Window
from cets.domain.units import format_fen
from cets.entrypoints.api import schemas as s
from cets.entrypoints.api.deps import Caller, Svc, allow, fen, order_out, refused
from cets.entrypoints.api.errors import ApiError, responses
from cets.service.auction import AuctionView
from cets.service.clock import SHANGHAI, from_us
from cets.service.ports import CommandResult

router = APIRouter(prefix="/v1/auctions", tags=["auctions"])

AuctionPath = Annotated[str, Path(max_length=100, pattern=s.ID_PATTERN)]
_REPLAY = {"description": "a repeat of the same id and body: the first answer"}


def _local(text: str, field: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)
    except ValueError as exc:
        raise ApiError(
            RejectCode.invalid_field, f"{field} {text!r} is not a date and time", field=field
        ) from exc


def _window(window: s.AuctionWindow | None) -> Window | None:
    if window is None:
        return None
    return _local(window.start, "window.start"), _local(window.end, "window.end")


def _refused(result: CommandResult) -> ApiError:
    """The service's refusal; an unknown auction named in the path is a 404."""
    if result.code == RejectCode.unknown_auction:
        return ApiError(result.code, result.message, field=result.field, status=404)
    return refused(result)


def _view(svc: Svc, auction_id: str) -> AuctionView:
    view = svc.exchange.auction_view(auction_id)
    if view is None:
        raise ApiError("not_found", f"no auction {auction_id!r}", status=404)
    return view


def _auction_out(view: AuctionView, person: Person) -> s.AuctionOut:
    a = view.auction
    window = None
    if a.opens_us is not None and a.closes_us is not None:
        window = s.AuctionWindow(
            start=from_us(a.opens_us).replace(tzinfo=None).isoformat(),
            end=from_us(a.closes_us).replace(tzinfo=None).isoformat(),
        )
    own_only = person.role in HOLDER_ROLES
    bids = []
    for b in view.bids:
        if own_only and b.account != person.holder:
            continue
        allocated, paid = view.allocation(b.id)
        bids.append(
            s.AuctionBidOut(
                id=b.id,
                account=b.account,
                price=format_fen(b.price),
                quantity=b.quantity,
                status=b.status,
                reason=b.reason,
                allocated=allocated,
                paid=None if paid is None else format_fen(paid),
            )
        )
    return s.AuctionOut(
        id=a.id,
        seller=a.seller,
        instrument=a.instrument,
        quantity=a.quantity,
        reserve_price=format_fen(a.reserve),
        pricing=a.pricing,
        window=window,
        state=view.state,
        sold=view.order.filled,
        clearing_price=None if a.clearing is None else format_fen(a.clearing),
        bids=bids,
    )


@router.post(
    "",
    status_code=201,
    response_model=s.AuctionOut,
    responses={200: {"model": s.AuctionOut, **_REPLAY}, **responses(401, 403, 409, 422)},
    summary="Announce a one-way auction; the seller's units are held from now",
)
def open_auction(body: s.AuctionIn, response: Response, svc: Svc, person: Caller) -> s.AuctionOut:
    # The authority's reserve is the state's to sell: the authority announces that auction.
    allow(person, "open_reserve_auction" if body.seller == AUTHORITY else "open_auction")
    result = svc.exchange.open_auction(
        body.id,
        body.seller,
        body.instrument,
        body.quantity,
        fen(body.reserve_price, "reserve_price"),
        body.pricing,
        window=_window(body.window),
        actor=person.id,
    )
    if not result.ok:
        raise _refused(result)
    response.status_code = 200 if result.replayed else 201
    return _auction_out(_view(svc, body.id), person)


@router.post(
    "/{auction_id}/bids",
    status_code=201,
    response_model=s.OrderOut,
    responses={200: {"model": s.OrderOut, **_REPLAY}, **responses(401, 403, 404, 409, 422)},
    summary="Bid in an open auction; the bid's value and the buyer's fee are held",
)
def bid(
    auction_id: AuctionPath, body: s.BidIn, response: Response, svc: Svc, person: Caller
) -> s.OrderOut:
    allow(person, "trade", {"account": body.account})
    result = svc.exchange.bid(
        body.id, auction_id, body.account, body.quantity, fen(body.price, "price"), actor=person.id
    )
    if not result.ok:
        raise _refused(result)
    response.status_code = 200 if result.replayed else 201
    order = svc.store.venue_order(body.id)
    assert order is not None
    return order_out(order)


@router.post(
    "/{auction_id}/close",
    response_model=s.AuctionOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Close an auction: best bids first up to the quantity; the rest of each hold released",
)
def close_auction(auction_id: AuctionPath, svc: Svc, person: Caller) -> s.AuctionOut:
    allow(person, "close_auction")
    result = svc.exchange.close_auction(auction_id, actor=person.id)
    if not result.ok:
        raise _refused(result)
    return _auction_out(_view(svc, auction_id), person)


@router.get(
    "/{auction_id}",
    response_model=s.AuctionOut,
    responses=responses(401, 403, 404, 422),
    summary="An auction, its state and, once closed, each bid's allocation and price",
)
def get_auction(auction_id: AuctionPath, svc: Svc, person: Caller) -> s.AuctionOut:
    allow(person, "read_auctions", {"holder": person.holder})
    return _auction_out(_view(svc, auction_id), person)
