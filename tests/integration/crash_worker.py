"""A writer for the crash test: submits linked batches forever, printing each acknowledgement.

Run as `python crash_worker.py URL START`; prints `ack <first> <last>` after each batch commits
(command numbers), flushing stdout, so the parent knows exactly what was acknowledged before it
sends SIGKILL. Each command is a settlement-like linked chain of three legs: units seller -> buyer,
cash buyer -> seller, a fee buyer -> exchange.
"""

from __future__ import annotations

import sys

from cets.adapters.sql.store import SqlStore
from cets.domain.ledger.model import Transfer
from cets.service.ports import Command

BATCH = 500


def main() -> None:
    url, start = sys.argv[1], int(sys.argv[2])
    ids = [int(x) for x in sys.argv[3].split(",")]
    seller_units, buyer_units, seller_cash, buyer_cash, fees = ids
    store = SqlStore.open(url)
    n = start
    while True:
        commands = []
        for k in range(n, n + BATCH):
            commands.append(
                Command(
                    "settle",
                    "crash-test",
                    {"n": k},
                    (
                        Transfer(f"c{k}-units", seller_units, buyer_units, "CEA-2024", 1, "trade"),
                        Transfer(f"c{k}-cash", buyer_cash, seller_cash, "CNY", 6000, "trade"),
                        Transfer(f"c{k}-fee", buyer_cash, fees, "CNY", 3, "fee"),
                    ),
                )
            )
        results = store.submit_batch(commands, 1_000_000 + n)
        assert all(r.ok for r in results), [r for r in results if not r.ok][:1]
        print(f"ack {n} {n + BATCH - 1}", flush=True)
        n += BATCH


if __name__ == "__main__":
    main()
