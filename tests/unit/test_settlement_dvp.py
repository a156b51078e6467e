"""The settlement fast path (`cets.domain.settlement.dvp`) against the ledger kernel: the legs
`dvp_legs` makes for a trade, applied by `apply_legs`, leave every account and hold exactly as the
kernel's `apply_transfers` leaves them for the same transfers, and each trade's chain nets the
transit accounts to zero; what the kernel refuses (a hold shorter than its post, a limited account
below zero), `apply_legs` refuses with the same code."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import AccountId, HolderId, TransferId
from cets.domain.ledger.kernel import LedgerState, apply_transfers
from cets.domain.ledger.model import Account, AccountFlags, Hold, Transfer
from cets.domain.settlement.dvp import SettleAccounts, TradeToSettle, apply_legs, dvp_legs

LIMITED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
CEA, CNY = "CEA-2024", "CNY"
SELLER_UNITS, BUYER_FUND, BUYER_UNITS = 1, 2, 3
UNIT_TRANSIT, CASH_TRANSIT, CLEARING, FEES = 10, 11, 12, 13
SYSTEM = SettleAccounts(CLEARING, FEES)

trade_terms = st.tuples(
    st.integers(1, 1_000),  # quantity
    st.integers(1, 10_000),  # price, fen
    st.integers(0, 500),  # buyer fee
    st.integers(0, 500),  # seller fee (at most the value: see venue_base.seller_fee)
)


def state(terms: list[tuple[int, int, int, int]]) -> tuple[dict[int, Account], dict[str, Hold]]:
    """The accounts and one sell and one buy hold per trade, as the venue leaves them."""
    units = sum(q for q, _, _, _ in terms)
    money = sum(q * p + bf for q, p, bf, _ in terms)
    proceeds = sum(q * p - min(sf, q * p) for q, p, _, sf in terms)

    def account(i: int, holder: str, asset: str, flags: int, **buckets: int) -> Account:
        return Account(AccountId(i), HolderId(holder), "x", asset, flags, **buckets)

    accounts = {
        SELLER_UNITS: account(1, "S", CEA, LIMITED, credits_posted=units, debits_pending=units),
        BUYER_FUND: account(2, "B", CNY, LIMITED, credits_posted=money, debits_pending=money),
        BUYER_UNITS: account(3, "B", CEA, LIMITED),
        UNIT_TRANSIT: account(10, "X", CEA, LIMITED, credits_pending=units),
        CASH_TRANSIT: account(11, "X", CNY, LIMITED, credits_pending=money),
        CLEARING: account(12, "X", CNY, 0, debits_posted=proceeds),
        FEES: account(13, "X", CNY, LIMITED),
    }
    holds = {}
    for n, (q, p, bf, _) in enumerate(terms):
        holds[f"order:S{n}"] = Hold(
            TransferId(f"order:S{n}"), AccountId(1), AccountId(10), CEA, "order", q, q
        )
        holds[f"order:B{n}"] = Hold(
            TransferId(f"order:B{n}"),
            AccountId(2),
            AccountId(11),
            CNY,
            "order",
            q * p + bf,
            q * p + bf,
        )
    return accounts, holds


def legs_of(terms: list[tuple[int, int, int, int]], holds: dict[str, Hold]) -> list:
    legs = []
    for n, (q, p, bf, sf) in enumerate(terms):
        trade = TradeToSettle(
            f"T{n}", CEA, f"order:B{n}", f"order:S{n}", BUYER_UNITS, q, q * p, bf, min(sf, q * p)
        )
        legs += dvp_legs(trade, holds, SYSTEM, 0)
    return legs


@settings(max_examples=200, deadline=None)
@given(st.lists(trade_terms, min_size=1, max_size=8))
def test_the_fast_path_leaves_the_ledger_as_the_kernel_does(terms: list) -> None:
    accounts, holds = state(terms)
    legs = legs_of(terms, holds)
    fast_accounts, fast_holds = copy.deepcopy(accounts), copy.deepcopy(holds)
    apply_legs(legs, fast_accounts, fast_holds)
    kernel = LedgerState(copy.deepcopy(accounts), copy.deepcopy(holds), {})
    transfers = [
        Transfer(
            TransferId(i),
            AccountId(d),
            AccountId(c),
            a,
            amt,
            code,
            flags,
            TransferId(pid) if pid else None,
            ref,
        )
        for i, d, c, a, amt, code, flags, pid, ref, _ in legs
    ]
    outcome = apply_transfers(transfers, kernel, 0)
    assert all(code is None for code in outcome.codes), outcome.messages
    assert {i: a.buckets() for i, a in fast_accounts.items()} == {
        i: a.buckets() for i, a in kernel.accounts.items()
    }
    assert {h: x.remaining for h, x in fast_holds.items()} == {
        h: x.remaining for h, x in kernel.holds.items()
    }
    # Everything delivered: holds empty, transit flat, the clearing account repaid, fees in.
    assert all(h.remaining == 0 for h in fast_holds.values())
    for transit in (UNIT_TRANSIT, CASH_TRANSIT, CLEARING):
        assert fast_accounts[transit].balance == 0 and fast_accounts[transit].credits_pending == 0
    assert fast_accounts[FEES].balance == sum(bf + min(sf, q * p) for q, p, bf, sf in terms)
    assert fast_accounts[BUYER_UNITS].balance == sum(q for q, _, _, _ in terms)


def test_each_trade_is_one_linked_chain_each_fee_its_own_leg() -> None:
    _, holds = state([(10, 6000, 60, 30)])
    legs = legs_of([(10, 6000, 60, 30)], holds)
    assert [leg[0] for leg in legs] == [
        "settle:T0/units", "settle:T0/deliver", "settle:T0/funds", "settle:T0/pay",
        "settle:T0/buyer-fee", "settle:T0/seller-fee",
    ]  # fmt: skip
    assert [leg[6] & 1 for leg in legs] == [1, 1, 1, 1, 1, 0]  # LINKED but the last
    assert [leg[4] for leg in legs] == [10, 10, 60_060, 59_970, 60, 30]


def _pay_more_than_transit_has(legs: list, holds: dict) -> list:
    """The `pay` leg asks the cash transit account for 1 fen more than the funds leg put in."""
    pay = legs[3]
    return [*legs[:3], (*pay[:4], pay[4] + 60 + 30 + 1, *pay[5:]), *legs[4:]]


def _hold_one_short(legs: list, holds: dict) -> list:
    holds["order:S0"].remaining -= 1
    return legs


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (_hold_one_short, RejectCode.amount_exceeds_hold),
        (_pay_more_than_transit_has, RejectCode.insufficient_funds),
    ],
)
def test_what_the_kernel_refuses_the_fast_path_refuses_with_the_same_code(tamper, code) -> None:
    accounts, holds = state([(10, 6000, 60, 30)])
    legs = tamper(legs_of([(10, 6000, 60, 30)], holds), holds)
    kernel = LedgerState(copy.deepcopy(accounts), copy.deepcopy(holds), {})
    transfers = [
        Transfer(
            TransferId(i), AccountId(d), AccountId(c), a, amt, k, f, TransferId(p) if p else None, r
        )
        for i, d, c, a, amt, k, f, p, r, _ in legs
    ]
    kernel_codes = {c for c in apply_transfers(transfers, kernel, 0).codes if c}
    with pytest.raises(DomainError) as refused:
        apply_legs(legs, accounts, holds)
    assert refused.value.code == code and code in kernel_codes
