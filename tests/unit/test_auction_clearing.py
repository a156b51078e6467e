"""One-way auction clearing: price then time priority, the reserve, the marginal bid, and the two
pricing rules; by example and as hypothesis properties over any set of bids."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cets.domain.trading.auction import Allocation, Bid, Clearing, Pricing, clear, clearing_order

RESERVE = 5000  # 50.00 CNY/t


def bid(bid_id: str, price: int, quantity: int, seq: int, account: str = "") -> Bid:
    return Bid(bid_id, account or f"H-{bid_id}", price, quantity, seq)


def allotted(result: Clearing) -> list[tuple[str, int, int]]:
    return [(a.bid, a.quantity, a.price) for a in result.allocations]


BIDS = [
    bid("B1", 5200, 400, 1),
    bid("B2", 5500, 300, 2),
    bid("B3", 5000, 500, 3),
    bid("B4", 4900, 900, 4),  # below the reserve
]


def test_uniform_pricing_fills_best_price_first_and_all_pay_the_lowest_accepted_bid() -> None:
    result = clear(BIDS, 1000, RESERVE, Pricing.uniform)
    assert allotted(result) == [("B2", 300, 5000), ("B1", 400, 5000), ("B3", 300, 5000)]
    assert (result.sold, result.price) == (1000, 5000)


def test_pay_as_bid_fills_the_same_bids_each_at_its_own_price() -> None:
    result = clear(BIDS, 1000, RESERVE, Pricing.pay_as_bid)
    assert allotted(result) == [("B2", 300, 5500), ("B1", 400, 5200), ("B3", 300, 5000)]
    assert result.price == 5000
    assert sum(a.value for a in result.allocations) == 300 * 5500 + 400 * 5200 + 300 * 5000


def test_a_bid_below_the_reserve_never_fills_even_when_units_are_left() -> None:
    result = clear(BIDS, 5000, RESERVE, Pricing.uniform)
    assert [a.bid for a in result.allocations] == ["B2", "B1", "B3"]
    assert result.sold == 1200  # 3,800 t stay unsold rather than go below 50.00


def test_a_bid_at_the_reserve_exactly_fills() -> None:
    result = clear([bid("B1", RESERVE, 10, 1)], 10, RESERVE, Pricing.uniform)
    assert allotted(result) == [("B1", 10, RESERVE)]


def test_the_marginal_bid_fills_in_part_and_later_bids_get_nothing() -> None:
    bids = [bid("B1", 6000, 600, 1), bid("B2", 5800, 600, 2), bid("B3", 5700, 10, 3)]
    result = clear(bids, 1000, RESERVE, Pricing.uniform)
    # B2 fills 400 of 600; the small B3 behind it would fit the rest but price comes first.
    assert allotted(result) == [("B1", 600, 5800), ("B2", 400, 5800)]


def test_equal_prices_fill_in_arrival_order_not_by_size_or_id() -> None:
    bids = [bid("Z", 5100, 500, 7), bid("A", 5100, 800, 9), bid("M", 5100, 100, 8)]
    result = clear(bids, 900, RESERVE, Pricing.uniform)
    assert allotted(result) == [("Z", 500, 5100), ("M", 100, 5100), ("A", 300, 5100)]


def test_no_bids_or_nothing_offered_allocates_nothing_and_has_no_price() -> None:
    assert clear([], 1000, RESERVE, Pricing.uniform) == Clearing((), None)
    assert clear(BIDS, 0, RESERVE, Pricing.pay_as_bid) == Clearing((), None)
    below = [bid("B1", 4999, 10, 1)]
    assert clear(below, 1000, RESERVE, Pricing.uniform) == Clearing((), None)


def test_a_bid_of_no_quantity_or_price_is_a_programmer_error() -> None:
    with pytest.raises(AssertionError):
        bid("B1", 5000, 0, 1)
    with pytest.raises(AssertionError):
        bid("B1", 0, 10, 1)
    with pytest.raises(AssertionError):
        clear([bid("B1", 5000, 1, 1), bid("B1", 5100, 1, 2)], 10, RESERVE, Pricing.uniform)


def test_an_allocation_value_is_exact_in_fen() -> None:
    assert Allocation("B1", "E1", 99_999, 9_999_999).value == 99_999 * 9_999_999


# -- properties -------------------------------------------------------------------------------

prices = st.integers(min_value=1, max_value=20_000)
bid_lists = st.lists(st.tuples(prices, st.integers(min_value=1, max_value=5_000)), max_size=30).map(
    lambda items: [bid(f"B{i}", p, q, i) for i, (p, q) in enumerate(items)]
)
pricings = st.sampled_from(list(Pricing))


@given(bid_lists, st.integers(min_value=0, max_value=60_000), prices, pricings)
def test_clearing_keeps_its_invariants_for_any_bids(
    bids: list[Bid], offered: int, reserve: int, pricing: Pricing
) -> None:
    result = clear(bids, offered, reserve, pricing)
    by_id = {b.id: b for b in bids}
    allocations = result.allocations
    # Never more than offered, and nothing below the reserve.
    assert result.sold <= offered
    assert all(by_id[a.bid].price >= reserve for a in allocations)
    assert all(1 <= a.quantity <= by_id[a.bid].quantity for a in allocations)
    # Best price first, then time: the allocations are a prefix of the clearing order, all but
    # the last filled in full.
    order = [b.id for b in clearing_order(bids)]
    assert [a.bid for a in allocations] == order[: len(allocations)]
    assert all(a.quantity == by_id[a.bid].quantity for a in allocations[:-1])
    # Nothing left unsold while an eligible bid went unfilled.
    eligible = sum(b.quantity for b in bids if b.price >= reserve)
    assert result.sold == min(offered, eligible)
    if not allocations:
        assert result.price is None
        return
    lowest = min(by_id[a.bid].price for a in allocations)
    assert result.price == lowest
    if pricing is Pricing.uniform:
        assert {a.price for a in allocations} == {lowest}
        assert all(reserve <= a.price <= by_id[a.bid].price for a in allocations)
    else:
        assert all(a.price == by_id[a.bid].price for a in allocations)


@given(bid_lists, st.integers(min_value=0, max_value=60_000), prices)
def test_uniform_never_costs_a_bidder_more_than_pay_as_bid(
    bids: list[Bid], offered: int, reserve: int
) -> None:
    uniform = clear(bids, offered, reserve, Pricing.uniform)
    paid = clear(bids, offered, reserve, Pricing.pay_as_bid)
    assert [(a.bid, a.quantity) for a in uniform.allocations] == [
        (a.bid, a.quantity) for a in paid.allocations
    ]
    pairs = zip(uniform.allocations, paid.allocations, strict=True)
    assert all(u.value <= p.value for u, p in pairs)


@given(bid_lists, st.integers(min_value=0, max_value=60_000), prices, pricings, st.randoms())
def test_the_result_does_not_depend_on_the_order_the_bids_are_given_in(
    bids: list[Bid], offered: int, reserve: int, pricing: Pricing, rnd: random.Random
) -> None:
    shuffled = list(bids)
    rnd.shuffle(shuffled)
    assert clear(shuffled, offered, reserve, pricing) == clear(bids, offered, reserve, pricing)
