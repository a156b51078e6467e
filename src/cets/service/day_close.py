"""The day's close without anyone asking for it: at 15:00 Asia/Shanghai on each trading day the
sessions of every mode end, and DOMAIN.md wants the day orders expired then and their holds
released. `DayCloser` watches the clock (a thread, every `poll_s` seconds) and, once a trading
day's end has passed while an order of that day (or earlier) is still open or a trade of it is
in no settlement run, runs the exchange's day's end for that day (`Exchange.end_of_day(day=...)`):
expiry, the day's bar, the settlement run. Each poll first finishes delivering a confirmed run
whose delivery was interrupted (a crash, a kill): `Exchange.resume_deliveries`.

A server that was down at 15:00 closes the missed day when it starts, before it serves a
request (`cets serve` calls `run_once` first), so a new day's orders never meet yesterday's.

Day orders are not expired at the morning session's end (11:30): as on China's exchanges, an
order rests over the lunch break and expires with the day. The exchange operator may still
close a day by hand (`POST /v1/market/end-of-day`); the closer then finds nothing open and does
nothing.
"""

from __future__ import annotations

import logging
from datetime import date

from cets.domain.registry.holders import EXCHANGE
from cets.domain.trading.calendar import to_local
from cets.service.exchange import Exchange
from cets.service.polling import Poller
from cets.service.ports import CommandResult

log = logging.getLogger(__name__)


class DayCloser(Poller):
    name = "cets-day-close"
    failure = "closing the trading day failed"

    def __init__(self, exchange: Exchange, *, poll_s: float = 1.0) -> None:
        super().__init__(poll_s)
        self.exchange = exchange
        self._first = True  # the first poll (at start) also settles runs left prepared

    def due(self) -> date | None:
        """The latest trading day whose end has passed, if something of it is still open."""
        calendar = self.exchange.calendar
        now = to_local(self.exchange.clock.now())
        day = calendar.trading_day_of(now)
        if now < calendar.day_end(day):
            day = calendar.previous_trading_day(day)
        return day if self.exchange.store.venue_open_through(day) else None  # type: ignore[attr-defined]

    def run_once(self) -> CommandResult | None:
        """Finish delivering any confirmed run a crash interrupted (at start, also settle the
        runs a crash left prepared); close the due day, if any."""
        for run, result in self.exchange.resume_deliveries(actor=EXCHANGE, prepared=self._first):
            if result.ok:
                log.info("settlement run %s: %s", run, result.message)
            else:
                log.error("settlement run %s: %s %s", run, result.code, result.message)
        self._first = False
        day = self.due()
        if day is None:
            return None
        result = self.exchange.end_of_day(actor=EXCHANGE, day=day)
        log.info("closed trading day %s: %s", day, "ok" if result.ok else result.code)
        return result
