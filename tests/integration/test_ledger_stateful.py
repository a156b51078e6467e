"""Random sequences of ledger commands against a real `SqlStore`, checked against a simple model.

The model below knows nothing of the kernel: per account it keeps the four buckets, per hold what
remains, and the requests it accepted by id. It predicts every command's code (the rules a holder
meets every day: balances, holds, idempotency, linked chains) and every balance. After each step
the store must agree with it, and `store.audit()` must find nothing wrong.

Runs on SQLite (a temporary file) and on PostgreSQL (a fresh database per example).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cets.adapters.sql.store import SqlStore
from cets.domain.errors import RejectCode
from cets.domain.ledger import Transfer, TransferFlags
from cets.service.ports import Command
from ledger_support import ASSET, SETUP_ENTRIES, open_holdings

if TYPE_CHECKING:
    from cets.testkit.pgcluster import PostgresServer

HOLDERS = ("E1", "E2", "E3")
T0 = 1_709_515_800_000_000
PENDING = int(TransferFlags.PENDING)
POST = int(TransferFlags.POST_PENDING)
VOID = int(TransferFlags.VOID_PENDING)
BEYOND_ANY_BALANCE = 10**9

Legs = tuple[Transfer, ...]


# --------------------------------------------------------------------------- the model


@dataclass
class ModelHold:
    debit: int
    credit: int
    amount: int
    remaining: int


@dataclass(frozen=True)
class Expected:
    code: RejectCode | None
    replayed: bool = False
    amounts: tuple[int, ...] = ()


class _RefusedError(Exception):
    def __init__(self, code: RejectCode) -> None:
        self.code = code


class LedgerModel:
    """What the ledger should hold, computed the obvious way."""

    def __init__(self, accounts: Sequence[int], limited: set[int]) -> None:
        self.buckets = {a: [0, 0, 0, 0] for a in accounts}  # dpe, dpo, cpe, cpo
        self.limited = limited
        self.holds: dict[str, ModelHold] = {}
        self.accepted: dict[str, tuple[Transfer, int]] = {}  # id -> (request, amount moved)
        self.journal = SETUP_ENTRIES

    def available(self, account: int) -> int:
        dpe, dpo, _, cpo = self.buckets[account]
        return cpo - dpo - dpe

    def submit(self, legs: Legs) -> Expected:
        """One command: all legs or none; the first failing leg's code is the command's."""
        trial = copy.deepcopy(self)
        try:
            outcomes = [trial._leg(t) for t in legs]
        except _RefusedError as refused:
            return Expected(refused.code)
        self.buckets, self.holds, self.accepted = trial.buckets, trial.holds, trial.accepted
        replayed = bool(legs) and all(again for again, _ in outcomes)
        if not replayed:
            self.journal += 1
        return Expected(None, replayed, tuple(amount for _, amount in outcomes))

    def _leg(self, t: Transfer) -> tuple[bool, int]:
        """Apply one request; return (replayed, amount moved) or raise `_RefusedError`."""
        action = t.flags & (PENDING | POST | VOID)
        if action in (0, PENDING) and t.amount <= 0:
            raise _RefusedError(RejectCode.amount_must_be_positive)
        if t.debit_account_id == t.credit_account_id:
            raise _RefusedError(RejectCode.accounts_must_be_different)
        if t.id in self.accepted:
            request, amount = self.accepted[t.id]
            if request != t:
                raise _RefusedError(RejectCode.duplicate_id)
            return True, amount
        debit, credit = self.buckets[t.debit_account_id], self.buckets[t.credit_account_id]
        amount = t.amount
        if action in (POST, VOID):
            assert t.pending_id is not None
            hold = self.holds.get(t.pending_id)
            if hold is None:
                raise _RefusedError(RejectCode.unknown_reference)
            if (hold.debit, hold.credit) != (t.debit_account_id, t.credit_account_id):
                raise _RefusedError(RejectCode.accounts_must_match_hold)
            if hold.remaining == 0:
                raise _RefusedError(RejectCode.hold_already_closed)
            amount = amount or hold.remaining
            if amount > hold.remaining:
                raise _RefusedError(RejectCode.amount_exceeds_hold)
            hold.remaining -= amount
            debit[0] -= amount
            credit[2] -= amount
            if action == POST:
                debit[1] += amount
                credit[3] += amount
        else:
            if t.debit_account_id in self.limited and amount > self.available(t.debit_account_id):
                _, posted_out, _, posted_in = self.buckets[t.debit_account_id]
                raise _RefusedError(
                    RejectCode.units_encumbered
                    if amount <= posted_in - posted_out  # held, but reserved by holds
                    else RejectCode.insufficient_units
                )
            if action == PENDING:
                debit[0] += amount
                credit[2] += amount
                self.holds[t.id] = ModelHold(
                    t.debit_account_id, t.credit_account_id, amount, amount
                )
            else:
                debit[1] += amount
                credit[3] += amount
        self.accepted[t.id] = (t, amount)
        return False, amount


# --------------------------------------------------------------------------- the machine

holder = st.integers(0, len(HOLDERS) - 1)
# Another holder four times in five; the same one now and then (accounts_must_be_different).
offset = st.sampled_from([1, 1, 2, 2, 0])
amount = st.integers(1, 300)
settle_size = st.sampled_from(["all", "part", "part", "exact", "over"])
# Mostly the hold's own accounts; sometimes swapped (accounts_must_match_hold).
swap_accounts = st.sampled_from([False, False, False, False, True])


class LedgerMachine(RuleBasedStateMachine):
    """Drives a store and the model side by side; subclasses say which database."""

    def open_store(self) -> tuple[SqlStore, Callable[[], None]]:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.store, self._dispose = self.open_store()
        self.now = T0
        holdings = open_holdings(self.store, HOLDERS, now_us=self.now)
        self.issuance = holdings.issuance
        self.holders = [holdings.accounts[h] for h in HOLDERS]
        self.model = LedgerModel([self.issuance, *self.holders], set(self.holders))
        self.history: list[tuple[str, Legs]] = []
        self._ids = itertools.count(1)

    def teardown(self) -> None:
        self._dispose()

    # -- building commands -------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def issued(self, to: int, size: int) -> Transfer:
        return Transfer(self.new_id("i"), self.issuance, self.holders[to], ASSET, size, "issue")

    def plain(self, src: int, dst: int, size: int) -> Transfer:
        return Transfer(self.new_id("t"), self.holders[src], self.holders[dst], ASSET, size, "x")

    def pending(self, src: int, dst: int, size: int) -> Transfer:
        return Transfer(
            self.new_id("h"), self.holders[src], self.holders[dst], ASSET, size, "order", PENDING
        )

    def settle(
        self,
        data: st.DataObject,
        holds: dict[str, ModelHold],
        *,
        post: bool,
        size: str,
        swap: bool,
    ) -> Transfer:
        hold_id = data.draw(st.sampled_from(sorted(holds)), label="hold")
        hold = holds[hold_id]
        if size == "part":
            moved = data.draw(st.integers(1, max(hold.remaining, 1)), label="part")
        else:
            moved = {"all": 0, "exact": max(hold.remaining, 1), "over": hold.remaining + 1}[size]
        debit, credit = (hold.credit, hold.debit) if swap else (hold.debit, hold.credit)
        kind, flags = ("trade", POST) if post else ("order", VOID)
        return Transfer(self.new_id("s"), debit, credit, ASSET, moved, kind, flags, hold_id)

    def random_leg(self, data: st.DataObject, earlier: Sequence[Transfer]) -> Transfer:
        """Any kind of leg; a settle may name a hold made by an earlier leg of the same chain."""
        holds = dict(self.model.holds)
        for t in earlier:
            if t.flags == PENDING:
                holds[t.id] = ModelHold(t.debit_account_id, t.credit_account_id, t.amount, t.amount)
        kinds = ["plain", "plain", "plain", "pending", "pending", "fail"]
        kinds += ["settle"] * 3 if holds else []
        kind = data.draw(st.sampled_from(kinds), label="leg")
        src, dst = data.draw(holder, label="src"), data.draw(holder, label="dst")
        if src == dst:
            dst = (dst + 1) % len(HOLDERS)
        size = data.draw(amount, label="amount")
        if kind == "plain":
            return self.plain(src, dst, size)
        if kind == "pending":
            return self.pending(src, dst, size)
        if kind == "fail":
            return self.plain(src, dst, BEYOND_ANY_BALANCE)
        return self.settle(
            data,
            holds,
            post=data.draw(st.booleans(), label="post"),
            size=data.draw(settle_size, label="size"),
            swap=data.draw(swap_accounts, label="swap"),
        )

    def random_command(self, data: st.DataObject, max_legs: int) -> tuple[str, Legs]:
        legs: list[Transfer] = []
        for _ in range(data.draw(st.integers(1, max_legs), label="legs")):
            legs.append(self.random_leg(data, legs))
        return "linked" if len(legs) > 1 else "single", tuple(legs)

    # -- submitting and checking -------------------------------------------------------------

    def submit(self, *commands: tuple[str, Legs]) -> None:
        self.now += 1_000_000
        results = self.store.submit_batch(
            [Command(kind, "tester", {"kind": kind}, legs) for kind, legs in commands], self.now
        )
        assert len(results) == len(commands)
        for (kind, legs), result in zip(commands, results, strict=True):
            expected = self.model.submit(legs)
            what = f"{kind} {legs}: got {result.code} ({result.message})"
            assert result.code == expected.code, what
            assert result.replayed == expected.replayed, what
            if expected.code is None:
                assert [t.id for t in result.transfers] == [t.id for t in legs], what
                assert tuple(t.amount for t in result.transfers) == expected.amounts, what
                assert result.seq == (None if expected.replayed else self.model.journal), what
            else:
                assert result.transfers == (), what
                assert result.seq is None, what
            self.history.append((kind, legs))

    # -- rules -------------------------------------------------------------------------------

    @initialize(sizes=st.lists(st.integers(0, 1500), min_size=len(HOLDERS), max_size=len(HOLDERS)))
    def allocate(self, sizes: list[int]) -> None:
        self.submit(
            *(("issue", (self.issued(to, size),)) for to, size in enumerate(sizes) if size > 0)
        )

    @rule(to=holder, size=amount)
    def issue(self, to: int, size: int) -> None:
        self.submit(("issue", (self.issued(to, size),)))

    @rule(src=holder, step=offset, size=amount)
    def transfer(self, src: int, step: int, size: int) -> None:
        dst = (src + step) % len(HOLDERS)
        self.submit(("transfer", (self.plain(src, dst, size),)))

    @rule(src=holder, step=offset, size=amount)
    def hold(self, src: int, step: int, size: int) -> None:
        dst = (src + step) % len(HOLDERS)
        self.submit(("hold", (self.pending(src, dst, size),)))

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data(), post=st.booleans(), size=settle_size, swap=swap_accounts)
    def settle_hold(self, data: st.DataObject, post: bool, size: str, swap: bool) -> None:
        leg = self.settle(data, self.model.holds, post=post, size=size, swap=swap)
        self.submit(("settle", (leg,)))

    @rule(post=st.booleans())
    def settle_unknown_hold(self, post: bool) -> None:
        flags = POST if post else VOID
        a, b = self.holders[0], self.holders[1]
        leg = Transfer(self.new_id("s"), a, b, ASSET, 1, "trade", flags, self.new_id("nohold"))
        self.submit(("settle", (leg,)))

    @rule(data=st.data())
    def linked(self, data: st.DataObject) -> None:
        legs: list[Transfer] = []
        for _ in range(data.draw(st.integers(2, 3), label="legs")):
            legs.append(self.random_leg(data, legs))
        self.submit(("linked", tuple(legs)))

    @rule(data=st.data(), count=st.integers(2, 4))
    def several_commands_in_one_batch(self, data: st.DataObject, count: int) -> None:
        self.submit(*(self.random_command(data, 2) for _ in range(count)))

    @precondition(lambda self: self.history)
    @rule(data=st.data(), alter=st.booleans(), twice=st.booleans())
    def replay(self, data: st.DataObject, alter: bool, twice: bool) -> None:
        kind, legs = data.draw(st.sampled_from(self.history), label="old command")
        if alter:
            which = data.draw(st.integers(0, len(legs) - 1), label="altered leg")
            t = legs[which]
            changed = replace(t, ref="altered") if t.ref is None else replace(t, ref=None)
            legs = (*legs[:which], changed, *legs[which + 1 :])
        # twice: the same command again inside one batch is seen as a replay of the first
        self.submit(*[(kind, legs)] * (2 if twice else 1))

    # -- after every step --------------------------------------------------------------------

    @invariant()
    def store_agrees_with_the_model_and_the_audit(self) -> None:
        report = self.store.audit()
        assert report.violations == []
        assert report.chain_break is None
        assert report.entries == self.model.journal
        stored = {a.id: a.buckets() for a in self.store.all_accounts()}
        assert stored == {i: tuple(b) for i, b in self.model.buckets.items()}
        holds = {
            h.id: ModelHold(h.debit_account_id, h.credit_account_id, h.amount, h.remaining)
            for h in self.store.holds()
        }
        assert holds == self.model.holds
        assert {t.id for t in self.store.transfers()} == set(self.model.accepted)
        for account in self.holders:
            assert self.model.available(account) >= 0


def _run(machine: type[LedgerMachine], examples: int) -> None:
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_the_sqlite_ledger_agrees_with_a_simple_model(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    class SqliteLedger(LedgerMachine):
        def open_store(self) -> tuple[SqlStore, Callable[[], None]]:
            path: Path = tmp_path_factory.mktemp("ledger") / "cets.db"
            store = SqlStore.open(f"sqlite:///{path}", durable=False)
            return store, store.close

    _run(SqliteLedger, examples=25)


def test_the_postgres_ledger_agrees_with_a_simple_model(postgres_server: PostgresServer) -> None:
    server = postgres_server

    class PostgresLedger(LedgerMachine):
        def open_store(self) -> tuple[SqlStore, Callable[[], None]]:
            url = server.create_database(prefix="cets_stateful")
            store = SqlStore.open(url)

            def dispose() -> None:
                store.close()
                server.drop_database(url)

            return store, dispose

    _run(PostgresLedger, examples=15)
