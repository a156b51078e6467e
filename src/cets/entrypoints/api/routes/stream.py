"""The live market data push: trades and depth of one instrument as server-sent events (public).
What a client sees is documented on the route (`stream`, shown at /docs); here, how it is made.

The engine writes in its own transactions, possibly in another process, so each stream polls the
store (every `CETS_STREAM_POLL_MS`, default 200 ms): the trades after its last ordinal, and the
venue version. Only when the version moved is the Exchange asked for the depth (a read that takes
the writers' lock on SQLite), and only a depth that differs from the one sent last is sent. The
reads run in worker threads, never on the event loop. A stream ends when its client leaves (the
framework cancels it under an ASGI 2.3 server; `_live` checks too, for 2.4 servers that do not);
`cets serve` cancels the streams still open 3 s into a shutdown, since none ends by itself.

Trade ordinals are the event ids: they grow in commit order (writers take turns at the journal
head), so "the trades after ordinal N" is exactly what a client that has N has not had.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from cets.domain.units import format_fen
from cets.entrypoints.api import schemas as s
from cets.entrypoints.api.deps import Services, Svc
from cets.entrypoints.api.errors import responses
from cets.entrypoints.api.routes.venue import SymbolPath, depth
from cets.service.clock import from_us
from cets.service.ports import TradeRow

router = APIRouter(prefix="/v1", tags=["venue"])

POLL_ENV = "CETS_STREAM_POLL_MS"
HEARTBEAT_ENV = "CETS_STREAM_HEARTBEAT_MS"
PAGE = 500  # trades read at a time; a full page is followed at once by the next
KEEP_ALIVE = ": keep-alive\n\n"


@dataclass(frozen=True, slots=True)
class Timing:
    poll_s: float = 0.2  # how often a stream reads the store
    heartbeat_s: float = 15.0  # the silence after which a keep-alive comment goes out

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Timing:
        """The timing `CETS_STREAM_POLL_MS` and `CETS_STREAM_HEARTBEAT_MS` set (whole ms > 0)."""

        def seconds(name: str, default: float) -> float:
            text = env.get(name)
            if text is None:
                return default
            if not (text.isascii() and text.isdigit()) or int(text) == 0:
                raise ValueError(f"{name}={text!r}, was expected a whole number of ms > 0")
            return int(text) / 1000

        default = cls()
        return cls(seconds(POLL_ENV, default.poll_s), seconds(HEARTBEAT_ENV, default.heartbeat_s))


# Read when the app is built: a malformed setting stops `cets serve` at its start.
TIMING = Timing.from_env(os.environ)


class EventStream(StreamingResponse):
    media_type = "text/event-stream"


def tape_trade(t: TradeRow) -> s.TapeTrade:
    """A trade as the tape shows it: no buyer, no seller, no fees."""
    return s.TapeTrade(
        id=t.id,
        price=format_fen(t.price),
        quantity=t.quantity,
        mode=t.mode,
        at=from_us(t.at_us).isoformat(),
    )


def event(kind: str, ordinal: int, data: s.DepthOut | s.TapeTrade) -> str:
    return f"event: {kind}\nid: {ordinal}\ndata: {data.model_dump_json()}\n\n"


@dataclass(frozen=True, slots=True)
class Opening:
    cursor: int  # the last trade ordinal the client has
    version: int  # the venue version `depth` is at least as new as
    depth: s.DepthOut


def _open(svc: Services, instrument: str, after: int | None) -> Opening:
    """Where a stream starts. The position is read before the depth, so a trade made in between
    is both in the depth and sent as a trade, never in neither."""
    version, last = svc.store.venue_position()
    return Opening(last if after is None else after, version, depth(instrument, svc))


@dataclass(frozen=True, slots=True)
class Tick:
    trades: list[TradeRow]
    version: int
    depth: s.DepthOut | None  # None: the venue version has not moved, the depth was not read


def _poll(svc: Services, instrument: str, cursor: int, version: int) -> Tick:
    now, _ = svc.store.venue_position()
    trades = svc.store.venue_trades_after(instrument, cursor, limit=PAGE)
    return Tick(trades, now, None if now == version else depth(instrument, svc))


async def _replay(svc: Services, instrument: str, cursor: int) -> AsyncIterator[str]:
    """Every trade after `cursor`, page by page (the `once` mode)."""
    while True:
        trades = await run_in_threadpool(
            svc.store.venue_trades_after, instrument, cursor, limit=PAGE
        )
        for trade in trades:
            cursor = trade.ordinal
            yield event("trade", cursor, tape_trade(trade))
        if len(trades) < PAGE:
            return


async def _live(
    request: Request, svc: Services, instrument: str, start: Opening, timing: Timing
) -> AsyncIterator[str]:
    """Trades and changed depths as they come, a keep-alive after a silence, until the client
    leaves (or the server cancels the stream at its shutdown)."""
    cursor, version, shown = start.cursor, start.version, start.depth
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        tick = await run_in_threadpool(_poll, svc, instrument, cursor, version)
        sent = bool(tick.trades)
        for trade in tick.trades:
            cursor = trade.ordinal
            yield event("trade", cursor, tape_trade(trade))
        version = tick.version
        if tick.depth is not None and tick.depth != shown:
            shown, sent = tick.depth, True
            yield event("depth", cursor, shown)
        if sent:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= timing.heartbeat_s:
            quiet_since = time.monotonic()
            yield KEEP_ALIVE
        if len(tick.trades) < PAGE:  # a full page: more are waiting, read on at once
            await anyio.sleep(timing.poll_s)


async def _events(
    request: Request, svc: Services, instrument: str, start: Opening, *, once: bool
) -> AsyncIterator[str]:
    yield event("depth", start.cursor, start.depth)
    if once:
        async for replayed in _replay(svc, instrument, start.cursor):
            yield replayed
        return
    async for live in _live(request, svc, instrument, start, TIMING):
        yield live


STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: `depth` first, then `trade` and `depth` as they "
        "happen; `: keep-alive` comments in between",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **responses(404, 422),
}


@router.get(
    "/market/{instrument}/stream",
    response_class=EventStream,
    responses=STREAM_RESPONSES,
    summary="Live trades and depth as server-sent events (public); resumes from Last-Event-ID",
)
async def stream(
    instrument: SymbolPath,
    request: Request,
    svc: Svc,
    once: Annotated[bool, Query(description="End after the depth and the missed trades")] = False,
    last_event_id: Annotated[
        str | None,
        Header(
            pattern=r"^[0-9]{1,18}$",
            description="The `id` of the last event received: the trades after it are sent",
        ),
    ] = None,
) -> EventStream:
    """`text/event-stream`, events like these:

    ```
    event: depth
    id: 41
    data: {"instrument":"CEA-2024","bids":[{"price":"59.90","quantity":200}],"asks":[]}

    event: trade
    id: 42
    data: {"id":"T42","price":"60.00","quantity":9,"mode":"listed","at":"2026-03-02T10:00:01+08:00"}

    : keep-alive
    ```

    The first event is the depth now (the body of `GET /v1/market/{instrument}/depth`); then
    each new trade of the instrument (an item of `GET /v1/market/{instrument}/trades`) as it is
    made, and the depth again whenever it changes. An event's `id` is a trade ordinal: the last
    trade this stream has sent (at the start, the venue's last trade). A client that reconnects
    with that id as `Last-Event-ID` (a browser's `EventSource` does so by itself) gets the depth
    now, then every trade of the instrument it missed, in order, and none it already had. A
    `: keep-alive` comment follows 15 s of silence, so proxies keep the connection open.
    `?once=true` ends the stream after the depth and the missed trades, for clients that cannot
    hold a connection open. No key is needed; an unknown instrument is a 404.
    """
    after = None if last_event_id is None else int(last_event_id)
    start = await run_in_threadpool(_open, svc, instrument, after)  # 404: no such instrument
    return EventStream(
        _events(request, svc, instrument, start, once=once),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
