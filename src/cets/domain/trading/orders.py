"""The values an order book takes in and gives out: sides, limit orders, fills and outcomes.

Prices are integer fen per tonne (`price`), quantities integer tonnes (`quantity`, `remaining`);
`price * quantity` is an exact amount in fen.

Invariants, in words (the book keeps them; `Book.violations` checks them):

- `0 <= remaining <= quantity` for every order; an order rests only while `remaining > 0`.
- For every order the book has seen: filled + remaining + cancelled = quantity, where filled is
  the sum of its fills and cancelled is what an `Outcome` reported as cancelled for it.
- A `Fill` is at the maker's (resting order's) price, and names the buy and the sell order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Side(StrEnum):
    buy = "buy"
    sell = "sell"


SELF_TRADE_PREVENTED = "self_trade_prevented"


@dataclass(slots=True)
class Order:
    """A limit order of one account on one instrument.

    `remaining` equals `quantity` at entry and falls as the order fills. `seq` is the arrival
    order, assigned by the book at entry (0 until then): an `Order` object enters a book once.
    """

    id: str
    account: str
    side: Side
    price: int
    quantity: int
    remaining: int
    seq: int = 0


class Fill(NamedTuple):
    """One match between a resting order (the maker) and an incoming one (the taker).

    An immutable named tuple rather than a frozen dataclass: a frozen dataclass costs about
    650 ns to build (one `object.__setattr__` per field), a named tuple about 170 ns, and the
    matching loop builds one per fill.
    """

    maker: str
    taker: str
    price: int
    quantity: int
    buy_order: str
    sell_order: str
    maker_remaining: int
    taker_remaining: int


class Outcome(NamedTuple):
    """What happened to an incoming order.

    `fills` in the order they happened; `rested` when the remainder now rests in the book;
    `cancelled` is the quantity of the incoming order that ended neither filled nor resting:
    cancelled by self-trade prevention (`reason == "self_trade_prevented"`), or the unfilled
    part of a pick, which never rests (`reason is None`). For the incoming order, the sum of its
    fills + `order.remaining` + `cancelled` = `order.quantity`.

    Immutable (a named tuple, `fills` a tuple) so that the book can hand out one shared outcome
    for every order that rests without trading, most of the flow, instead of building one each.
    """

    fills: tuple[Fill, ...]
    rested: bool
    cancelled: int
    reason: str | None


RESTED = Outcome((), True, 0, None)  # rested without trading
