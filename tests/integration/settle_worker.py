"""A settlement process for the crash test: delivers the confirmed runs of the SQLite database
given (`Exchange.resume_deliveries`, as `cets serve` does at start), a chunk of trades per
transaction, printing each chunk's journal entry as it commits. Run as
`python settle_worker.py URL CHUNK`."""

from __future__ import annotations

import sys
from datetime import time

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import FeeSchedule, Policy
from cets.domain.trading.calendar import local_datetime
from cets.service.clock import SettableClock
from cets.service.exchange import Exchange
from cets.sim.settlement_day import DAY

POLICY = Policy(fees=FeeSchedule(3, 5, 100))
AFTER_CLOSE = local_datetime(DAY, time(15, 10))


def main() -> None:
    url, chunk = sys.argv[1], int(sys.argv[2])
    store = SqlStore.existing(url)
    exchange = Exchange(store, SettableClock(AFTER_CLOSE), POLICY)
    exchange.delivery_chunk = chunk
    outcomes = exchange.resume_deliveries(actor="registry")
    assert all(result.ok for _, result in outcomes), outcomes
    print("resumed", *(run for run, _ in outcomes), flush=True)


if __name__ == "__main__":
    main()
