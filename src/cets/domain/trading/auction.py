"""One-way auction (单向竞价) clearing: which bids get how much, at what price.

DOMAIN.md, "Trading": the exchange announces quantity, reserve price and window; bidders submit
bids; at close bids are filled best price first (time breaks ties) up to the quantity; pricing
rule uniform (all pay the lowest accepted bid) or pay-as-bid (configurable per auction).

Prices are integer fen per tonne, quantities integer tonnes; nothing here touches a float, reads
a clock or does I/O: `clear` is a pure function of its arguments.

Invariants (the unit tests check them, by example and by hypothesis):
    - the quantity allocated never exceeds the quantity offered;
    - a bid priced below the reserve never fills;
    - bids fill in clearing order: higher price first, then earlier arrival (`seq`); a bid fills
      only when every bid before it in that order filled in full;
    - at most one bid fills in part: the marginal one, the last to fill;
    - uniform pricing: every accepted bid pays the same price, the lowest accepted bid's, which
      is at most its own price and at least the reserve; pay-as-bid: each pays its own price.

Choices where the rules are silent (written down so they are found):
    - the marginal bid fills in part rather than being skipped for a smaller later bid: time and
      price priority decide, never the size that happens to fit;
    - bids at the same price as the marginal bid but arriving later get nothing (time priority),
      not a pro-rata share;
    - with nothing allocated there is no clearing price (`Clearing.price` is None).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Pricing(StrEnum):
    """What an accepted bid pays per tonne."""

    uniform = "uniform"  # every accepted bid pays the lowest accepted bid's price
    pay_as_bid = "pay_as_bid"  # every accepted bid pays its own price


@dataclass(frozen=True, slots=True)
class Bid:
    """A bid as the auction sees it: `seq` is its arrival order (lower arrived first)."""

    id: str
    account: str
    price: int
    quantity: int
    seq: int

    def __post_init__(self) -> None:
        assert self.price > 0, f"bid {self.id}: price {self.price} fen, was expected > 0"
        assert self.quantity > 0, f"bid {self.id}: quantity {self.quantity} t, was expected > 0"


@dataclass(frozen=True, slots=True)
class Allocation:
    """What one bid gets: `quantity` tonnes at `price` fen per tonne (`quantity` >= 1)."""

    bid: str
    account: str
    quantity: int
    price: int

    @property
    def value(self) -> int:
        """The exact amount paid, in fen."""
        return self.price * self.quantity


@dataclass(frozen=True, slots=True)
class Clearing:
    """The auction's result: the allocations in clearing order (bids that got nothing are not
    listed), and the lowest accepted bid's price (None when nothing was allocated)."""

    allocations: tuple[Allocation, ...]
    price: int | None

    @property
    def sold(self) -> int:
        return sum(a.quantity for a in self.allocations)


def clearing_order(bids: Iterable[Bid]) -> list[Bid]:
    """Best price first; among equal prices, earliest arrival first."""
    return sorted(bids, key=lambda b: (-b.price, b.seq))


def clear(bids: Iterable[Bid], offered: int, reserve: int, pricing: Pricing) -> Clearing:
    """Allocate `offered` tonnes among `bids` at or above `reserve` (fen per tonne)."""
    assert offered >= 0, f"offered {offered} t, was expected >= 0"
    assert reserve > 0, f"reserve price {reserve} fen, was expected > 0"
    pricing = Pricing(pricing)
    ordered = clearing_order(bids)
    assert len({b.id for b in ordered}) == len(ordered), "bid ids must be unique"
    assert len({b.seq for b in ordered}) == len(ordered), "bid arrival numbers must be unique"
    left = offered
    accepted: list[tuple[Bid, int]] = []
    for bid in ordered:
        if left == 0 or bid.price < reserve:
            break  # sorted by price: every later bid is below the reserve too
        take = min(bid.quantity, left)
        accepted.append((bid, take))
        left -= take
    if not accepted:
        return Clearing((), None)
    lowest = accepted[-1][0].price
    return Clearing(
        tuple(
            Allocation(
                bid.id, bid.account, take, lowest if pricing is Pricing.uniform else bid.price
            )
            for bid, take in accepted
        ),
        lowest,
    )
