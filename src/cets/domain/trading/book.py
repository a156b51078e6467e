"""The in-memory order book of one instrument: limit orders and picks in price-time priority.

Owns the resting orders of one instrument, their priority, and the matching of incoming orders
against them (DOMAIN.md, "Trading", listed agreement). It knows nothing of funds, sessions, bands,
ticks or quantity ranges: order entry checks those before an order reaches the book, and turns
outcomes into holds and trades. No clock and no randomness: the same submissions in give the same
fills out.

Rules:

- Price-time priority: a better price first, then the earlier arrival (`Order.seq`, assigned here).
- A crossing limit order trades at the resting order's price, level by level while it still
  crosses; its remainder rests.
- Self-trade prevention ("an order never trades with an order of the same holder: cancel the
  newer"): when the next resting order an incoming order would trade with belongs to the same
  account, the incoming order's remaining quantity is cancelled, the fills it already made stand,
  and it does not rest.
- A pick takes one resting quote of the other side, at the quote's price, for the smaller of the
  taker's quantity and the quote's remaining; only while the quote's price level is among the best
  `BEST_LEVELS` (5) of its side (`quote_not_in_best_levels` otherwise). Its unfilled part never
  rests.

Invariants (checked by `violations`, run by the stateful tests after every step):

- the book is never crossed: best bid < best ask;
- every resting order has 0 < remaining <= quantity, and sits in the level of its side and price;
- a level's total is the sum of the remaining of its live orders, and is > 0 (no empty levels);
- within a level, live orders are in arrival order.

Layout, chosen for speed (ARCHITECTURE.md, "Performance"): per side, a dict from price key to
level (a deque of orders in arrival order that also carries the level's total) and a sorted list
of the keys with the best last, so the best level is `keys[-1]` and removing it is `pop()`. Bids
are keyed by price and asks by -price, so `keys[-1] >= bound` answers "does it cross?" for either
side. A cancelled order leaves the middle of its level lazily: it is no longer in `_orders`, is
skipped when it reaches the head, and the deque is compacted once such dead entries are three times
the live ones (so a cancel is O(1) amortised, not a scan of the level). An `Order` object therefore
enters a book once (its `seq` is 0 until then): were a cancelled one to come back, its dead entry
would come back to life at its old place.

Measured (bench/matching.py, 1,000,000 operations): a passive order costs about 0.5 us, a cancel
0.7 us, a crossing order 4 to 5 us for its ~6 fills; much of it is cache misses on orders made
long before (a cancel or a fill touches an old order, its id and its level).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator

from cets.domain.errors import DomainError, RejectCode
from cets.domain.trading.orders import RESTED, SELF_TRADE_PREVENTED, Fill, Order, Outcome, Side
from cets.domain.units import format_fen

BEST_LEVELS = 5  # DOMAIN.md: a quote may be picked within the best 5 price levels of its side
_COMPACT_MIN = 16  # a level is compacted once it holds this many dead entries, 3x its live ones
_BUY = Side.buy
_SELL = Side.sell
_new_fill = tuple.__new__  # Fill(...) goes through a Python-level __new__: twice the cost


class _Level(deque[Order]):
    """The orders at one price of one side, in arrival order, with their total remaining.

    May also hold `dead` cancelled orders, skipped as they come to the head.
    """

    __slots__ = ("dead", "total")

    # No __init__: a Python-level one would double the cost of a new level (one order in 25 opens
    # one in the bench's stream), so `_new_level` sets the two counters.
    total: int
    dead: int


def _new_level(levels: dict[int, _Level], keys: list[int], key: int) -> _Level:
    """A new, empty level at `key`, in `levels` and in its place in `keys`."""
    level = levels[key] = _Level()
    level.total = level.dead = 0
    insort(keys, key)
    return level


class Book:
    """The resting orders of one instrument and the matching of incoming orders against them."""

    __slots__ = (
        "_ask_keys",
        "_ask_levels",
        "_bid_keys",
        "_bid_levels",
        "_orders",
        "_seq",
        "changes",
        "instrument",
    )

    def __init__(self, instrument: str) -> None:
        self.instrument = instrument
        self._orders: dict[str, Order] = {}  # every resting order by id
        self._bid_keys: list[int] = []  # prices of bid levels, ascending: the best is last
        self._bid_levels: dict[int, _Level] = {}
        self._ask_keys: list[int] = []  # -price of ask levels, ascending: the best is last
        self._ask_levels: dict[int, _Level] = {}
        self._seq = 0
        self.changes = 0  # counts the commands that changed the book (submit, pick, cancel, expiry)

    # -- commands -------------------------------------------------------------------------------

    def submit(self, order: Order) -> Outcome:
        """Match a limit order against the other side at the resting prices; rest the remainder."""
        orders = self._orders
        assert not order.seq and order.id not in orders and 0 < order.remaining == order.quantity, (
            f"{order!r} entered a book before, or its remaining is not its quantity"
        )
        self._seq = order.seq = self._seq + 1
        self.changes += 1
        price = order.price
        if order.side is _BUY:
            keys = self._ask_keys
            if keys and keys[-1] >= -price:
                return self._cross(order, keys, self._ask_levels, -price)
            keys, levels, key = self._bid_keys, self._bid_levels, price
        else:
            assert order.side is _SELL, f"{order!r}: side must be a Side"
            keys = self._bid_keys
            if keys and keys[-1] >= price:
                return self._cross(order, keys, self._bid_levels, price)
            keys, levels, key = self._ask_keys, self._ask_levels, -price
        # Resting, inlined here (and written again at the end of `_cross`): most of the flow comes
        # this way, and a call would cost about a tenth of it.
        orders[order.id] = order
        level = levels.get(key)
        if level is None:
            level = _new_level(levels, keys, key)
        level.append(order)
        level.total += order.remaining
        return RESTED

    def pick(self, taker: Order, quote_id: str) -> Outcome:
        """Take the resting quote `quote_id` at its price; the unfilled part is cancelled."""
        quote = self.pickable(quote_id, taker.side)
        key = quote.price if quote.side is _BUY else -quote.price
        assert taker.seq == 0 and 0 < taker.remaining == taker.quantity, f"{taker!r}: malformed"
        self._seq = taker.seq = self._seq + 1
        self.changes += 1
        wanted = taker.remaining
        taker.remaining = 0  # a pick never rests
        if quote.account == taker.account:
            return Outcome((), False, wanted, SELF_TRADE_PREVENTED)
        quantity = min(wanted, quote.remaining)
        if quantity == quote.remaining:  # the whole quote: out of the book, as a cancel would
            self.cancel(quote_id)
            quote.remaining = 0
        else:
            quote.remaining -= quantity
            (self._bid_levels if quote.side is _BUY else self._ask_levels)[key].total -= quantity
        buy, sell = (taker.id, quote_id) if taker.side == _BUY else (quote_id, taker.id)
        fill = Fill(
            quote_id, taker.id, quote.price, quantity, buy, sell, quote.remaining, wanted - quantity
        )
        return Outcome((fill,), False, wanted - quantity, None)

    def pickable(self, quote_id: str, side: Side, *, field: str = "quote_id") -> Order:
        """The resting quote a pick of `side` may take; refused (naming `field`) when it is not
        resting, is on the picker's own side, or lies beyond the best `BEST_LEVELS` price
        levels of its side."""
        quote = self._orders.get(quote_id)
        if quote is None:
            raise DomainError(
                RejectCode.unknown_order,
                f"quote {quote_id!r} is not resting in {self.instrument}",
                field=field,
            )
        if quote.side == side:
            raise DomainError(
                RejectCode.invalid_field,
                f"quote {quote_id!r} is a {quote.side} quote, was expected a "
                f"{'sell' if side == _BUY else 'buy'} quote for a {side} pick",
                field=field,
            )
        keys = self._bid_keys if quote.side is _BUY else self._ask_keys
        key = quote.price if quote.side is _BUY else -quote.price
        rank = len(keys) - bisect_left(keys, key)
        if rank > BEST_LEVELS:
            raise DomainError(
                RejectCode.quote_not_in_best_levels,
                f"quote {quote_id!r} at {format_fen(quote.price)} is at price level {rank} of "
                f"the {quote.side} side, was expected within the best {BEST_LEVELS}",
                field=field,
            )
        return quote

    def cancel(self, order_id: str) -> Order | None:
        """Remove a resting order; it is returned with its remaining (None when not resting)."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return None
        self.changes += 1
        if order.side is _BUY:
            keys, levels, key = self._bid_keys, self._bid_levels, order.price
        else:
            keys, levels, key = self._ask_keys, self._ask_levels, -order.price
        level = levels[key]
        total = level.total - order.remaining
        if not total:  # the level is empty: drop it, dead entries and all
            del levels[key]
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
        else:
            level.total = total
            if level[-1] is order:
                level.pop()
            elif level[0] is order:
                level.popleft()
            else:  # left in place, dead; compacted once the dead far outnumber the live
                level.dead = dead = level.dead + 1
                if dead >= _COMPACT_MIN and dead > 3 * (len(level) - dead):
                    alive = [o for o in level if self._orders.get(o.id) is o]
                    level.clear()
                    level.extend(alive)
                    level.dead = 0
        return order

    def expire_all(self) -> list[Order]:
        """Remove and return every resting order (the day's end), bids then asks, by priority."""
        expired = list(self.resting())
        self.changes += 1
        self._orders.clear()
        self._bid_keys.clear()
        self._bid_levels.clear()
        self._ask_keys.clear()
        self._ask_levels.clear()
        return expired

    # -- queries --------------------------------------------------------------------------------

    def get(self, order_id: str) -> Order | None:
        return self._orders.get(order_id)

    def __len__(self) -> int:
        return len(self._orders)

    def best_bid(self) -> int | None:
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask(self) -> int | None:
        return -self._ask_keys[-1] if self._ask_keys else None

    def depth(
        self, levels: int = BEST_LEVELS
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The best `levels` price levels of each side, best first, as (price, total remaining)."""
        assert levels >= 0, f"levels {levels}, was expected >= 0"
        bid_keys = self._bid_keys[max(0, len(self._bid_keys) - levels) :]
        ask_keys = self._ask_keys[max(0, len(self._ask_keys) - levels) :]
        bids = [(k, self._bid_levels[k].total) for k in reversed(bid_keys)]
        asks = [(-k, self._ask_levels[k].total) for k in reversed(ask_keys)]
        return bids, asks

    def quotes(self, levels: int = BEST_LEVELS) -> list[Order]:
        """The resting orders of the best `levels` price levels of each side (those a pick may
        take): bids then asks, each side best first, in time priority within a level."""
        out: list[Order] = []
        for keys, book in ((self._bid_keys, self._bid_levels), (self._ask_keys, self._ask_levels)):
            for key in reversed(keys[max(0, len(keys) - levels) :]):
                out.extend(o for o in book[key] if self._orders.get(o.id) is o)
        return out

    def resting(self) -> Iterator[Order]:
        """Every resting order: bids then asks, each side in priority order."""
        orders = self._orders
        for keys, levels in (
            (self._bid_keys, self._bid_levels),
            (self._ask_keys, self._ask_levels),
        ):
            for key in reversed(keys):
                for order in levels[key]:
                    if orders.get(order.id) is order:
                        yield order

    def violations(self) -> list[str]:
        """Every broken invariant of the book (see the module docstring), empty when all hold."""
        out: list[str] = []
        live = 0
        for side, sign, keys, levels in (
            (_BUY, 1, self._bid_keys, self._bid_levels),
            (_SELL, -1, self._ask_keys, self._ask_levels),
        ):
            if keys != sorted(set(keys)) or set(keys) != set(levels):
                out.append(f"{side} keys {keys} are not the sorted keys of {sorted(levels)}")
            for key, level in levels.items():
                found = [o for o in level if self._orders.get(o.id) is o]
                live += len(found)
                out.extend(_level_violations(side, sign * key, level, found))
        if live != len(self._orders):
            out.append(f"{len(self._orders)} resting orders, {live} found in the levels")
        bid, ask = self.best_bid(), self.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            out.append(f"crossed book: best bid {bid} >= best ask {ask}")
        return out

    # -- internals ------------------------------------------------------------------------------

    def _cross(
        self, taker: Order, keys: list[int], levels: dict[int, _Level], bound: int
    ) -> Outcome:
        """Trade `taker` against the other side's levels while their key is >= `bound`."""
        orders = self._orders
        taker_id = taker.id
        account = taker.account
        taker_buys = taker.side is _BUY
        remaining = taker.remaining
        fills: list[Fill] = []
        append = fills.append
        while True:
            key = keys[-1]
            level = levels[key]
            total = level.total
            while True:
                maker = level[0]
                maker_id = maker.id
                if orders.get(maker_id) is not maker:  # cancelled while in the middle: dead
                    level.popleft()
                    level.dead -= 1
                    continue
                if maker.account == account:  # self-trade prevention: cancel the newer
                    level.total = total
                    taker.remaining = 0
                    return Outcome(tuple(fills), False, remaining, SELF_TRADE_PREVENTED)
                quantity = maker.remaining
                if quantity <= remaining:
                    level.popleft()
                    del orders[maker_id]
                    maker.remaining = left = 0
                else:
                    quantity = remaining
                    maker.remaining = left = maker.remaining - remaining
                remaining -= quantity
                total -= quantity
                append(
                    _new_fill(
                        Fill,
                        (
                            maker_id,
                            taker_id,
                            maker.price,
                            quantity,
                            taker_id if taker_buys else maker_id,
                            maker_id if taker_buys else taker_id,
                            left,
                            remaining,
                        ),
                    )
                )
                if not total or not remaining:
                    break
            if total:  # the taker is filled inside this level
                level.total = total
                break
            del levels[key]
            keys.pop()
            if not remaining or not keys or keys[-1] < bound:
                break
        taker.remaining = remaining
        if not remaining:
            return Outcome(tuple(fills), False, 0, None)
        if taker_buys:
            keys, levels, key = self._bid_keys, self._bid_levels, taker.price
        else:
            keys, levels, key = self._ask_keys, self._ask_levels, -taker.price
        orders[taker_id] = taker
        own = levels.get(key)
        if own is None:
            own = _new_level(levels, keys, key)
        own.append(taker)
        own.total += remaining
        return Outcome(tuple(fills), True, 0, None)


def _level_violations(side: Side, price: int, level: _Level, live: list[Order]) -> list[str]:
    out = []
    if level.total <= 0 or level.total != sum(o.remaining for o in live):
        out.append(
            f"{side} level {price}: total {level.total}, orders hold {[o.remaining for o in live]}"
        )
    if level.dead != len(level) - len(live):
        out.append(
            f"{side} level {price}: {level.dead} dead counted, {len(level) - len(live)} held"
        )
    if [o.seq for o in live] != sorted(o.seq for o in live):
        out.append(f"{side} level {price}: orders out of arrival order")
    for o in live:
        if o.side is not side or o.price != price or not 0 < o.remaining <= o.quantity:
            out.append(f"{side} level {price}: misplaced or spent order {o!r}")
    return out
