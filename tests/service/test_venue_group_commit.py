"""The venue's group commit: callers on many threads share transactions, each command stays
all-or-nothing, and the books always equal what the stored open orders make."""

from __future__ import annotations

import random
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from cets.adapters.sql.store import SqlStore
from cets.domain.errors import DomainError, RejectCode
from cets.domain.policy import Policy
from cets.domain.registry.holders import Holder
from cets.domain.trading.orders import Order, Side
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.exchange import Exchange
from cets.service.ports import CommandResult
from cets.service.registry import Registry
from cets.service.venue_engine import VenueEngine, VenueUnitOfWork, _Job

CEA = "CEA-2023"
HOLDERS = [f"H{i}" for i in range(6)]
POLICY = Policy().with_overrides({"fees_bps": {"buyer": 5, "seller": 5}})


def prepared(path: Path) -> tuple[SqlStore, SettableClock, Exchange]:
    store = SqlStore.open(f"sqlite:///{path}", durable=False)
    clock = SettableClock(datetime(2024, 3, 4, 9, 0, tzinfo=SHANGHAI))
    registry = Registry(store, clock)
    assert registry.issue("iss", CEA, 10_000_000).ok
    for i, holder in enumerate(HOLDERS):
        assert registry.open_holder(Holder(holder, "institution", holder), actor="t").ok
        assert registry.allocate(f"a{i}", holder, CEA, 100_000).ok
        assert registry.deposit(f"d{i}", holder, 10_000_000_000).ok
    venue = Exchange(store, clock, POLICY)
    assert venue.list_instrument(CEA, 6000, actor="t").ok
    clock.set(datetime(2024, 3, 4, 10, 0, tzinfo=SHANGHAI))
    return store, clock, venue


def resting(venue: VenueEngine) -> list[tuple[str, str, int, int]]:
    """Every resting order of the books in priority order: (id, side, price, remaining)."""
    return [(o.id, o.side, o.price, o.remaining) for b in venue.books.values() for o in b.resting()]


def stored_books(store: SqlStore, clock: SettableClock) -> list[tuple[str, str, int, int]]:
    """The books a fresh venue rebuilds from the stored open orders."""
    fresh = Exchange(store, clock, POLICY)
    fresh.depth(CEA)  # syncs: the books are rebuilt from the database
    return resting(fresh)


def test_threads_share_transactions_and_every_acknowledged_order_is_stored(
    tmp_path: Path,
) -> None:
    store, clock, venue = prepared(tmp_path / "v.db")
    answers: dict[str, CommandResult] = {}
    lock = threading.Lock()

    def client(c: int) -> None:
        rng = random.Random(c)
        for i in range(60):
            side = rng.choice(("buy", "sell"))
            price = 7000 if i % 17 == 0 else 6000 + rng.randint(-20, 20) * 5  # some beyond the band
            order_id = f"C{c}-{i}"
            answer = venue.place(
                order_id, HOLDERS[c], CEA, side, rng.randint(1, 20) * 50, price, actor="t"
            )
            with lock:
                answers[order_id] = answer

    threads = [threading.Thread(target=client, args=(c,)) for c in range(len(HOLDERS))]
    before = venue.batches
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == 360
    assert venue.batches - before < 360  # commands really were grouped
    refused = {k for k, a in answers.items() if not a.ok}
    assert refused and all(answers[k].code == RejectCode.price_outside_band for k in refused)
    stored = {o.id: o for o in store.venue_orders()}
    for order_id, answer in answers.items():
        # Stored as answered: refused ones as rejected; accepted ones as accepted (open when
        # acknowledged may have filled since).
        assert (stored[order_id].status == "rejected") == (order_id in refused)
        if answer.ok:
            assert answer.message in ("open", "partially_filled", "filled", "cancelled")
    assert store.venue_trades()  # the flow crossed
    assert resting(venue) == stored_books(store, clock)
    report = store.audit()
    assert report.ok, (report.chain_break, report.violations)


def collected_works(venue: Exchange, calls: list[Any]) -> list[Any]:
    """The work functions the venue's commands hand to `_write`, without running them."""
    works: list[Any] = []

    def keep(work: Any) -> CommandResult:
        works.append(work)
        return CommandResult(None)

    venue._write = keep  # type: ignore[method-assign]
    for call in calls:
        call()
    del venue._write
    return works


def test_a_command_failing_after_it_changed_the_book_is_undone_alone(tmp_path: Path) -> None:
    store, clock, venue = prepared(tmp_path / "v.db")
    assert venue.place("S0", "H0", CEA, "sell", 100, 6010, actor="t").ok
    first, last = collected_works(
        venue,
        [
            lambda: venue.place("S1", "H1", CEA, "sell", 200, 6020, actor="t"),
            lambda: venue.place("B1", "H2", CEA, "buy", 50, 6010, actor="t"),
        ],
    )

    def broken(uow: VenueUnitOfWork) -> None:
        """Takes S0 off the book, stores a new order, then fails."""
        venue.books[CEA].cancel("S0")
        venue.books[CEA].submit(Order("X", "H3", Side.buy, 6000, 10, 10))
        row = venue._new_order(uow, clock.now(), "X", CEA, "H3", "buy", "listed", 6000, 10)
        uow.insert_order(row)
        raise DomainError(RejectCode.invalid_field, "broken on purpose", field="x")

    jobs = [_Job(first), _Job(broken), _Job(last)]
    venue._write_batch(jobs)

    assert jobs[0].error is None and jobs[2].error is None
    assert isinstance(jobs[1].error, DomainError)
    assert {o.id for o in store.venue_orders()} == {"S0", "S1", "B1"}  # X rolled back
    assert [t.sell_order for t in store.venue_trades()] == ["S0"]  # B1 met S0, still resting
    assert resting(venue) == stored_books(store, clock)
    assert resting(venue) == [("S0", "sell", 6010, 50), ("S1", "sell", 6020, 200)]
    report = store.audit()
    assert report.ok, (report.chain_break, report.violations)


def test_a_batch_that_cannot_be_stored_fails_every_command_in_it(tmp_path: Path) -> None:
    store, clock, venue = prepared(tmp_path / "v.db")
    assert venue.place("S0", "H0", CEA, "sell", 100, 6010, actor="t").ok
    works = collected_works(
        venue,
        [
            lambda: venue.place("S1", "H1", CEA, "sell", 200, 6020, actor="t"),
            lambda: venue.place("B1", "H2", CEA, "buy", 50, 6010, actor="t"),
        ],
    )
    # The batch's last write (the venue version) is refused by the database.
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE UPDATE ON venue BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
    jobs = [_Job(work) for work in works]
    venue._write_batch(jobs)
    assert all(job.error is not None and "no" in str(job.error) for job in jobs)
    assert {o.id for o in store.venue_orders()} == {"S0"}
    assert not store.venue_trades()

    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse")
    # Memory had run ahead (B1 matched S0 in the book): the next command rebuilds it first.
    assert venue.place("B2", "H2", CEA, "buy", 30, 6010, actor="t").ok
    assert resting(venue) == [("S0", "sell", 6010, 70)]
    assert resting(venue) == stored_books(store, clock)
    report = store.audit()
    assert report.ok, (report.chain_break, report.violations)
