"""A background thread that does one thing every few seconds until it is stopped: what
`cets serve` runs beside the API (`DayCloser`, `Surveillance`). A failed round is logged and
the next one tries again; `stop` waits for the round under way to finish."""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class Poller:
    name = "cets-poller"
    failure = "a background round failed"

    def __init__(self, poll_s: float) -> None:
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Any:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # keep going: the next round tries again
                log.exception(self.failure)
            self._stop.wait(self.poll_s)
