"""The live scan while `cets serve` runs: a thread that runs supervision's scan of the current
trading day every `interval_s` seconds (`Supervision.scan_live`), so an alert appears seconds
after the orders or trades that prove it, and the rules that judge a whole day run once the
day has closed (`DayCloser` closes it at 15:00; the next scan sees the close). The first scan,
at start, also covers the previous trading day: a server that was down at its close still
judges it.
"""

from __future__ import annotations

import logging
import threading

from cets.service.supervision import ScanResult, Supervision

log = logging.getLogger(__name__)
ACTOR = "supervision"


class Surveillance:
    def __init__(self, supervision: Supervision, *, interval_s: float = 5.0) -> None:
        self.supervision = supervision
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._first = True
        self._thread: threading.Thread | None = None

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

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cets-surveillance", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # keep watching: the next interval tries again
                log.exception("the supervision scan failed")
            self._stop.wait(self.interval_s)
