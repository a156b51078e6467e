"""The pure ledger kernel: balances, holds, idempotency, linked chains, precedence, the validator.

Every test builds its own small `LedgerState` by hand (no database) and checks both the reported
codes and the accounts' buckets afterwards, so a rule that is skipped or applied twice shows.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import replace

import pytest

from cets.domain.errors import RejectCode, first_code
from cets.domain.ledger import (
    Account,
    AccountFlags,
    BatchResult,
    Hold,
    LedgerState,
    Transfer,
    TransferFlags,
    apply_transfers,
)
from cets.domain.ledger.invariants import movements_from_transfers, validate

NOW = 1_709_515_800_000_000  # 2024-03-04 01:30 UTC, in microseconds
CEA = "CEA-2023"
CNY = "CNY"
LIMITED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
CLOSED = int(AccountFlags.CLOSED)
LINKED = int(TransferFlags.LINKED)
PENDING = int(TransferFlags.PENDING)
POST = int(TransferFlags.POST_PENDING)
VOID = int(TransferFlags.VOID_PENDING)

# Account ids of the little ledger every test starts from.
ISSUANCE, ALICE, BOB, CAROL = 1, 2, 3, 4
CASH_ISSUANCE, ALICE_CASH, BOB_CASH = 11, 12, 13
SHUT = 20  # a closed holder account
UNKNOWN = 999

# The reject codes SCENARIOS.md ("Reject codes that must exist") fixes as public contract.
SCENARIO_REJECT_CODES = (
    "insufficient_units",
    "insufficient_funds",
    "price_outside_band",
    "price_not_on_tick",
    "quantity_out_of_range",
    "outside_trading_session",
    "instrument_halted",
    "account_restricted",
    "account_closed",
    "units_not_yet_sellable",
    "position_limit_exceeded",
    "quote_not_in_best_levels",
    "offset_cap_exceeded",
    "units_encumbered",
    "duplicate_id",
    "unknown_account",
    "unknown_order",
    "unknown_reference",
    "not_authorized",
    "approval_required",
    "account_not_empty",
)


def empty_ledger() -> LedgerState:
    accounts = [
        Account(ISSUANCE, "authority", "issuance", CEA),
        Account(ALICE, "E1", "holding", CEA, LIMITED),
        Account(BOB, "E2", "holding", CEA, LIMITED),
        Account(CAROL, "E3", "holding", CEA, LIMITED),
        Account(CASH_ISSUANCE, "bank", "issuance", CNY),
        Account(ALICE_CASH, "E1", "fund", CNY, LIMITED),
        Account(BOB_CASH, "E2", "fund", CNY, LIMITED),
        Account(SHUT, "E9", "holding", CEA, LIMITED | CLOSED),
    ]
    return LedgerState({a.id: a for a in accounts})


def ledger() -> LedgerState:
    """Alice holds 100 t and 1000 fen, issued through the kernel itself."""
    state = empty_ledger()
    result = apply_transfers(
        [
            Transfer("issue-units", ISSUANCE, ALICE, CEA, 100, "issue"),
            Transfer("issue-cash", CASH_ISSUANCE, ALICE_CASH, CNY, 1000, "deposit"),
        ],
        state,
        NOW - 1,
    )
    assert result.all_ok, result.codes
    return state


def run(state: LedgerState, *batch: Transfer) -> BatchResult:
    return apply_transfers(list(batch), state, NOW)


def buckets(state: LedgerState) -> dict[int, tuple[int, int, int, int]]:
    return {i: a.buckets() for i, a in state.accounts.items()}


def holds(state: LedgerState) -> dict[str, tuple[int, int]]:
    return {h.id: (h.amount, h.remaining) for h in state.holds.values()}


def move(
    tid: str,
    debit: int,
    credit: int,
    amount: int,
    *,
    flags: int = 0,
    pending_id: str | None = None,
    ref: str | None = None,
    asset: str | None = None,
) -> Transfer:
    if asset is None:
        asset = CNY if debit in (CASH_ISSUANCE, ALICE_CASH, BOB_CASH) else CEA
    return Transfer(tid, debit, credit, asset, amount, "transfer", flags, pending_id, ref)


def hold(tid: str, debit: int, credit: int, amount: int) -> Transfer:
    return Transfer(tid, debit, credit, CEA, amount, "order", PENDING)


def post(tid: str, pending_id: str, amount: int, debit: int = ALICE, credit: int = BOB) -> Transfer:
    return Transfer(tid, debit, credit, CEA, amount, "trade", POST, pending_id)


def void(tid: str, pending_id: str, amount: int, debit: int = ALICE, credit: int = BOB) -> Transfer:
    return Transfer(tid, debit, credit, CEA, amount, "order", VOID, pending_id)


def assert_refused_without_change(state: LedgerState, t: Transfer, code: RejectCode) -> None:
    before, holds_before, ids_before = buckets(state), holds(state), set(state.transfers)
    result = run(state, t)
    assert result.codes == [code], result.messages
    assert result.stored == [None]
    assert result.created == []
    assert buckets(state) == before
    assert holds(state) == holds_before
    assert set(state.transfers) == ids_before


# --------------------------------------------------------------------------- posting


def test_a_posted_transfer_moves_the_amount_from_debit_to_credit() -> None:
    state = ledger()
    result = run(state, move("t1", ALICE, BOB, 30))
    assert result.codes == [None]
    assert result.replayed == [False]
    assert state.accounts[ALICE].buckets() == (0, 30, 0, 100)
    assert state.accounts[BOB].buckets() == (0, 0, 0, 30)
    assert state.accounts[ALICE].available == 70
    assert state.accounts[BOB].balance == 30
    assert result.created == result.stored
    assert result.created[0].timestamp == NOW
    assert state.transfers["t1"] is result.created[0]
    assert result.touched_accounts == {ALICE, BOB}


def test_an_account_without_the_limit_flag_may_go_below_zero() -> None:
    state = ledger()
    result = run(state, move("more", ISSUANCE, BOB, 10_000))
    assert result.codes == [None]
    assert state.accounts[ISSUANCE].balance == -10_100


def test_moving_exactly_the_available_units_is_allowed() -> None:
    state = ledger()
    assert run(state, move("all", ALICE, BOB, 100)).codes == [None]
    assert state.accounts[ALICE].available == 0


def test_moving_more_units_than_available_is_insufficient_units() -> None:
    state = ledger()
    assert_refused_without_change(state, move("t1", ALICE, BOB, 101), RejectCode.insufficient_units)


def test_moving_more_cash_than_available_is_insufficient_funds() -> None:
    state = ledger()
    assert_refused_without_change(
        state, move("c1", ALICE_CASH, BOB_CASH, 1001), RejectCode.insufficient_funds
    )


def test_a_refusal_message_carries_the_values() -> None:
    result = run(ledger(), move("t1", ALICE, BOB, 101))
    assert "100 available" in result.messages[0]
    assert "101" in result.messages[0]


# --------------------------------------------------------------------------- holds


def test_a_hold_reduces_available_but_not_the_balance() -> None:
    state = ledger()
    assert run(state, hold("h1", ALICE, BOB, 40)).codes == [None]
    alice, bob = state.accounts[ALICE], state.accounts[BOB]
    assert (alice.balance, alice.available) == (100, 60)
    assert alice.buckets() == (40, 0, 0, 100)
    assert bob.buckets() == (0, 0, 40, 0)
    assert holds(state) == {"h1": (40, 40)}
    assert_refused_without_change(state, move("t1", ALICE, CAROL, 61), RejectCode.units_encumbered)
    assert_refused_without_change(state, hold("h2", ALICE, CAROL, 61), RejectCode.units_encumbered)
    assert_refused_without_change(
        state, move("t3", ALICE, CAROL, 101), RejectCode.insufficient_units
    )
    assert run(state, move("t2", ALICE, CAROL, 60)).codes == [None]


def test_a_hold_posted_in_part_then_voided_for_the_rest_closes() -> None:
    state = ledger()
    run(state, hold("h1", ALICE, BOB, 40))
    assert run(state, post("p1", "h1", 15)).codes == [None]
    assert state.accounts[ALICE].buckets() == (25, 15, 0, 100)
    assert state.accounts[BOB].buckets() == (0, 0, 25, 15)
    assert holds(state) == {"h1": (40, 25)}
    result = run(state, void("v1", "h1", 0))  # 0: whatever remains
    assert result.codes == [None]
    assert result.stored[0] is not None and result.stored[0].amount == 25
    assert state.accounts[ALICE].buckets() == (0, 15, 0, 100)
    assert state.accounts[BOB].buckets() == (0, 0, 0, 15)
    assert state.accounts[ALICE].available == 85
    assert holds(state) == {"h1": (40, 0)}
    assert not state.holds["h1"].is_open


def test_posting_all_that_remains_with_amount_zero_stores_the_amount_moved() -> None:
    state = ledger()
    run(state, hold("h1", ALICE, BOB, 40), void("v1", "h1", 10))
    result = run(state, post("p1", "h1", 0))
    assert result.codes == [None]
    assert result.created[0].amount == 30
    assert state.accounts[BOB].balance == 30
    assert state.accounts[ALICE].buckets() == (0, 30, 0, 100)


def test_posting_more_than_remains_of_a_hold_is_amount_exceeds_hold() -> None:
    state = ledger()
    run(state, hold("h1", ALICE, BOB, 40), post("p1", "h1", 30))
    assert_refused_without_change(state, post("p2", "h1", 11), RejectCode.amount_exceeds_hold)
    assert_refused_without_change(state, void("v2", "h1", 11), RejectCode.amount_exceeds_hold)


def test_posting_a_closed_hold_is_hold_already_closed() -> None:
    state = ledger()
    run(state, hold("h1", ALICE, BOB, 40), post("p1", "h1", 0))
    assert_refused_without_change(state, post("p2", "h1", 1), RejectCode.hold_already_closed)
    assert_refused_without_change(state, void("v2", "h1", 0), RejectCode.hold_already_closed)


def test_posting_an_unknown_hold_is_unknown_reference() -> None:
    state = ledger()
    assert_refused_without_change(state, post("p1", "nope", 1), RejectCode.unknown_reference)


def test_posting_a_hold_between_other_accounts_is_accounts_must_match_hold() -> None:
    state = ledger()
    run(state, hold("h1", ALICE, BOB, 40))
    assert_refused_without_change(
        state, post("p1", "h1", 5, ALICE, CAROL), RejectCode.accounts_must_match_hold
    )
    assert_refused_without_change(
        state, void("v1", "h1", 5, BOB, ALICE), RejectCode.accounts_must_match_hold
    )


def test_a_hold_on_an_account_closed_later_can_still_be_posted_and_voided() -> None:
    state = ledger()
    run(state, hold("h1", ALICE, BOB, 40))
    state.accounts[ALICE].flags |= CLOSED
    assert run(state, post("p1", "h1", 10), void("v1", "h1", 0)).codes == [None, None]
    assert state.accounts[BOB].balance == 10


# --------------------------------------------------------------------------- idempotency


def test_the_same_id_with_the_same_body_is_replayed_and_changes_nothing() -> None:
    state = ledger()
    first = run(state, move("t1", ALICE, BOB, 30), hold("h1", ALICE, BOB, 20))
    before, holds_before = buckets(state), holds(state)
    again = apply_transfers(
        [move("t1", ALICE, BOB, 30), hold("h1", ALICE, BOB, 20)], state, NOW + 5
    )
    assert again.codes == [None, None]
    assert again.replayed == [True, True]
    assert again.stored == first.stored  # the stored transfers, first timestamps included
    assert again.created == []
    assert again.touched_accounts == set()
    assert again.touched_holds == set()
    assert buckets(state) == before
    assert holds(state) == holds_before


def test_a_post_of_all_that_remains_is_replayed_after_its_hold_closed() -> None:
    state = ledger()
    run(state, hold("h1", ALICE, BOB, 40), post("p1", "h1", 0))
    before = buckets(state)
    result = run(state, post("p1", "h1", 0))
    assert (result.codes, result.replayed) == ([None], [True])
    assert result.stored[0] is not None and result.stored[0].amount == 40
    assert buckets(state) == before


def test_a_replay_ignores_the_linked_flag_the_store_sets() -> None:
    state = ledger()
    run(state, move("t1", ALICE, BOB, 5, flags=LINKED), move("t2", ALICE, BOB, 5))
    result = run(state, move("t1", ALICE, BOB, 5))
    assert (result.codes, result.replayed) == ([None], [True])


@pytest.mark.parametrize(
    "altered",
    [
        move("t1", ALICE, BOB, 31),
        move("t1", ALICE, CAROL, 30),
        move("t1", ALICE, BOB, 30, ref="other"),
        replace(move("t1", ALICE, BOB, 30), code="fee"),
        hold("t1", ALICE, BOB, 30),
    ],
    ids=["amount", "credit account", "ref", "code", "flags"],
)
def test_the_same_id_with_a_different_body_is_duplicate_id(altered: Transfer) -> None:
    state = ledger()
    run(state, move("t1", ALICE, BOB, 30))
    assert_refused_without_change(state, altered, RejectCode.duplicate_id)


def test_a_repeated_id_inside_one_batch_is_applied_once() -> None:
    state = ledger()
    result = run(state, move("t1", ALICE, BOB, 30), move("t1", ALICE, BOB, 30))
    assert result.codes == [None, None]
    assert result.replayed == [False, True]
    assert len(result.created) == 1
    assert state.accounts[BOB].balance == 30


def test_a_repeated_id_with_another_body_inside_one_batch_is_duplicate_id() -> None:
    state = ledger()
    result = run(state, move("t1", ALICE, BOB, 30), move("t1", ALICE, BOB, 31))
    assert result.codes == [None, RejectCode.duplicate_id]
    assert state.accounts[BOB].balance == 30


# --------------------------------------------------------------------------- linked chains


def test_a_linked_chain_applies_every_leg_or_none() -> None:
    state = ledger()
    delivery = (
        move("u", ALICE, BOB, 30, flags=LINKED),
        move("c", BOB_CASH, ALICE_CASH, 300, asset=CNY),
    )
    result = run(state, *delivery)  # Bob has no cash yet
    assert result.codes == [RejectCode.linked_event_failed, RejectCode.insufficient_funds]
    assert state.accounts[BOB].balance == 0
    run(state, move("fund-bob", CASH_ISSUANCE, BOB_CASH, 500))
    result = run(state, *delivery)
    assert result.codes == [None, None]
    assert state.accounts[BOB].balance == 30
    assert state.accounts[ALICE_CASH].balance == 1300
    assert state.accounts[BOB_CASH].balance == 200


def test_a_linked_chain_failing_in_its_second_leg_undoes_the_first() -> None:
    state = ledger()
    run(state, hold("h0", ALICE, BOB, 20))
    before, holds_before, ids_before = buckets(state), holds(state), set(state.transfers)
    result = run(
        state,
        Transfer("p1", ALICE, BOB, CEA, 5, "trade", POST | LINKED, "h0"),
        move("t1", ALICE, CAROL, 500),  # Alice has 80 available
    )
    assert result.codes == [RejectCode.linked_event_failed, RejectCode.insufficient_units]
    assert "linked transfer 2" in result.messages[0]
    assert result.stored == [None, None]
    assert result.created == []
    assert buckets(state) == before
    assert holds(state) == holds_before
    assert set(state.transfers) == ids_before


def test_a_failed_chain_undoes_new_holds_and_posts_of_holds_it_made() -> None:
    state = ledger()
    before, ids_before = buckets(state), set(state.transfers)
    result = run(
        state,
        Transfer("h1", ALICE, BOB, CEA, 30, "order", PENDING | LINKED),
        Transfer("p1", ALICE, BOB, CEA, 10, "trade", POST | LINKED, "h1"),
        move("t1", ALICE, CAROL, 11, flags=LINKED),
        move("t2", ALICE, CAROL, 60),  # 100 - 20 held - 10 posted - 11 = 59 available
    )
    assert result.codes == [RejectCode.linked_event_failed] * 3 + [RejectCode.units_encumbered]
    assert buckets(state) == before
    assert state.holds == {}
    assert set(state.transfers) == ids_before
    # the ids of a refused chain were never used: the same chain, made affordable, goes through
    result = run(
        state,
        Transfer("h1", ALICE, BOB, CEA, 30, "order", PENDING | LINKED),
        Transfer("p1", ALICE, BOB, CEA, 10, "trade", POST | LINKED, "h1"),
        move("t1", ALICE, CAROL, 11, flags=LINKED),
        move("t2", ALICE, CAROL, 59),
    )
    assert result.codes == [None] * 4
    assert state.accounts[ALICE].buckets() == (20, 80, 0, 100)
    assert holds(state) == {"h1": (30, 20)}


def test_a_failed_chain_leaves_the_transfers_around_it_applied() -> None:
    state = ledger()
    result = run(
        state,
        move("a", ALICE, BOB, 10),
        move("b1", ALICE, BOB, 10, flags=LINKED),
        move("b2", ALICE, BOB, 0),
        move("c", ALICE, BOB, 10),
    )
    assert result.codes == [
        None,
        RejectCode.linked_event_failed,
        RejectCode.amount_must_be_positive,
        None,
    ]
    assert [t.id for t in result.created] == ["a", "c"]
    assert state.accounts[BOB].balance == 20


def test_a_chain_still_open_at_the_end_of_the_batch_is_refused_whole() -> None:
    state = ledger()
    result = run(
        state,
        move("t1", ALICE, BOB, 10),
        move("t2", ALICE, BOB, 10, flags=LINKED),
        move("t3", ALICE, BOB, 10, flags=LINKED),
    )
    assert result.codes == [
        None,
        RejectCode.linked_event_failed,
        RejectCode.linked_event_chain_open,
    ]
    assert state.accounts[BOB].balance == 10
    assert set(state.transfers) == {"issue-units", "issue-cash", "t1"}


# --------------------------------------------------------------------------- single rules


def test_a_zero_amount_is_amount_must_be_positive() -> None:
    assert_refused_without_change(
        ledger(), move("t1", ALICE, BOB, 0), RejectCode.amount_must_be_positive
    )


def test_a_negative_post_is_amount_must_be_positive() -> None:
    state = ledger()
    run(state, hold("h1", ALICE, BOB, 40))
    assert_refused_without_change(state, post("p1", "h1", -1), RejectCode.amount_must_be_positive)


def test_a_transfer_to_a_closed_account_is_account_closed() -> None:
    state = ledger()
    assert_refused_without_change(state, move("t1", ALICE, SHUT, 1), RejectCode.account_closed)
    state.accounts[SHUT].credits_posted = 5  # give it something to send
    assert_refused_without_change(state, move("t2", SHUT, ALICE, 1), RejectCode.account_closed)


def test_a_transfer_of_another_asset_than_the_accounts_hold_is_refused() -> None:
    state = ledger()
    assert_refused_without_change(
        state, move("t1", ALICE, BOB, 1, asset="CCER"), RejectCode.accounts_must_have_the_same_asset
    )
    assert_refused_without_change(
        state,
        move("t2", ALICE, BOB_CASH, 1, asset=CEA),
        RejectCode.accounts_must_have_the_same_asset,
    )


def test_a_transfer_naming_a_missing_account_is_unknown_account() -> None:
    state = ledger()
    assert_refused_without_change(state, move("t1", ALICE, UNKNOWN, 1), RejectCode.unknown_account)
    assert_refused_without_change(state, move("t2", UNKNOWN, ALICE, 1), RejectCode.unknown_account)


@pytest.mark.parametrize(
    ("transfer", "code"),
    [
        (move("", ALICE, BOB, 1), RejectCode.id_must_not_be_empty),
        (
            Transfer("t1", ALICE, BOB, CEA, 1, "x", PENDING | POST, "h"),
            RejectCode.flags_are_mutually_exclusive,
        ),
        (Transfer("t1", ALICE, BOB, CEA, 1, "x", POST), RejectCode.pending_id_must_be_set),
        (move("t1", ALICE, BOB, 1, pending_id="h"), RejectCode.pending_id_must_not_be_set),
        (move("t1", ALICE, ALICE, 1), RejectCode.accounts_must_be_different),
    ],
)
def test_a_badly_shaped_transfer_is_refused_with_its_shape_code(
    transfer: Transfer, code: RejectCode
) -> None:
    assert_refused_without_change(ledger(), transfer, code)


# --------------------------------------------------------------------------- precedence


def test_a_zero_amount_between_the_same_account_is_amount_must_be_positive() -> None:
    # both rules break; amount_must_be_positive comes first in RejectCode
    assert (
        RejectCode.amount_must_be_positive.precedence
        < RejectCode.accounts_must_be_different.precedence
    )
    assert_refused_without_change(
        ledger(), move("t1", ALICE, ALICE, 0), RejectCode.amount_must_be_positive
    )


# Each fault breaks exactly one rule of a good transfer Alice -> Bob of 10 t (Alice has 100 t,
# and "taken" is already stored with another body). `field` names what the fault changes, so
# only faults on different fields are combined.
_FAULTS: dict[str, tuple[str, Callable[[Transfer], Transfer], RejectCode]] = {
    "empty id": ("id", lambda t: replace(t, id=""), RejectCode.id_must_not_be_empty),
    "id taken": ("id", lambda t: replace(t, id="taken"), RejectCode.duplicate_id),
    "two actions": (
        "flags",
        lambda t: replace(t, flags=PENDING | VOID),
        RejectCode.flags_are_mutually_exclusive,
    ),
    "pending_id set": (
        "pending_id",
        lambda t: replace(t, pending_id="h"),
        RejectCode.pending_id_must_not_be_set,
    ),
    "zero amount": ("amount", lambda t: replace(t, amount=0), RejectCode.amount_must_be_positive),
    "too much": ("amount", lambda t: replace(t, amount=101), RejectCode.insufficient_units),
    "same accounts": (
        "credit",
        lambda t: replace(t, credit_account_id=ALICE),
        RejectCode.accounts_must_be_different,
    ),
    "unknown credit": (
        "credit",
        lambda t: replace(t, credit_account_id=UNKNOWN),
        RejectCode.unknown_account,
    ),
    "closed credit": (
        "credit",
        lambda t: replace(t, credit_account_id=SHUT),
        RejectCode.account_closed,
    ),
    "other asset": (
        "asset",
        lambda t: replace(t, asset="CCER"),
        RejectCode.accounts_must_have_the_same_asset,
    ),
}


def _fault_pairs() -> list[tuple[str, str]]:
    return [(a, b) for a, b in itertools.combinations(_FAULTS, 2) if _FAULTS[a][0] != _FAULTS[b][0]]


def test_each_fault_alone_gives_its_own_code() -> None:
    for name, (_, fault, code) in _FAULTS.items():
        state = ledger()
        run(state, move("taken", ALICE, CAROL, 1))
        assert run(state, fault(move("t1", ALICE, BOB, 10))).codes == [code], name


@pytest.mark.parametrize(("first", "second"), _fault_pairs(), ids=" + ".join)
def test_of_two_broken_rules_the_earlier_reject_code_is_reported(first: str, second: str) -> None:
    state = ledger()
    run(state, move("taken", ALICE, CAROL, 1))
    t = _FAULTS[second][1](_FAULTS[first][1](move("t1", ALICE, BOB, 10)))
    expected = first_code([_FAULTS[first][2], _FAULTS[second][2]])
    assert_refused_without_change(state, t, expected)


def test_posting_an_unknown_hold_from_an_unknown_account_is_unknown_account() -> None:
    # RejectCode: unknown_account precedes unknown_reference
    assert_refused_without_change(
        ledger(), post("p1", "nope", 1, UNKNOWN, BOB), RejectCode.unknown_account
    )


def test_posting_a_closed_hold_in_the_wrong_asset_is_accounts_must_have_the_same_asset() -> None:
    # RejectCode: accounts_must_have_the_same_asset precedes hold_already_closed
    state = ledger()
    run(state, hold("h1", ALICE, BOB, 40), post("p1", "h1", 0))
    wrong_asset = replace(post("p2", "h1", 1), asset="CCER")
    assert_refused_without_change(state, wrong_asset, RejectCode.accounts_must_have_the_same_asset)


def test_posting_too_much_in_the_wrong_asset_is_accounts_must_have_the_same_asset() -> None:
    # RejectCode: accounts_must_have_the_same_asset precedes amount_exceeds_hold
    state = ledger()
    run(state, hold("h1", ALICE, BOB, 40))
    wrong_asset = replace(post("p2", "h1", 41), asset="CCER")
    assert_refused_without_change(state, wrong_asset, RejectCode.accounts_must_have_the_same_asset)


# --------------------------------------------------------------------------- the vocabulary


@pytest.mark.parametrize("name", SCENARIO_REJECT_CODES)
def test_every_reject_code_the_scenarios_name_exists(name: str) -> None:
    assert RejectCode(name).value == name
    assert RejectCode[name].value == name


def test_reject_codes_are_snake_case_sentences_and_their_own_value() -> None:
    for code in RejectCode:
        assert code.name == code.value
        assert code.value == code.value.lower()
        assert " " not in code.value
    assert [c.precedence for c in RejectCode] == list(range(len(RejectCode)))


# --------------------------------------------------------------------------- the validator


def busy_ledger() -> LedgerState:
    """A consistent ledger: posted transfers, an open hold, a part-posted one, a closed one."""
    state = ledger()
    result = run(
        state,
        move("t1", ALICE, BOB, 30),
        hold("h1", ALICE, BOB, 20),
        hold("h2", BOB, CAROL, 10),
        post("p2", "h2", 4, BOB, CAROL),
        hold("h3", ALICE, CAROL, 5),
        void("v3", "h3", 0, ALICE, CAROL),
    )
    assert result.all_ok, result.codes
    return state


def audit(state: LedgerState) -> list[str]:
    movements, consumed = movements_from_transfers(state.transfers.values())
    violations = validate(state.accounts.values(), state.holds.values(), movements, consumed)
    return [v.rule for v in violations]


def test_a_consistent_ledger_has_no_violations() -> None:
    state = busy_ledger()
    assert audit(state) == []
    assert validate(state.accounts.values(), state.holds.values()) == []


def test_the_validator_finds_units_created_from_nothing() -> None:
    state = busy_ledger()
    state.accounts[BOB].credits_posted += 7
    assert audit(state) == ["balances_match_transfers", "conservation"]
    assert [v.rule for v in validate(state.accounts.values(), state.holds.values())] == [
        "conservation"
    ]


def test_the_validator_finds_a_negative_available_balance() -> None:
    state = busy_ledger()
    state.accounts[ALICE].debits_posted += 1000
    state.accounts[BOB].credits_posted += 1000
    violations = validate(state.accounts.values(), state.holds.values())
    assert [v.rule for v in violations] == ["available_not_negative"]
    assert "available -950" in violations[0].message


def test_the_validator_finds_holds_that_do_not_match_pending_buckets() -> None:
    state = busy_ledger()
    state.holds["h1"].remaining -= 5
    assert [v.rule for v in validate(state.accounts.values(), state.holds.values())] == [
        "holds_match_pending_debits",
        "holds_match_pending_credits",
    ]
    assert sorted(audit(state)) == [
        "hold_matches_transfers",
        "holds_match_pending_credits",
        "holds_match_pending_debits",
    ]


def test_the_validator_finds_balances_that_do_not_match_the_transfers() -> None:
    state = busy_ledger()
    # a conserved but unrecorded issue: only the transfer log can tell
    state.accounts[ISSUANCE].debits_posted += 9
    state.accounts[CAROL].credits_posted += 9
    assert validate(state.accounts.values(), state.holds.values()) == []
    assert audit(state) == ["balances_match_transfers", "balances_match_transfers"]


def test_the_validator_finds_a_hold_beyond_its_amount_and_negative_buckets() -> None:
    state = busy_ledger()
    state.holds["h1"].remaining = 25
    state.holds["h1"].amount = 20
    state.accounts[CAROL].credits_pending = -1
    rules = {v.rule for v in validate(state.accounts.values(), state.holds.values())}
    assert {"hold_within_amount", "buckets_not_negative"} <= rules


def test_the_validator_returns_every_violation_at_once() -> None:
    state = busy_ledger()
    state.accounts[BOB].credits_posted += 7  # conservation
    state.accounts[CAROL].debits_posted += 1000  # negative available (and conservation)
    state.accounts[ISSUANCE].debits_posted += 1000
    state.holds["h1"].remaining -= 5  # holds vs pending buckets
    rules = audit(state)
    assert set(rules) == {
        "conservation",
        "available_not_negative",
        "holds_match_pending_debits",
        "holds_match_pending_credits",
        "hold_matches_transfers",
        "balances_match_transfers",
    }
    assert rules.count("balances_match_transfers") == 3  # Bob, Carol and the issuance account


def test_the_validator_does_not_change_what_it_checks() -> None:
    state = busy_ledger()
    state.accounts[BOB].credits_posted += 7
    snapshot = copy.deepcopy(state)
    audit(state)
    assert buckets(state) == buckets(snapshot)
    assert holds(state) == holds(snapshot)


def test_movements_from_transfers_rebuild_the_stored_buckets() -> None:
    state = busy_ledger()
    movements, consumed = movements_from_transfers(state.transfers.values())
    assert {i: movements.get(i, (0, 0, 0, 0)) for i in state.accounts} == buckets(state)
    assert consumed == {"h2": 4, "h3": 5}
    assert {h.id: h.amount - consumed.get(h.id, 0) for h in state.holds.values()} == {
        h.id: h.remaining for h in state.holds.values()
    }


def test_a_hold_object_reports_whether_it_is_open() -> None:
    assert Hold("h", ALICE, BOB, CEA, "order", 5, 1).is_open
    assert not Hold("h", ALICE, BOB, CEA, "order", 5, 0).is_open
