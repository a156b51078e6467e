"""Many writers on one PostgreSQL ledger: threads sharing a store, and separate OS processes.

Each writer submits random transfers between the same four holder accounts, in batches of 1-20
commands (some of two linked legs, some far beyond any balance). Afterwards the ledger must read as
if the acknowledged commands had run one after another in journal order: every acknowledged
transfer stored exactly once, every refused one absent, no holder below zero at any point of that
order, units conserved, one gapless journal entry per acknowledged command, and a clean audit.
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from cets.adapters.sql.store import SqlStore
from cets.domain.errors import RejectCode
from cets.domain.ledger import Transfer
from cets.domain.registry.holders import Holder, HolderKind
from cets.service.ports import AccountKey, AccountSpec, Command
from ledger_support import ASSET, LIMITED, Holdings, open_holdings

HOLDERS = ("C1", "C2", "C3", "C4")
START_UNITS = 1_000  # issued to each holder before the writers start
TRANSFERS_PER_WRITER = 300
T0 = 1_709_515_800_000_000
WAIT_S = 100  # for any writer to finish; the test's own timeout is 120 s


@dataclass
class WriterLog:
    """What one writer was told: acknowledged commands (by journal seq) and refused ones."""

    acked: list[tuple[int, str, list[Transfer]]] = field(default_factory=list)  # seq, id, legs
    refused: list[tuple[str, RejectCode, list[str]]] = field(default_factory=list)  # id, code, ids


def write_randomly(
    store: SqlStore,
    name: str,
    seed: int,
    accounts: list[int],
    ready: Callable[[], object] = lambda: None,
) -> WriterLog:
    """Submit TRANSFERS_PER_WRITER random transfers in batches; record every answer.

    `ready` returns when every writer may start, so that they really overlap.
    """
    rng = random.Random(seed)
    log = WriterLog()
    made = batches = 0
    ready()
    while made < TRANSFERS_PER_WRITER:
        batches += 1
        commands = []
        for c in range(rng.randint(1, 20)):
            legs = []
            for _ in range(2 if rng.random() < 0.2 else 1):
                src, dst = rng.sample(accounts, 2)
                size = 50 * START_UNITS if rng.random() < 0.05 else rng.randint(1, 700)
                legs.append(Transfer(f"{name}.t{made}", src, dst, ASSET, size, "transfer"))
                made += 1
            command_id = f"{name}.b{batches}.c{c}"
            commands.append(Command("transfer", name, {"id": command_id}, tuple(legs)))
        results = store.submit_batch(commands, T0 + batches)
        assert len(results) == len(commands)
        for command, result in zip(commands, results, strict=True):
            command_id = command.body["id"]
            if result.ok:
                assert not result.replayed, command_id
                assert result.seq is not None, command_id
                assert [(t.id, t.amount) for t in result.transfers] == [
                    (t.id, t.amount) for t in command.transfers
                ], command_id
                log.acked.append((result.seq, command_id, list(command.transfers)))
            else:
                assert result.code is not None
                log.refused.append((command_id, result.code, [t.id for t in command.transfers]))
    return log


def _process_writer(url: str, name: str, seed: int, accounts: list[int], out: Any, go: Any) -> None:
    """Runs in a spawned process: its own store on the same database."""
    try:
        store = SqlStore.open(url)
        out.put(("ready", name, None))
        try:
            log = write_randomly(store, name, seed, accounts, lambda: go.wait(WAIT_S))
            out.put(("ok", name, log))
        finally:
            store.close()
    except BaseException:
        out.put(("error", name, traceback.format_exc()))


# --------------------------------------------------------------------------- set-up and checks


@dataclass(frozen=True)
class Ledger:
    store: SqlStore
    holdings: Holdings
    setup_entries: int  # journal entries before the writers start
    setup_transfers: int

    @property
    def accounts(self) -> list[int]:
        return [self.holdings.accounts[h] for h in HOLDERS]


def seeded_ledger(url: str) -> Ledger:
    store = SqlStore.open(url)
    holdings = open_holdings(store, HOLDERS, now_us=T0)
    issues = [
        Command(
            "issue",
            "test",
            {"to": h},
            (Transfer(f"issue.{h}", holdings.issuance, a, ASSET, START_UNITS, "issue"),),
        )
        for h, a in holdings.accounts.items()
    ]
    assert all(r.ok for r in store.submit_batch(issues, T0))
    entries = sum(1 for _ in store.journal_entries())
    return Ledger(store, holdings, entries, len(issues))


def check_ledger(ledger: Ledger, logs: list[WriterLog], seed: int) -> None:
    store = ledger.store
    acked = sorted((seq, cid, legs) for log in logs for seq, cid, legs in log.acked)
    refused = [r for log in logs for r in log.refused]
    why = f"seed {seed}"
    assert acked, why
    writers = [cid.split(".")[0] for _, cid, _ in acked]
    assert len(set(writers)) == len(logs), why
    switches = sum(a != b for a, b in itertools.pairwise(writers))
    print(f"{len(acked)} commands acknowledged, {len(refused)} refused, {switches} writer switches")
    assert switches > 0, f"{why}: the writers never overlapped"
    assert refused, f"{why}: no transfer was refused; the test must exercise refusals"
    assert {code for _, code, _ in refused} == {RejectCode.insufficient_units}, why

    # The journal: setup entries, then exactly one entry per acknowledged command, no gaps.
    entries = list(store.journal_entries())
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1)), why
    assert len(entries) == ledger.setup_entries + len(acked), why
    assert [seq for seq, _, _ in acked] == list(range(ledger.setup_entries + 1, len(entries) + 1))
    for seq, command_id, _ in acked:
        entry = entries[seq - 1]
        assert entry.kind == "transfer", (why, seq)
        assert f'"{command_id}"' in entry.body, (why, seq, command_id)

    # The transfers: every acknowledged one exactly once, no refused one, nothing else.
    stored = Counter(t.id for t in store.transfers())
    acked_ids = [t.id for _, _, legs in acked for t in legs]
    assert len(set(acked_ids)) == len(acked_ids), why
    assert all(stored[i] == 1 for i in acked_ids), why
    assert not {i for _, _, ids in refused for i in ids} & set(stored), why
    assert sum(stored.values()) == ledger.setup_transfers + len(acked_ids), why

    # Serial equivalence: replaying the acknowledged commands in journal order never overdraws
    # and ends where the store is.
    balance = dict.fromkeys(ledger.accounts, START_UNITS)
    for seq, _, legs in acked:
        for t in legs:
            balance[t.debit_account_id] -= t.amount
            balance[t.credit_account_id] += t.amount
            assert balance[t.debit_account_id] >= 0, (why, seq, t)
    accounts = {a.id: a for a in store.all_accounts()}
    assert {i: accounts[i].balance for i in ledger.accounts} == balance, why
    assert all(accounts[i].available >= 0 for i in ledger.accounts), why
    issued = START_UNITS * len(HOLDERS)
    assert sum(accounts[i].balance for i in ledger.accounts) == issued, why
    assert accounts[ledger.holdings.issuance].balance == -issued, why

    report = store.audit()
    assert report.violations == [], why
    assert report.chain_break is None, why
    assert report.ok, why


# --------------------------------------------------------------------------- the tests


@pytest.mark.timeout(120)
def test_threads_sharing_one_store_keep_the_ledger_serial(pg_url: str) -> None:
    seed = random.SystemRandom().randrange(2**32)
    print(f"seed {seed}")
    ledger = seeded_ledger(pg_url)
    try:
        start = threading.Barrier(4)
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [
                pool.submit(
                    write_randomly, ledger.store, f"w{i}", seed + i, ledger.accounts, start.wait
                )
                for i in range(4)
            ]
            logs = [f.result(timeout=WAIT_S) for f in futures]
        check_ledger(ledger, logs, seed)
    finally:
        ledger.store.close()


@pytest.mark.timeout(120)
def test_processes_with_their_own_stores_keep_the_ledger_serial(pg_url: str) -> None:
    seed = random.SystemRandom().randrange(2**32)
    print(f"seed {seed}")
    ledger = seeded_ledger(pg_url)
    spawn = multiprocessing.get_context("spawn")
    out, go = spawn.Queue(), spawn.Event()
    processes = [
        spawn.Process(
            target=_process_writer,
            args=(pg_url, f"p{i}", seed + i, ledger.accounts, out, go),
            daemon=True,
        )
        for i in range(3)
    ]

    def answer() -> tuple[str, str, Any]:
        try:
            status, name, payload = out.get(timeout=WAIT_S)
        except queue.Empty:
            pytest.fail(f"seed {seed}: a writer process gave no answer in {WAIT_S} s")
        assert status != "error", f"seed {seed}: writer {name} failed:\n{payload}"
        return status, name, payload

    try:
        for p in processes:
            p.start()
        assert all(answer()[0] == "ready" for _ in processes)
        go.set()
        logs = []
        for _ in processes:
            status, _, payload = answer()
            assert status == "ok"
            logs.append(payload)
        for p in processes:
            p.join(timeout=30)
            assert p.exitcode == 0, f"seed {seed}: {p.name} exit code {p.exitcode}"
        check_ledger(ledger, logs, seed)
    finally:
        for p in processes:
            if p.is_alive():
                p.terminate()
                p.join(timeout=10)
        ledger.store.close()


# --------------------------------------------------------------------------- lock order
# The store's contract (module doc of cets.adapters.sql.store): a write transaction locks the
# journal head *first*, then the accounts. Two writers that take the same locks in different
# orders deadlock, and a writer that reads before it is serialised acts on a stale view.


def wait_until_a_session_waits_for_a_lock(url: str, timeout_s: float = 10) -> bool:
    """True once some other session of this database is blocked on a lock."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            ).fetchone()
            if waiting is not None and waiting[0] > 0:
                return True
            time.sleep(0.02)
    return False


def one_transfer(tid: str, debit: int, credit: int, amount: int) -> Command:
    return Command(
        "transfer", "test", {"id": tid}, (Transfer(tid, debit, credit, ASSET, amount, "x"),)
    )


@pytest.mark.timeout(60)
def test_opening_an_account_then_submitting_does_not_deadlock_with_a_concurrent_batch(
    pg_url: str,
) -> None:
    # What the registry does when it allocates to a holder's first account: open_accounts (which
    # locks the journal head), then submit in the same transaction.
    ledger = seeded_ledger(pg_url)
    store = ledger.store
    c1, c2 = ledger.accounts[0], ledger.accounts[1]
    try:
        with store.unit_of_work() as uow, ThreadPoolExecutor(max_workers=1) as pool:
            uow.open_holders([Holder("N1", HolderKind.key_emitter, "New")], actor="t", now_us=T0)
            key = AccountKey("N1", "holding", ASSET)
            new = uow.open_accounts([AccountSpec(key, LIMITED)], actor="t", now_us=T0)[key]
            theirs = pool.submit(store.submit_batch, [one_transfer("other", c1, c2, 5)], T0)
            wait_until_a_session_waits_for_a_lock(pg_url)  # the batch waits for this transaction
            mine = uow.submit([one_transfer("mine", c1, new.id, 5)], T0)
            uow.commit()
            their_results = theirs.result(timeout=30)
        assert mine[0].ok, mine
        assert their_results[0].ok, their_results
        assert store.audit().ok
    finally:
        store.close()


@pytest.mark.timeout(60)
def test_a_transfer_id_reused_by_a_concurrent_batch_on_other_accounts_is_duplicate_id(
    pg_url: str,
) -> None:
    ledger = seeded_ledger(pg_url)
    store = ledger.store
    c1, c2, c3, c4 = ledger.accounts
    try:
        with store.unit_of_work() as uow, ThreadPoolExecutor(max_workers=1) as pool:
            mine = uow.submit([one_transfer("same-id", c1, c2, 5)], T0)
            theirs = pool.submit(store.submit_batch, [one_transfer("same-id", c3, c4, 7)], T0)
            wait_until_a_session_waits_for_a_lock(pg_url)  # the batch waits for this transaction
            uow.commit()
            their_results = theirs.result(timeout=30)
        assert mine[0].ok, mine
        assert their_results[0].code == RejectCode.duplicate_id, their_results
        stored = [t for t in store.transfers() if t.id == "same-id"]
        assert [(t.debit_account_id, t.amount) for t in stored] == [(c1, 5)]
    finally:
        store.close()


@pytest.mark.timeout(60)
def test_two_transactions_opening_the_same_new_account_both_get_it(pg_url: str) -> None:
    # open_accounts is "get or open": a second opener must get the account the first one made.
    ledger = seeded_ledger(pg_url)
    store = ledger.store
    key = AccountKey(HOLDERS[0], "holding", "CCER")
    spec = AccountSpec(key, LIMITED)

    def open_it() -> int:
        with store.unit_of_work() as uow:
            account = uow.open_accounts([spec], actor="t", now_us=T0)[key]
            uow.commit()
            return account.id

    try:
        with store.unit_of_work() as uow, ThreadPoolExecutor(max_workers=1) as pool:
            mine = uow.open_accounts([spec], actor="t", now_us=T0)[key]
            theirs = pool.submit(open_it)
            wait_until_a_session_waits_for_a_lock(pg_url)  # the other opener waits for this one
            uow.commit()
            their_id = theirs.result(timeout=30)
        assert their_id == mine.id
        assert [a.id for a in store.all_accounts() if a.asset == "CCER"] == [mine.id]
        assert store.audit().ok
    finally:
        store.close()
