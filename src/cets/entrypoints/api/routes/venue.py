"""The venue over HTTP: orders, picks and cancels for holders' operators; instruments, halts and
the day's end for the exchange operator; depth, K-lines and the tape for everyone (no key).

Prices are strings in yuan per tonne with two decimals, as the scenario files write them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from cets.domain.errors import DomainError, RejectCode
from cets.domain.marketdata.klines import Bar, Interval
from cets.domain.registry.access import HOLDER_ROLES
from cets.domain.trading.calendar import Mode, to_local
from cets.domain.units import format_fen
from cets.entrypoints import market_reads
from cets.entrypoints.api import schemas as s
from cets.entrypoints.api.deps import (
    Caller,
    Svc,
    allow,
    created,
    fen,
    from_domain,
    order_out,
    refused,
)
from cets.entrypoints.api.errors import ApiError, responses
from cets.entrypoints.api.routes import block
from cets.service.clock import from_us
from cets.service.ports import OrderRow

router = APIRouter(prefix="/v1", tags=["venue"])

IdPath = Annotated[str, Path(max_length=100, pattern=s.ID_PATTERN)]
SymbolPath = Annotated[str, Path(max_length=16, pattern=r"^[A-Z][A-Z0-9-]*$")]


def _own_order(svc: Svc, person: Caller, order_id: str, kind: str) -> OrderRow:
    """The order, if `person` may `kind` it; another holder's order is not found (not 403)."""
    order = svc.store.venue_order(order_id)
    missing = ApiError("not_found", f"no order {order_id!r}", status=404)
    if order is None:
        allow(person, kind, {"account": person.holder})
        raise missing
    if person.role in HOLDER_ROLES and person.holder != order.account:
        allow(person, kind, {"account": person.holder})
        raise missing
    allow(person, kind, {"account": order.account})
    return order


ORDER_RESPONSES = {
    200: {"model": s.OrderOut, "description": "a repeat of the same order id"},
    **responses(401, 403, 404, 409, 422),
}


@router.post(
    "/orders",
    status_code=201,
    response_model=s.OrderOut,
    responses=ORDER_RESPONSES,
    summary="Enter a listed limit order: checks, hold, matching; the rest rests",
)
def place_order(body: s.OrderIn, response: Response, svc: Svc, person: Caller) -> s.OrderOut:
    allow(person, "trade", {"account": body.account})
    result = svc.exchange.place(
        body.id,
        body.account,
        body.instrument,
        body.side,
        body.quantity,
        fen(body.price, "price"),
        mode=body.mode,
        actor=person.id,
    )
    created(result, response)
    order = svc.store.venue_order(body.id)
    assert order is not None
    return order_out(order)


@router.post(
    "/picks",
    status_code=201,
    response_model=s.OrderOut,
    responses=responses(401, 403, 409, 422),
    summary="Take a resting quote (within the best five levels of its side) at its price",
)
def pick(body: s.PickIn, svc: Svc, person: Caller) -> s.OrderOut:
    allow(person, "trade", {"account": body.account})
    result = svc.exchange.pick(body.id, body.account, body.quote, body.quantity, actor=person.id)
    if not result.ok:
        raise refused(result)
    order = svc.store.venue_order(body.id)
    assert order is not None
    return order_out(order)


@router.post(
    "/block-accepts",
    status_code=201,
    response_model=s.OrderOut,
    responses=responses(401, 403, 409, 422),
    summary="Accept a block agreement quote whole, at its price: the trade is made",
)
def accept_block(body: s.BlockAcceptIn, svc: Svc, person: Caller) -> s.OrderOut:
    allow(person, "trade", {"account": body.account})
    result = svc.exchange.accept_block(body.id, body.account, body.quote, actor=person.id)
    if not result.ok:
        raise refused(result)
    order = svc.store.venue_order(body.id)
    assert order is not None
    return order_out(order)


@router.get(
    "/orders",
    response_model=s.OrdersOut,
    responses=responses(401, 403, 422),
    summary="An account's orders and quotes in the order they came (only the open ones: open)",
)
def list_orders(
    svc: Svc,
    person: Caller,
    account: Annotated[str | None, Query(description="Default: the caller's own")] = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
) -> s.OrdersOut:
    whose = account or person.holder
    if whose is None:
        raise ApiError(RejectCode.invalid_field, "account is required for staff", field="account")
    allow(person, "read_orders", {"account": whose})
    status = ("open", "partially_filled") if open_only else None
    rows = svc.store.venue_orders(account=whose, status=status)
    return s.OrdersOut(account=whose, orders=[order_out(o) for o in rows])


@router.get(
    "/market/clock",
    response_model=s.ClockOut,
    summary="The market's time, trading day and whether listed trading is open (public)",
)
def market_clock(svc: Svc) -> s.ClockOut:
    now = to_local(svc.clock.now())
    calendar = svc.exchange.calendar
    return s.ClockOut(
        now=now.isoformat(timespec="seconds"),
        trading_day=calendar.trading_day_of(now),
        session="open" if calendar.in_session(now, Mode.listed) else "closed",
        demo=bool(getattr(svc.clock, "demo", False)),
    )


@router.get(
    "/market/instruments",
    response_model=s.InstrumentsOut,
    summary="Instruments: those listed on the venue and those with imported history (public)",
)
def list_instruments(svc: Svc) -> s.InstrumentsOut:
    listed = svc.store.venue_instruments()
    history = {row[0]: row[1:] for row in svc.store.bar_instruments()}
    return s.InstrumentsOut(
        instruments=[
            s.InstrumentOut(
                symbol=symbol,
                listed=symbol in listed,
                halted=symbol in listed and listed[symbol][1],
                prev_close=format_fen(listed[symbol][0]) if symbol in listed else None,
                bars=history[symbol][0] if symbol in history else 0,
                first_day=history[symbol][1] if symbol in history else None,
                last_day=history[symbol][2] if symbol in history else None,
            )
            for symbol in sorted(listed.keys() | history.keys())
        ]
    )


@router.get(
    "/orders/{order_id}",
    response_model=s.OrderOut,
    responses=responses(401, 403, 404, 422),
    summary="One order and its state",
)
def get_order(order_id: IdPath, svc: Svc, person: Caller) -> s.OrderOut:
    return order_out(_own_order(svc, person, order_id, "read_orders"))


@router.post(
    "/orders/{order_id}/cancel",
    response_model=s.OrderOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Cancel what remains of an open order; its hold on it is released",
)
def cancel_order(order_id: IdPath, svc: Svc, person: Caller) -> s.OrderOut:
    order = _own_order(svc, person, order_id, "trade")
    result = svc.exchange.cancel(order_id, actor=person.id)
    if not result.ok:
        raise refused(result)
    after = svc.store.venue_order(order.id)
    assert after is not None
    return order_out(after)


@router.post(
    "/instruments",
    status_code=201,
    response_model=s.DoneOut,
    responses=responses(401, 403, 422),
    summary="List an instrument (a unit asset) with the previous close its band is measured from",
)
def list_instrument(body: s.InstrumentIn, svc: Svc, person: Caller) -> s.DoneOut:
    allow(person, "run_market")
    try:
        result = svc.exchange.list_instrument(
            body.symbol, fen(body.prev_close, "prev_close"), actor=person.id
        )
    except DomainError as exc:
        raise from_domain(exc) from exc
    if not result.ok:
        raise refused(result)
    return s.DoneOut(ok=True, seq=result.seq)


def _halt(svc: Svc, person: Caller, instrument: str, halted: bool) -> s.DoneOut:
    allow(person, "run_market")
    result = svc.exchange.halt(instrument, actor=person.id, halted=halted)
    if not result.ok:
        raise refused(result)
    return s.DoneOut(ok=True, seq=result.seq)


@router.post(
    "/market/{instrument}/halt",
    response_model=s.DoneOut,
    responses=responses(401, 403, 422),
    summary="Halt trading in an instrument",
)
def halt(instrument: SymbolPath, svc: Svc, person: Caller) -> s.DoneOut:
    return _halt(svc, person, instrument, True)


@router.post(
    "/market/{instrument}/resume",
    response_model=s.DoneOut,
    responses=responses(401, 403, 422),
    summary="Resume trading in an instrument",
)
def resume(instrument: SymbolPath, svc: Svc, person: Caller) -> s.DoneOut:
    return _halt(svc, person, instrument, False)


@router.post(
    "/market/end-of-day",
    response_model=s.DoneOut,
    responses=responses(401, 403, 409),
    summary="The day's end: expire orders, settle the day's trades, fix the close",
)
def end_of_day(svc: Svc, person: Caller) -> s.DoneOut:
    allow(person, "close_day")
    result = svc.exchange.end_of_day(actor=person.id)
    if not result.ok:
        raise refused(result)
    return s.DoneOut(ok=True, seq=result.seq)


# -- public market data ---------------------------------------------------------------------


def _unknown(instrument: str) -> ApiError:
    return ApiError("not_found", f"no instrument {instrument!r}", status=404)


@router.get(
    "/market/{instrument}/depth",
    response_model=s.DepthOut,
    responses=responses(404, 422),
    summary="The five best price levels of each side (public)",
)
def depth(instrument: SymbolPath, svc: Svc) -> s.DepthOut:
    levels = svc.exchange.depth(instrument)
    if levels is None:
        raise _unknown(instrument)
    bids, asks = levels
    return s.DepthOut(
        instrument=instrument,
        bids=[s.Level(price=format_fen(p), quantity=q) for p, q in bids],
        asks=[s.Level(price=format_fen(p), quantity=q) for p, q in asks],
    )


@router.get(
    "/market/{instrument}/quotes",
    response_model=s.QuotesOut,
    responses=responses(404, 422),
    summary="The resting orders of the five best levels, each a quote to pick (public; no holder)",
)
def quotes(instrument: SymbolPath, svc: Svc) -> s.QuotesOut:
    found = svc.exchange.quotes(instrument)
    if found is None:
        raise _unknown(instrument)
    return s.QuotesOut(
        instrument=instrument,
        quotes=[
            s.QuoteOut(id=o.id, side=o.side.value, price=format_fen(o.price), quantity=o.remaining)
            for o in found
        ],
    )


@router.get(
    "/market/{instrument}/trades",
    response_model=s.TapeOut,
    responses=responses(422),
    summary="The latest trades, newest first (public; no buyer or seller)",
)
def tape(
    instrument: SymbolPath, svc: Svc, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> s.TapeOut:
    trades = svc.store.venue_trades(instrument=instrument, last=limit)
    return s.TapeOut(
        instrument=instrument,
        trades=[
            s.TapeTrade(
                id=t.id,
                price=format_fen(t.price),
                quantity=t.quantity,
                mode=t.mode,
                at=from_us(t.at_us).isoformat(),
            )
            for t in reversed(trades)
        ],
    )


def _bars(svc: Svc, instrument: str, interval: Interval, start: date, end: date) -> list[Bar]:
    return market_reads.bars(svc.store, svc.exchange.calendar, instrument, interval, start, end)


@router.get(
    "/market/{instrument}/klines",
    response_model=s.KlinesOut,
    responses=responses(422),
    summary="K-lines (1m, 5m, 15m, 30m, 1h, 1d, 1w, 1M) aligned to the Asia/Shanghai trading day",
)
def klines(
    instrument: SymbolPath,
    svc: Svc,
    interval: Annotated[Interval, Query()] = Interval.day,
    start: Annotated[s.IsoDate | None, Query()] = None,
    end: Annotated[s.IsoDate | None, Query()] = None,
) -> s.KlinesOut:
    first, last = start or date(1900, 1, 1), end or date(9999, 12, 31)
    if first > last:
        raise ApiError(
            RejectCode.invalid_field, f"start {first} is after end {last}", field="start"
        )
    bars = _bars(svc, instrument, interval, first, last)
    return s.KlinesOut(
        instrument=instrument,
        interval=interval.value,
        bars=[
            s.BarOut(
                time=_bar_time(b.time, interval),
                open=format_fen(b.open),
                high=format_fen(b.high),
                low=format_fen(b.low),
                close=format_fen(b.close),
                volume=b.volume,
                amount=format_fen(b.amount),
            )
            for b in bars
        ],
    )


def _bar_time(at: datetime, interval: Interval) -> str:
    return market_reads.bar_label(at, interval)


router.include_router(block.router)  # /v1/block/...: block agreement negotiation
