"""Random flows of submits, cancels, picks and day ends through the book, beside a reference model.

The reference is a slow, obviously correct matcher: a plain list of resting orders, sorted by
price then arrival whenever it is asked who trades next. After every step the book must agree with
it exactly (fills, outcomes, what rests, depth) and keep its invariants: never crossed, every fill
at the maker's price, filled + remaining + cancelled = original for every order, and as much bought
as sold.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cets.domain.errors import DomainError, RejectCode
from cets.domain.trading import BEST_LEVELS, SELF_TRADE_PREVENTED, Book, Fill, Order, Side

ACCOUNTS = ("A", "B", "C")
PRICES = st.integers(min_value=5997, max_value=6003)
QUANTITIES = st.integers(min_value=1, max_value=12)
SIDES = st.sampled_from([Side.buy, Side.sell])


@dataclass
class Resting:
    id: str
    account: str
    side: Side
    price: int
    remaining: int
    seq: int


class ReferenceBook:
    """Matching by the rules in their plainest form: sort, walk, stop."""

    def __init__(self) -> None:
        self.resting: list[Resting] = []
        self.seq = 0

    def priority(self, side: Side) -> list[Resting]:
        mine = [r for r in self.resting if r.side == side]
        sign = -1 if side == Side.buy else 1
        return sorted(mine, key=lambda r: (sign * r.price, r.seq))

    def submit(self, o: Order) -> tuple[list[Fill], bool, int, str | None]:
        self.seq += 1
        other = Side.sell if o.side == Side.buy else Side.buy
        left, fills = o.quantity, []
        for maker in self.priority(other):
            crosses = maker.price <= o.price if o.side == Side.buy else maker.price >= o.price
            if not left or not crosses:
                break
            if maker.account == o.account:
                self.resting = [r for r in self.resting if r.remaining]
                return fills, False, left, SELF_TRADE_PREVENTED
            q = min(left, maker.remaining)
            maker.remaining -= q
            left -= q
            fills.append(self.fill(maker, o, q, left))
        self.resting = [r for r in self.resting if r.remaining]
        if left:
            self.resting.append(Resting(o.id, o.account, o.side, o.price, left, self.seq))
        return fills, bool(left), 0, None

    def pick(self, o: Order, quote_id: str) -> tuple[list[Fill], bool, int, str | None]:
        quote = next((r for r in self.resting if r.id == quote_id), None)
        if quote is None:
            raise DomainError(RejectCode.unknown_order, quote_id)
        if quote.side == o.side:
            raise DomainError(RejectCode.invalid_field, quote_id)
        better = {r.price for r in self.priority(quote.side)}
        rank = sorted(better, reverse=quote.side == Side.buy).index(quote.price) + 1
        if rank > BEST_LEVELS:
            raise DomainError(RejectCode.quote_not_in_best_levels, quote_id)
        self.seq += 1
        if quote.account == o.account:
            return [], False, o.quantity, SELF_TRADE_PREVENTED
        q = min(o.quantity, quote.remaining)
        quote.remaining -= q
        self.resting = [r for r in self.resting if r.remaining]
        return [self.fill(quote, o, q, o.quantity - q)], False, o.quantity - q, None

    def cancel(self, oid: str) -> int | None:
        found = next((r for r in self.resting if r.id == oid), None)
        if found is None:
            return None
        self.resting.remove(found)
        return found.remaining

    @staticmethod
    def fill(maker: Resting, taker: Order, q: int, taker_left: int) -> Fill:
        buy, sell = (taker.id, maker.id) if taker.side == Side.buy else (maker.id, taker.id)
        return Fill(maker.id, taker.id, maker.price, q, buy, sell, maker.remaining, taker_left)

    def in_priority(self) -> list[tuple[str, int]]:
        return [(r.id, r.remaining) for s in (Side.buy, Side.sell) for r in self.priority(s)]

    def depth(self, side: Side) -> list[tuple[int, int]]:
        levels: dict[int, int] = {}
        for r in self.priority(side):
            levels[r.price] = levels.get(r.price, 0) + r.remaining
        return list(levels.items())[:BEST_LEVELS]


class BookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = Book("CEA-2024")
        self.model = ReferenceBook()
        self.orders: dict[str, Order] = {}  # every order ever sent, by id
        self.filled: dict[str, int] = {}
        self.cancelled: dict[str, int] = {}  # by self-trade prevention or a pick's unfilled part
        self.count = 0

    def new_order(self, account: str, side: Side, price: int, quantity: int) -> Order:
        self.count += 1
        o = Order(f"o{self.count}", account, side, price, quantity, quantity)
        self.orders[o.id] = o
        self.filled[o.id] = self.cancelled[o.id] = 0
        return o

    def record(self, fills: tuple[Fill, ...], cancelled: int, taker: Order) -> None:
        for f in fills:
            maker = self.orders[f.maker]
            assert f.price == maker.price, f"{f} is not at the maker's price {maker.price}"
            assert f.taker == taker.id and {f.buy_order, f.sell_order} == {f.maker, f.taker}
            assert self.orders[f.buy_order].side == Side.buy
            self.filled[f.maker] += f.quantity
            self.filled[f.taker] += f.quantity
        self.cancelled[taker.id] += cancelled

    @rule(account=st.sampled_from(ACCOUNTS), side=SIDES, price=PRICES, quantity=QUANTITIES)
    def submit(self, account: str, side: Side, price: int, quantity: int) -> None:
        o = self.new_order(account, side, price, quantity)
        outcome = self.book.submit(o)
        expected = self.model.submit(o)
        assert (list(outcome.fills), outcome.rested, outcome.cancelled, outcome.reason) == expected
        self.record(outcome.fills, outcome.cancelled, o)

    @rule(account=st.sampled_from(ACCOUNTS), quantity=QUANTITIES, which=st.integers(0, 10**6))
    def pick(self, account: str, quantity: int, which: int) -> None:
        ids = sorted(self.orders) or ["none"]
        quote_id = ids[which % len(ids)]
        quote = self.orders.get(quote_id)
        side = Side.buy if quote is None or quote.side == Side.sell else Side.sell
        o = self.new_order(account, side, quote.price if quote else 6000, quantity)
        try:
            expected = self.model.pick(o, quote_id)
        except DomainError as refusal:
            try:
                self.book.pick(o, quote_id)
            except DomainError as err:
                assert err.code is refusal.code
            else:
                raise AssertionError(f"pick of {quote_id} should be refused: {refusal.code}")
            self.cancelled[o.id] = o.quantity  # refused: it never entered the book
            o.remaining = 0
            return
        outcome = self.book.pick(o, quote_id)
        assert (list(outcome.fills), outcome.rested, outcome.cancelled, outcome.reason) == expected
        self.record(outcome.fills, outcome.cancelled, o)

    @rule(which=st.integers(0, 10**6))
    def cancel(self, which: int) -> None:
        ids = [*sorted(self.orders), "unknown"]
        oid = ids[which % len(ids)]
        got = self.book.cancel(oid)
        expected = self.model.cancel(oid)
        assert (None if got is None else got.remaining) == expected
        assert got is None or got is self.orders[oid]

    @rule()
    def end_of_day(self) -> None:
        expected = self.model.in_priority()
        self.model.resting = []
        assert [(o.id, o.remaining) for o in self.book.expire_all()] == expected

    @invariant()
    def agrees_with_the_reference(self) -> None:
        assert [(o.id, o.remaining) for o in self.book.resting()] == self.model.in_priority()
        assert self.book.depth() == (self.model.depth(Side.buy), self.model.depth(Side.sell))
        assert len(self.book) == len(self.model.resting)

    @invariant()
    def keeps_its_invariants(self) -> None:
        assert self.book.violations() == []
        bid, ask = self.book.best_bid(), self.book.best_ask()
        assert bid is None or ask is None or bid < ask, f"crossed: {bid} >= {ask}"

    @invariant()
    def accounts_for_every_tonne(self) -> None:
        traded = {Side.buy: 0, Side.sell: 0}
        for oid, o in self.orders.items():
            assert self.filled[oid] + o.remaining + self.cancelled[oid] == o.quantity, oid
            traded[o.side] += self.filled[oid]
        assert traded[Side.buy] == traded[Side.sell]


BookMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_random_flows_match_the_reference_and_keep_the_invariants = BookMachine.TestCase
