"""The live scan while `cets serve` runs: a thread that runs supervision's scan of the current
trading day every `interval_s` seconds (`Supervision.scan_live`), so an alert appears seconds
after the orders or trades that prove it, and the rules that judge a whole day run once the
day has closed (`DayCloser` closes it at 15:00; the next scan sees the close). The first scan,
at start, also covers the previous trading day: a server that was down at its close still
judges it.
"""

from __future__ import annotations

import logging

from cets.service.polling import Poller
from cets.service.supervision import ScanResult, Supervision

log = logging.getLogger(__name__)
ACTOR = "supervision"


class Surveillance(Poller):
    name = "cets-surveillance"
    failure = "the supervision scan failed"

    def __init__(self, supervision: Supervision, *, interval_s: float = 5.0) -> None:
        super().__init__(interval_s)
        self.supervision = supervision
        self._first = True

    def run_once(self) -> ScanResult:
        if self._first:
            today = self.supervision.today()
            first = self.supervision.calendar.previous_trading_day(today)
            result = self.supervision.scan(actor=ACTOR, first=first, last=today)
            self._first = False
        else:
            result = self.supervision.scan_live(actor=ACTOR)
        if result.raised or result.updated or result.reports:
            log.info(
                "supervision: raised %s, updated %s, large-holder reports %s",
                result.raised,
                result.updated,
                result.reports,
            )
        return result
