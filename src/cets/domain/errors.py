"""The closed vocabulary of refusals, and the exception that carries one.

`RejectCode` lists every reason CETS refuses a command, in *precedence order*: when a command breaks
several rules, the earliest code in this enum is the one reported (TigerBeetle's `create_transfers`
result codes work the same way). Names are sentences in snake_case and are part of the public
contract (scenario outcomes, the API's problem+json `code`): add codes, never rename them.

Business refusals raise `DomainError(code, message)`; a broken invariant is a programmer error and
raises `AssertionError` instead.
"""

from __future__ import annotations

from enum import StrEnum


class RejectCode(StrEnum):
    """Why a command was refused, in precedence order (first listed wins)."""

    # The shape of a batch.
    linked_event_failed = "linked_event_failed"
    linked_event_chain_open = "linked_event_chain_open"
    # The shape of one command: things wrong whatever the state of the ledger.
    invalid_field = "invalid_field"
    id_must_not_be_empty = "id_must_not_be_empty"
    flags_are_mutually_exclusive = "flags_are_mutually_exclusive"
    pending_id_must_be_set = "pending_id_must_be_set"
    pending_id_must_not_be_set = "pending_id_must_not_be_set"
    amount_must_be_positive = "amount_must_be_positive"
    accounts_must_be_different = "accounts_must_be_different"
    # Who may do it.
    not_authorized = "not_authorized"
    approval_required = "approval_required"
    approval_not_pending = "approval_not_pending"  # already approved, rejected or expired
    approval_expired = "approval_expired"
    # The idempotency key: same id, different body.
    duplicate_id = "duplicate_id"
    # What the command refers to.
    unknown_account = "unknown_account"
    unknown_order = "unknown_order"
    unknown_run = "unknown_run"  # no settlement run by that id
    unknown_auction = "unknown_auction"
    unknown_reference = "unknown_reference"
    unknown_instrument = "unknown_instrument"
    unknown_alert = "unknown_alert"
    # A block quote or inquiry addressed to one counterparty, answered by another.
    quote_not_addressed_to_account = "quote_not_addressed_to_account"
    accounts_must_have_the_same_asset = "accounts_must_have_the_same_asset"
    accounts_must_match_hold = "accounts_must_match_hold"
    hold_already_closed = "hold_already_closed"
    amount_exceeds_hold = "amount_exceeds_hold"
    # The state of the accounts involved.
    account_closed = "account_closed"
    account_restricted = "account_restricted"
    account_not_empty = "account_not_empty"
    account_state_does_not_allow = "account_state_does_not_allow"  # e.g. unrestrict a normal one
    # Funds at settlement banks: a holder's one fund account is at one bank.
    fund_account_exists = "fund_account_exists"  # binding it again, or a number taken at the bank
    wrong_settlement_bank = "wrong_settlement_bank"  # a bank acting on an account at another bank
    # Settlement runs (service/settlement.py).
    run_state_does_not_allow = "run_state_does_not_allow"  # e.g. deliver a run not confirmed
    alert_state_does_not_allow = "alert_state_does_not_allow"  # e.g. a measure on a closed alert
    run_has_breaks = "run_has_breaks"  # confirming without accepting the listed breaks
    objection_window_closed = "objection_window_closed"  # the next trading day has opened
    not_a_party_to_run = "not_a_party_to_run"  # objecting to a run the account has no trade in
    # Compliance (service/compliance.py): periods, allocation plans, surrender, status.
    period_overlaps = "period_overlaps"  # a new period sharing a year with an opened one
    period_closed = "period_closed"  # its status was recorded after the deadline
    deadline_not_passed = "deadline_not_passed"  # closing before the surrender deadline
    allocation_already_made = "allocation_already_made"  # a year's pre- or final allocation
    no_allocation_plan = "no_allocation_plan"  # allocating a year that has no plan lines
    verified_output_missing = "verified_output_missing"  # final allocation before the output
    emissions_not_entered = "emissions_not_entered"  # what a cap or a gap is a share of
    vintage_not_eligible = "vintage_not_eligible"  # CEA of a later vintage (no borrowing)
    offset_not_pending = "offset_not_pending"  # confirming an offset used, rejected or lapsed
    relief_not_available = "relief_not_available"  # relief off, or the gap below its threshold
    borrowing_limit_exceeded = "borrowing_limit_exceeded"  # more than the relief's share
    # Trading gates, in the order the exchange checks them (DOMAIN.md, "Trading").
    instrument_halted = "instrument_halted"
    auction_not_open = "auction_not_open"  # closed, or its units withdrawn or expired
    auction_window_not_ended = "auction_window_not_ended"  # closing before the announced end
    outside_trading_session = "outside_trading_session"
    price_not_on_tick = "price_not_on_tick"
    quantity_out_of_range = "quantity_out_of_range"
    price_outside_band = "price_outside_band"
    bid_below_reserve_price = "bid_below_reserve_price"
    quote_not_in_best_levels = "quote_not_in_best_levels"
    units_not_yet_sellable = "units_not_yet_sellable"
    position_limit_exceeded = "position_limit_exceeded"
    # Balances, last: a well-formed, permitted command may still lack the means.
    units_encumbered = "units_encumbered"
    offset_cap_exceeded = "offset_cap_exceeded"
    insufficient_units = "insufficient_units"
    insufficient_funds = "insufficient_funds"

    @property
    def precedence(self) -> int:
        """Position in the enum: lower wins when several codes apply."""
        return _PRECEDENCE[self]


_PRECEDENCE = {code: i for i, code in enumerate(RejectCode)}


def first_code(codes: list[RejectCode]) -> RejectCode:
    """The code that takes precedence among several that apply."""
    assert codes, "first_code needs at least one code"
    return min(codes, key=_PRECEDENCE.__getitem__)


class DomainError(Exception):
    """An expected refusal: a `RejectCode` and a message that carries the values involved."""

    def __init__(self, code: RejectCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"DomainError({self.code.value!r}, {self.message!r})"
