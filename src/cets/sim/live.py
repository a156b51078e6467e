"""The demo's living market: a market clock that runs through the trading sessions, and traders
who keep placing orders while `cets serve --demo` serves the dashboard.

**The demo clock** (`DemoClock`). A demo database holds a simulated year; the machine's own
clock is rarely inside a trading session of Beijing time, and a market seen at night is dead.
So the demo's clock starts just after the database's last event (`demo_start`: where it left
off, or the next session's opening) and runs at real speed through the trading sessions only:
09:30-11:30, 13:00-15:00 and two minutes after the close, in which the day closer fixes the day
and settles it (it polls every second); then it jumps to the next trading day's 09:30. Time
never runs backwards: a restart resumes after the last event written. The dashboard shows this
clock (`GET /v1/market/clock` says `demo: true`).

**The traders** (`LiveTraders`, a `Poller`). Every `poll_s` seconds, while a listed session is
open, a few simulated holders (the demo's key emitters and investors, never a demo login's own
holder) act in the listed instruments that traded most: a holder with available units sells
or, with money, buys, around the mid of the book (a fair value that drifts a tick or two),
resting one time in three a tick or two away and otherwise taking the best quote; their orders
left resting over `stale_s` are cancelled. Quantities are whole lots the holder can afford; a
refusal (band, funds) is simply not retried. Seeded: the same seed makes the same choices
(what the market answers depends on what the people using the demo do).

Prices are fen, quantities tonnes, all integers; the random numbers are only choices.
"""

from __future__ import annotations

import logging
import random
import time as clock_time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final

from sqlalchemy import func, select

from cets.adapters.sql import tables as t
from cets.adapters.sql.store import SqlStore
from cets.domain.registry.holders import HolderKind, HolderState
from cets.domain.trading.calendar import Mode, TradingCalendar, local_datetime, to_local
from cets.domain.trading.rules import band_limits
from cets.service.clock import from_us
from cets.service.exchange import Exchange
from cets.service.polling import Poller
from cets.service.queries import holder_positions

log = logging.getLogger(__name__)

ACTOR: Final = "sim-live"
# The demo's timeline of a trading day: the two listed sessions, the second stretched by two
# minutes for the day's close (which the day closer runs as soon as 15:00 has passed).
SEGMENTS: Final = ((time(9, 30), time(11, 30)), (time(13, 0), time(15, 2)))
TRADER_KINDS: Final = frozenset(
    {HolderKind.key_emitter, HolderKind.institution, HolderKind.individual}
)


class DemoClock:
    """A clock that starts at `start` and runs at `speed` times real time through the demo's
    timeline (module doc). `start` outside the timeline moves to the next segment's start."""

    demo = True  # what `GET /v1/market/clock` reports

    def __init__(
        self,
        start: datetime,
        calendar: TradingCalendar,
        *,
        speed: float = 1.0,
        monotonic: Callable[[], float] = clock_time.monotonic,
    ) -> None:
        self.calendar, self.speed, self._monotonic = calendar, speed, monotonic
        self._day, self._segment, self._at = self._place(to_local(start))
        self._t0 = monotonic()

    def _place(self, moment: datetime) -> tuple[date, int, datetime]:
        """(trading day, segment index, moment) of the first timeline instant at or after."""
        day = moment.date()
        while True:
            if self.calendar.is_trading_day(day):
                for i, (begin, end) in enumerate(SEGMENTS):
                    start, stop = local_datetime(day, begin), local_datetime(day, end)
                    if moment < stop:
                        return day, i, max(moment, start)
            day = self.calendar.next_trading_day(day)
            moment = local_datetime(day, SEGMENTS[0][0])

    def now(self) -> datetime:
        left = timedelta(seconds=(self._monotonic() - self._t0) * self.speed)
        day, segment, at = self._day, self._segment, self._at
        while True:
            stop = local_datetime(day, SEGMENTS[segment][1])
            if at + left < stop:
                return at + left
            left -= stop - at
            if segment + 1 < len(SEGMENTS):
                segment += 1
            else:
                day, segment = self.calendar.next_trading_day(day), 0
            at = local_datetime(day, SEGMENTS[segment][0])


def demo_start(store: SqlStore) -> datetime:
    """A moment just after the last event the database holds (the journal's last entry)."""
    with store.engine.connect() as conn:
        last = conn.execute(select(func.max(t.journal.c.at_us))).scalar_one()
    return from_us(int(last or 0) + 1_000_000)


@dataclass(slots=True)
class _Resting:
    order_id: str
    holder: str
    instrument: str
    placed: float  # monotonic seconds


class LiveTraders(Poller):
    """The demo's traders (module doc)."""

    name = "cets-live-traders"
    failure = "a live traders' round failed"

    def __init__(
        self,
        exchange: Exchange,
        *,
        seed: int = 1,
        poll_s: float = 2.0,
        stale_s: float = 90.0,
        instruments: int = 4,
        exclude: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(poll_s)
        self.exchange, self.stale_s = exchange, stale_s
        self.store: SqlStore = exchange.store  # type: ignore[assignment]
        self.rng = random.Random(f"live:{seed}")
        self.resting: list[_Resting] = []
        self.placed = self.traded = 0
        self._symbols = self._busiest(instruments)
        self._traders = sorted(
            h.id
            for h in self.store.holders()
            if h.kind in TRADER_KINDS and h.id not in exclude and h.state == HolderState.normal
        )
        self._fair: dict[str, int] = {}
        self._tag = f"{int(clock_time.time()):x}"

    def _busiest(self, count: int) -> list[str]:
        listed = self.store.venue_instruments()
        volume = {symbol: 0 for symbol, (_, halted) in listed.items() if not halted}
        for symbol in volume:
            bars = self.store.daily_bars(symbol)[-20:]
            volume[symbol] = sum(b.volume_t for b in bars)
        return sorted(volume, key=lambda s: (-volume[s], s))[:count]

    def run_once(self) -> int:
        """One round: cancel stale orders, then a few new ones. Returns the orders placed."""
        now = to_local(self.exchange.clock.now())
        if not self._symbols or not self._traders:
            return 0
        if not self.exchange.calendar.in_session(now, Mode.listed):
            return 0
        self._cancel_stale()
        placed = 0
        for _ in range(self.rng.randint(1, 3)):
            symbol = self.rng.choice(self._symbols)
            placed += self._act(self.rng.choice(self._traders), symbol)
        return placed

    def _cancel_stale(self) -> None:
        now = clock_time.monotonic()
        keep: list[_Resting] = []
        for order in self.resting:
            if now - order.placed < self.stale_s:
                keep.append(order)
                continue
            row = self.store.venue_order(order.order_id)
            if row is not None and row.status in ("open", "partially_filled"):
                self.exchange.cancel(order.order_id, actor=ACTOR)
        self.resting = keep

    def _act(self, holder: str, symbol: str) -> int:
        bids, asks = self.exchange.depth(symbol) or ([], [])
        prev_close = self.store.venue_instruments()[symbol][0]
        low, high = band_limits(prev_close, self.exchange.policy.band_listed_pct, 1)
        fair = self._fair.get(symbol, prev_close) + self.rng.randint(-2, 2)
        fair = self._fair[symbol] = min(max(fair, low + 20), high - 20)
        units, funds = self._means(holder, symbol)
        lot = self.rng.choice((100, 200, 300, 500, 800, 1_000))
        sell = units >= lot and (funds < lot * fair or self.rng.random() < 0.5)
        rest = self.rng.random() < 0.34
        if sell:
            best = bids[0][0] if bids and not rest else fair + self.rng.randint(1, 3)
            price, side = max(best, low), "sell"
        else:
            best = asks[0][0] if asks and not rest else fair - self.rng.randint(1, 3)
            price, side = min(best, high), "buy"
            lot = min(lot, funds * 9 // (10 * price) // 100 * 100)
            if lot <= 0:
                return 0
        self.placed += 1
        order_id = f"live-{self._tag}-{self.placed}"
        done = self.exchange.place(order_id, holder, symbol, side, lot, price, actor=ACTOR)
        if not done.ok:
            log.debug("live order %s refused: %s", order_id, done.code)
            return 0
        self.resting.append(_Resting(order_id, holder, symbol, clock_time.monotonic()))
        return 1

    def _means(self, holder: str, symbol: str) -> tuple[int, int]:
        """(available units of `symbol`, available money in fen) of `holder` now."""
        found = self.store.holder(holder)
        if found is None:
            return 0, 0
        units, fund = holder_positions(self.store, found)
        position = units.get(symbol)
        return (
            position.available if position is not None else 0,
            fund.available if fund is not None else 0,
        )
