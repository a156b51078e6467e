"""The newer registry operations at the service level (Registry and Gate over SqlStore on
SQLite): pledge enforcement, forced surrender, succession, closing an account while holds are
pending, and four-eyes approval. Every test ends with the store auditing clean (the fixture
checks it after the test)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from cets.adapters.sql.store import SqlStore
from cets.domain.errors import RejectCode
from cets.domain.ledger.model import Purpose
from cets.domain.policy import Policy
from cets.domain.registry.access import Person, Role
from cets.domain.registry.holders import Holder, HolderState
from cets.domain.units import CASH, CCER
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.compliance import Compliance
from cets.service.operations import Gate
from cets.service.ports import CommandResult
from cets.service.registry import Registry

CEA = "CEA-2024"
START = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)

AUTH1 = Person("auth1", "auth1", Role.authority)
AUTH2 = Person("auth2", "auth2", Role.authority)
REG1 = Person("reg1", "reg1", Role.registry_operator)
E1OP = Person("e1op", "e1op", Role.key_emitter, "E1")
E1OP2 = Person("e1op2", "e1op2", Role.key_emitter, "E1")
E2OP = Person("e2op", "e2op", Role.key_emitter, "E2")


@dataclass
class World:
    store: SqlStore
    clock: SettableClock
    registry: Registry
    gate: Gate  # four-eyes on

    def units(self, holder: str, asset: str = CEA) -> tuple[int, int]:
        """(total, available) of a holder's units of `asset`."""
        return self.balance(holder, Purpose.holding, asset)

    def balance(self, holder: str, purpose: str, asset: str) -> tuple[int, int]:
        for account in self.store.accounts_of(holder):
            if (account.purpose, account.asset) == (purpose, asset):
                return account.balance, account.available
        return 0, 0

    def hold_remaining(self, hold_id: str) -> int:
        (hold,) = [h for h in self.store.holds() if h.id == hold_id]
        return hold.remaining

    def state(self, holder: str) -> str:
        found = self.store.holder(holder)
        assert found is not None
        return found.state


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    """E1 and E2 (key emitters) and I1 (an individual); E1 holds 1,000 t of CEA-2024."""
    store = SqlStore.open(sqlite_url, durable=False)
    clock = SettableClock(START)
    registry = Registry(store, clock)
    for holder in (
        Holder("E1", "key_emitter", "Wuhan Power No.1"),
        Holder("E2", "key_emitter", "Xiangyang Thermal"),
        Holder("I1", "individual", "Zhang San"),
    ):
        assert registry.open_holder(holder, actor="setup").ok
    assert registry.issue("seed-issue", CEA, 2000).ok
    assert registry.allocate("seed-allocate", "E1", CEA, 1000).ok
    policy = Policy(four_eyes=True)
    compliance = Compliance(store, clock, policy)
    built = World(store, clock, registry, Gate(registry, policy, compliance=compliance))
    try:
        yield built
        report = store.audit()
        assert report.ok, (report.chain_break, report.violations)
    finally:
        store.close()


def refused(result: CommandResult, code: RejectCode) -> None:
    assert (result.code, result.ok) == (code, False), result


# -- pledge enforcement -------------------------------------------------------------------


def test_enforcing_part_of_a_pledge_delivers_that_part_and_leaves_the_rest_pledged(
    world: World,
) -> None:
    assert world.registry.pledge("p1", "E1", "E2", CEA, 300, "P1").ok
    assert world.units("E1") == (1000, 700)

    enforced = world.registry.enforce("en1", "P1", 100)

    assert enforced.ok, enforced
    assert world.units("E2") == (100, 100)
    assert world.units("E1") == (900, 700)  # 200 t still pledged
    assert world.hold_remaining("pledge:P1") == 200
    assert world.balance("E2", Purpose.pledged, CEA) == (0, 0)  # custody passed straight on


def test_enforcing_a_pledge_without_a_quantity_takes_all_that_remains_then_nothing_is_left(
    world: World,
) -> None:
    assert world.registry.pledge("p1", "E1", "E2", CEA, 300, "P1").ok
    assert world.registry.enforce("en1", "P1", 100).ok

    assert world.registry.enforce("en2", "P1").ok

    assert world.units("E2") == (300, 300)
    assert world.units("E1") == (700, 700)
    assert world.hold_remaining("pledge:P1") == 0
    refused(world.registry.enforce("en3", "P1"), RejectCode.hold_already_closed)
    refused(world.registry.release("r1", "P1"), RejectCode.hold_already_closed)


def test_a_released_pledge_cannot_be_enforced(world: World) -> None:
    assert world.registry.pledge("p1", "E1", "E2", CEA, 300, "P1").ok
    assert world.registry.release("r1", "P1").ok

    refused(world.registry.enforce("en1", "P1", 10), RejectCode.hold_already_closed)

    assert world.units("E1") == (1000, 1000)
    assert world.units("E2") == (0, 0)


def test_enforcing_more_than_is_pledged_is_refused_and_moves_nothing(world: World) -> None:
    assert world.registry.pledge("p1", "E1", "E2", CEA, 300, "P1").ok

    refused(world.registry.enforce("en1", "P1", 301), RejectCode.amount_exceeds_hold)

    assert world.hold_remaining("pledge:P1") == 300
    assert world.units("E2") == (0, 0)


def test_enforcing_a_freeze_reference_is_an_unknown_pledge(world: World) -> None:
    """Freezes and pledges are separate name spaces: enforce looks for a pledge only."""
    assert world.registry.freeze("f1", "E1", CEA, 300, "X1").ok
    refused(world.registry.enforce("en1", "X1"), RejectCode.unknown_reference)
    assert world.units("E1") == (1000, 700)


# -- forced surrender ---------------------------------------------------------------------


def test_forced_surrender_takes_available_units_to_the_surrender_account(world: World) -> None:
    result = world.gate.submit(AUTH1, "forced_surrender", "fs1", fs_params(400))
    assert result.code == RejectCode.approval_required  # four-eyes: a second authority
    assert world.gate.approve(AUTH2, "fs1").ok

    assert world.units("E1") == (600, 600)
    assert world.balance("authority", Purpose.surrender, CEA) == (400, 400)


def fs_params(quantity: int) -> dict[str, object]:
    return {"account": "E1", "asset": CEA, "quantity": quantity, "year": 2024}


def test_forced_surrender_cannot_take_frozen_or_pledged_units(world: World) -> None:
    assert world.registry.freeze("f1", "E1", CEA, 600, "F1").ok
    assert world.registry.pledge("p1", "E1", "E2", CEA, 300, "P1").ok

    refused(
        world.gate.compliance.forced_surrender("fs1", "E1", CEA, 101, 2024),
        RejectCode.units_encumbered,
    )
    assert world.units("E1") == (1000, 100)
    assert world.gate.compliance.forced_surrender("fs2", "E1", CEA, 100, 2024).ok
    assert world.units("E1") == (900, 0)
    assert world.hold_remaining("freeze:F1") == 600
    assert world.hold_remaining("pledge:P1") == 300


def test_a_restricted_or_frozen_holder_is_still_subject_to_forced_surrender(world: World) -> None:
    assert world.registry.restrict("s1", "E1").ok
    refused(
        world.registry.transfer("t1", "E1", "E2", CEA, 10, actor="e1op"),
        RejectCode.account_restricted,
    )
    assert world.gate.compliance.forced_surrender("fs1", "E1", CEA, 100, 2024).ok
    assert world.registry.freeze_account("s2", "E1").ok
    assert world.gate.compliance.forced_surrender("fs2", "E1", CEA, 100, 2024).ok
    assert world.units("E1") == (800, 800)


def test_forced_surrender_of_a_closed_holder_is_refused(world: World) -> None:
    refused(
        world.gate.compliance.forced_surrender("fs1", "I1", CEA, 1, 2024),
        RejectCode.insufficient_units,
    )
    assert world.registry.close_account("c1", "I1").ok
    refused(
        world.gate.compliance.forced_surrender("fs2", "I1", CEA, 1, 2024), RejectCode.account_closed
    )


# -- succession ---------------------------------------------------------------------------


def test_succession_moves_every_unit_and_all_funds_and_closes_the_old_holder(
    world: World,
) -> None:
    assert world.registry.issue("ccer", CCER, 50, to="E1").ok
    assert world.registry.deposit("d1", "E1", 1_234_567).ok
    assert world.registry.allocate("a2", "E2", CEA, 10).ok
    assert world.registry.deposit("d2", "E2", 100).ok

    succeeded = world.gate.submit(REG1, "succeed", "s1", {"account": "E1", "to": "E2"})

    assert succeeded.ok, succeeded
    assert world.units("E2") == (1010, 1010)
    assert world.units("E2", CCER) == (50, 50)
    assert world.balance("E2", Purpose.fund, CASH) == (1_234_667, 1_234_667)
    assert [world.units("E1"), world.units("E1", CCER)] == [(0, 0), (0, 0)]
    assert world.balance("E1", Purpose.fund, CASH) == (0, 0)
    assert world.state("E1") == HolderState.closed
    refused(world.registry.deposit("d3", "E1", 100), RejectCode.account_closed)
    refused(
        world.registry.transfer("t1", "E2", "E1", CEA, 1, actor="e2op"), RejectCode.account_closed
    )


def test_succession_is_refused_while_units_are_frozen_and_allowed_once_unfrozen(
    world: World,
) -> None:
    assert world.registry.freeze("f1", "E1", CEA, 10, "F1").ok

    refused(world.registry.succeed("s1", "E1", "E2"), RejectCode.units_encumbered)
    assert world.state("E1") == HolderState.normal
    assert world.units("E1") == (1000, 990)

    assert world.registry.unfreeze("u1", "F1").ok
    assert world.registry.succeed("s2", "E1", "E2").ok
    assert world.units("E2") == (1000, 1000)


def test_succession_is_refused_while_the_holder_is_the_pledgee_of_an_open_pledge(
    world: World,
) -> None:
    assert world.registry.allocate("a2", "E2", CEA, 100).ok
    assert world.registry.pledge("p1", "E2", "E1", CEA, 50, "P1").ok  # E1 is the pledgee

    refused(world.registry.succeed("s1", "E1", "I1"), RejectCode.units_encumbered)
    assert world.state("E1") == HolderState.normal


def test_succession_to_oneself_or_to_an_unknown_or_closed_holder_is_refused(world: World) -> None:
    refused(world.registry.succeed("s1", "E1", "E1"), RejectCode.accounts_must_be_different)
    refused(world.registry.succeed("s2", "E1", "NOPE"), RejectCode.unknown_account)
    assert world.registry.close_account("c1", "I1").ok
    refused(world.registry.succeed("s3", "E1", "I1"), RejectCode.account_closed)
    assert (world.state("E1"), world.units("E1")) == (HolderState.normal, (1000, 1000))


# -- closing an account -------------------------------------------------------------------


def test_closing_a_holder_is_refused_while_a_pledge_to_it_is_pending(world: World) -> None:
    """E2 holds nothing itself, but is the pledgee of E1's open pledge."""
    assert world.registry.pledge("p1", "E1", "E2", CEA, 300, "P1").ok

    refused(world.registry.close_account("c1", "E2"), RejectCode.account_not_empty)
    assert world.state("E2") == HolderState.normal

    assert world.registry.release("r1", "P1").ok
    assert world.registry.close_account("c2", "E2").ok
    assert world.state("E2") == HolderState.closed


def test_closing_is_refused_while_frozen_units_remain_and_allowed_once_emptied(
    world: World,
) -> None:
    assert world.registry.freeze("f1", "E1", CEA, 1000, "F1").ok
    refused(world.registry.close_account("c1", "E1"), RejectCode.account_not_empty)
    assert world.registry.deduct("dd1", "F1", "E2", 1000).ok  # the court takes them all
    assert world.registry.close_account("c2", "E1").ok
    assert world.units("E2") == (1000, 1000)


# -- four-eyes ----------------------------------------------------------------------------


ISSUE = {"asset": CEA, "quantity": 500, "to": None}


def reserve(world: World) -> int:
    return world.balance("authority", Purpose.reserve, CEA)[0]


def test_an_issue_waits_for_a_second_authority_and_then_runs_as_the_requesters_act(
    world: World,
) -> None:
    asked = world.gate.submit(AUTH1, "issue", "i1", ISSUE)
    assert asked.code == RejectCode.approval_required
    assert reserve(world) == 1000  # nothing yet

    approved = world.gate.approve(AUTH2, "i1")

    assert approved.ok and approved.seq is not None, approved
    assert reserve(world) == 1500
    entry = world.store.journal_entry(approved.seq)
    assert entry is not None and (entry.kind, entry.actor) == ("issue", "auth1")
    request = world.store.approval("i1")
    assert request is not None
    assert (request.state, request.requested_by, request.decided_by) == (
        "approved",
        "auth1",
        "auth2",
    )


def test_the_requester_cannot_approve_their_own_request(world: World) -> None:
    assert world.gate.submit(AUTH1, "issue", "i1", ISSUE).code == RejectCode.approval_required

    refused(world.gate.approve(AUTH1, "i1"), RejectCode.not_authorized)

    request = world.store.approval("i1")
    assert request is not None and request.state == "pending"
    assert reserve(world) == 1000


def test_an_approver_must_be_allowed_to_perform_the_operation_themselves(world: World) -> None:
    assert world.gate.submit(AUTH1, "issue", "i1", ISSUE).code == RejectCode.approval_required
    refused(world.gate.approve(REG1, "i1"), RejectCode.not_authorized)

    big = {"from": "E1", "to": "E2", "asset": CEA, "quantity": 100_001}
    assert world.registry.issue("more", CEA, 200_000).ok
    assert world.registry.allocate("a2", "E1", CEA, 200_000).ok
    assert world.gate.submit(E1OP, "transfer", "t1", big).code == RejectCode.approval_required
    refused(world.gate.approve(E2OP, "t1"), RejectCode.not_authorized)  # another holder's operator
    refused(world.gate.approve(AUTH2, "t1"), RejectCode.not_authorized)  # staff may not transfer
    assert world.gate.approve(E1OP2, "t1").ok  # another operator of E1
    assert world.units("E2") == (100_001, 100_001)
    assert reserve(world) == 1000  # the issue is still waiting


def test_a_transfer_of_exactly_the_threshold_needs_no_second_person(world: World) -> None:
    assert world.registry.issue("more", CEA, 200_000).ok
    assert world.registry.allocate("a2", "E1", CEA, 200_000).ok
    edge = {"from": "E1", "to": "E2", "asset": CEA, "quantity": 100_000}
    assert world.gate.submit(E1OP, "transfer", "t1", edge).ok


def test_the_requester_rejecting_their_own_request_withdraws_it(world: World) -> None:
    assert world.gate.submit(AUTH1, "issue", "i1", ISSUE).code == RejectCode.approval_required

    assert world.gate.reject(AUTH1, "i1", "typo in the quantity").ok

    request = world.store.approval("i1")
    assert request is not None
    assert (request.state, request.decided_by, request.reason) == (
        "rejected",
        "auth1",
        "typo in the quantity",
    )
    refused(world.gate.approve(AUTH2, "i1"), RejectCode.approval_not_pending)
    refused(world.gate.submit(AUTH1, "issue", "i1", ISSUE), RejectCode.approval_not_pending)
    assert reserve(world) == 1000


def test_someone_not_allowed_the_operation_cannot_reject_it(world: World) -> None:
    assert world.gate.submit(AUTH1, "issue", "i1", ISSUE).code == RejectCode.approval_required
    refused(world.gate.reject(REG1, "i1"), RejectCode.not_authorized)
    request = world.store.approval("i1")
    assert request is not None and request.state == "pending"


def test_a_request_lapses_72_hours_after_it_was_made(world: World) -> None:
    assert world.gate.submit(AUTH1, "issue", "i1", ISSUE).code == RejectCode.approval_required
    assert world.gate.submit(AUTH1, "issue", "i2", ISSUE).code == RejectCode.approval_required
    world.clock.set(START + timedelta(hours=72) - timedelta(microseconds=1))
    assert world.gate.approve(AUTH2, "i1").ok  # just in time

    world.clock.set(START + timedelta(hours=72))
    refused(world.gate.approve(AUTH2, "i2"), RejectCode.approval_expired)

    request = world.store.approval("i2")
    assert request is not None and request.state == "expired"
    refused(world.gate.submit(AUTH1, "issue", "i2", ISSUE), RejectCode.approval_expired)
    assert reserve(world) == 1500  # i1 only


def test_expire_due_marks_every_lapsed_request_and_only_those(world: World) -> None:
    assert world.gate.submit(AUTH1, "issue", "i1", ISSUE).code == RejectCode.approval_required
    world.clock.set(START + timedelta(hours=1))
    assert world.gate.submit(AUTH1, "issue", "i2", ISSUE).code == RejectCode.approval_required
    world.clock.set(START + timedelta(hours=72, minutes=30))

    assert world.gate.expire_due() == 1

    states = {a.id: a.state for a in world.store.approvals(limit=None)}
    assert states == {"i1": "expired", "i2": "pending"}
    assert world.gate.expire_due() == 0


def test_approving_twice_by_the_same_person_replays_the_first_result(world: World) -> None:
    assert world.gate.submit(AUTH1, "issue", "i1", ISSUE).code == RejectCode.approval_required
    first = world.gate.approve(AUTH2, "i1")

    again = world.gate.approve(AUTH2, "i1")

    assert first.ok and again.ok
    assert (first.replayed, again.replayed) == (False, True)
    assert again.seq == first.seq is not None
    assert reserve(world) == 1500  # issued once
    resubmitted = world.gate.submit(AUTH1, "issue", "i1", ISSUE)
    assert (resubmitted.replayed, resubmitted.seq) == (True, first.seq)


def test_a_second_approval_by_someone_else_is_not_pending(world: World) -> None:
    auth3 = Person("auth3", "auth3", Role.authority)
    assert world.gate.submit(AUTH1, "issue", "i1", ISSUE).code == RejectCode.approval_required
    assert world.gate.approve(AUTH2, "i1").ok
    refused(world.gate.approve(auth3, "i1"), RejectCode.approval_not_pending)
    assert reserve(world) == 1500


def test_an_approved_request_cannot_then_be_rejected(world: World) -> None:
    assert world.gate.submit(AUTH1, "issue", "i1", ISSUE).code == RejectCode.approval_required
    assert world.gate.approve(AUTH2, "i1").ok
    refused(world.gate.reject(AUTH2, "i1"), RejectCode.approval_not_pending)
    request = world.store.approval("i1")
    assert request is not None and request.state == "approved"


def test_a_pending_request_asked_again_with_another_body_is_duplicate_id(world: World) -> None:
    assert world.gate.submit(AUTH1, "issue", "i1", ISSUE).code == RejectCode.approval_required
    refused(
        world.gate.submit(AUTH1, "issue", "i1", {**ISSUE, "quantity": 501}), RejectCode.duplicate_id
    )


def test_a_pending_requests_id_cannot_be_taken_by_an_operation_that_needs_no_approval(
    world: World,
) -> None:
    assert world.gate.submit(AUTH1, "issue", "i1", ISSUE).code == RejectCode.approval_required
    taken = world.gate.submit(AUTH1, "allocate", "i1", {"to": "E1", "asset": CEA, "quantity": 1})
    refused(taken, RejectCode.duplicate_id)
    assert world.gate.approve(AUTH2, "i1").ok
