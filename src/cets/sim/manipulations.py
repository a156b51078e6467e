"""Manipulations planted into a simulated trading day (`cets.sim.market_day`), each kept as
ground truth (`Planted`) to score supervision's detectors against (`cets.sim.scoring`;
`python -m cets.sim.manipulations --seed N` prints the table). How many of each: `COUNTS`.

Each case is one holder of the population (or a pair), used for no other case, so its accounts
say whose it is; it starts at a random time (not near a session's ends), except the close's.
- `wash_trade`: two key emitters of one group (same controller): one quotes a sell just above
  the best ask, the other picks it 1-5 s later (a prearranged listed agreement), 2-4 times within
  half an hour, now and then the other way round.
- `round_trip`: two unrelated institutions: A's quote is picked by B the same way, and 3-20
  minutes later B sells back a quantity within 5%.
- `self_trade_attempts`: a holder quotes a sell and tries 3-6 times to take it itself (mostly a
  pick, sometimes a buy at its price when its quote is the whole best ask); self-trade
  prevention stops each try. The quote is cancelled minutes later.
- `spoofing`: a key emitter shows 10,000-20,000 t behind the third level of one side, trades
  on the other side at the touch 1-3 s later and cancels the large order 4-20 s after placing
  it; three times within twenty minutes.
- `marking_the_close` (one per instrument: one close a day each): from 14:50 a key emitter
  walks the price toward the band's edge (5 ticks inside it, so never at the limit), whichever
  way promises more, in steps of at most 1.4% from the last trade and the touch (no step a 3%
  jump, and its earlier steps stay as a staircase, so no fall of 3% either), trading until its
  estimate of the move reaches 2.5% or its share of the day's volume 27% (under the 30% of a
  concentration). Its orders, under 10,000 t and 6% of the volume, are never cancelled.
- `price_spike` (one per instrument): a key emitter waits until one side of the book holds at
  most 12,000 t (or a tenth of the day's volume so far), sweeps it with an order at the band
  limit and cancels the rest once some of it traded at the limit: trades at the band limit and
  a jump of several percent.
- `concentration` (one per instrument): a key emitter trading nothing else that day buys (or
  sells) every 4-7 minutes until 14:40 as much as everyone else together, in orders under
  10,000 t at the touch, waiting near the VWAP once the price has moved 2% its way.
- `large_holder`: an institution opening with 76,000-79,000 t of a vintage (its 100,000 t
  position limit's 80% threshold is 80,000 t) buys 1,000-3,000 t more than it takes to cross, in
  3-6 orders at the touch, topping up at 14:00, 14:20 and 14:35 if short; the units arrive at
  the day's settlement, which is the crossing.
A case's holder does not also trade in the background when that could blur it (marker,
spiker, spoofer, concentrator, large holder); holders of pairs and self-trade attempts do, with
the units their case needs kept aside (`Trader.keep`). Cases are planted not to make another
detector's pattern, and each counts for its own kind only: an alert of another kind about the
same accounts is a false positive.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Final

from cets.domain.registry.holders import HolderKind
from cets.service.supervision import Supervision
from cets.sim.market_day import (
    ACTOR,
    DAY,
    LISTINGS,
    Action,
    Listing,
    MarketDay,
    Trader,
    minute_at,
    populate,
)

COUNTS: Final = {
    "wash_trade": 8,
    "round_trip": 8,
    "self_trade_attempts": 8,
    "spoofing": 8,
    "marking_the_close": 6,
    "price_spike": 6,
    "concentration": 5,
    "large_holder": 8,
}


@dataclass(frozen=True, slots=True)
class Planted:
    type: str  # the scoring category (`cets.sim.scoring.category`)
    accounts: tuple[str, ...]
    day: date
    instrument: str
    note: str


class Planter:
    """Chooses the manipulators (before the day opens: some need units, funds, or to stay out
    of the background) and schedules their cases on the day."""

    def __init__(self, traders: dict[str, Trader], rng: random.Random, day: date) -> None:
        self.traders, self.rng, self.day = traders, rng, day
        self.used: set[str] = set()
        self.planted: list[Planted] = []
        self.events: list[tuple[int, Action, bool]] = []

    def plan(self, listings: tuple[Listing, ...], counts: dict[str, int]) -> None:
        symbols, rng = [x.symbol for x in listings], self.rng
        for kind, method in (
            ("marking_the_close", self.marking),
            ("price_spike", self.spike),
            ("concentration", self.concentration),
        ):
            for symbol in rng.sample(symbols, counts[kind]):
                method(symbol)
        for kind, method in (
            ("large_holder", self.large_holder),
            ("wash_trade", self.wash),
            ("round_trip", self.round_trip),
            ("self_trade_attempts", self.self_trade),
            ("spoofing", self.spoofing),
        ):
            for _ in range(counts[kind]):
                method(rng.choice(symbols))

    # -- choosing ------------------------------------------------------------------------------

    def _one(self, kind: str, symbol: str, units: int = 1) -> Trader:
        """A holder of `kind` in no group and no other case, holding `units` of `symbol` (if
        nobody does, someone is given them, as bought on earlier days), with funds topped up."""
        pool = [tr for tr in self.traders.values() if tr.id not in self.used and tr.kind == kind]
        pool = [tr for tr in pool if tr.controller is None]
        me = self.rng.choice([tr for tr in pool if tr.units.get(symbol, 0) >= units] or pool)
        me.units[symbol] = max(me.units.get(symbol, 0), units)
        me.cash = max(me.cash, 2_000_000_000)
        self.used.add(me.id)
        return me

    def _note(self, kind: str, accounts: tuple[str, ...], symbol: str, note: str) -> None:
        self.planted.append(Planted(kind, accounts, self.day, symbol, note))

    def _start(self) -> int:
        """A trading second for a case to start at: not in a session's first ten minutes nor
        its last quarter of an hour."""
        minute: int = self.rng.choice([*range(10, 105), *range(130, 200)])
        return minute * 60 + self.rng.randrange(60)

    def _then(self, second: int, action: Action, *, fresh: bool = False) -> None:
        """Run `action` at trading second `second` of the day (0 is 09:30, 7,200 is 13:00)."""
        self.events.append((minute_at(self.day, 0, second), action, fresh))

    # -- the kinds -----------------------------------------------------------------------------

    def wash(self, symbol: str) -> None:
        groups: dict[str, list[Trader]] = {}
        for tr in self.traders.values():
            if tr.controller and tr.id not in self.used and tr.units.get(symbol, 0) >= 20_000:
                groups.setdefault(tr.controller, []).append(tr)
        pairs = [members for members in groups.values() if len(members) >= 2]
        if not pairs:
            return self.wash(self.rng.choice([x.symbol for x in LISTINGS]))
        a, b = self.rng.sample(self.rng.choice(pairs), 2)
        self.used |= {a.id, b.id}
        when = self._start()
        for _ in range(self.rng.randint(2, 4)):
            seller, buyer = (a, b) if self.rng.random() < 0.7 else (b, a)
            quantity = self.rng.randrange(300, 3_000)
            seller.units[symbol] += quantity
            seller.keep[symbol] = seller.keep.get(symbol, 0) + quantity
            self._then(when, _cross(seller.id, buyer.id, symbol, quantity))
            when += self.rng.randrange(60, 600)
        self._note("wash_trade", (a.id, b.id), symbol, f"controller {a.controller}")

    def round_trip(self, symbol: str) -> None:
        a = self._one(HolderKind.institution, symbol, 5_000)
        b = self._one(HolderKind.institution, symbol, 5_000)
        quantity = self.rng.randrange(500, 4_000)
        back = quantity + self.rng.randint(-quantity // 20, quantity // 20)
        a.units[symbol] += quantity  # what they sell is kept from their own day's trading
        b.units[symbol] += back
        a.keep[symbol], b.keep[symbol] = quantity, back
        start = self._start()
        self._then(start, _cross(a.id, b.id, symbol, quantity))
        self._then(start + self.rng.randrange(180, 1_200), _cross(b.id, a.id, symbol, back))
        self._note("round_trip", (a.id, b.id), symbol, f"{quantity} t out, {back} t back")

    def self_trade(self, symbol: str) -> None:
        me = self._one(self.rng.choice((HolderKind.institution, HolderKind.key_emitter)), symbol)
        me.units[symbol] += 10_000
        me.keep[symbol] = 10_000
        tries = self.rng.randint(3, 6)
        mine = {"quote": ""}
        count = {"stopped": 0, "left": tries + 8}

        def attempt(d: MarketDay) -> None:
            book = d.book(symbol)
            quote = book.get(mine["quote"])
            if quote is None or quote.price > book.depth(5)[1][-1][0]:  # taken, or too far
                d.cancel(me.id, symbol, mine["quote"])
                mine["quote"] = _quote(d, me.id, symbol, self.rng.randrange(100, 2_000))
                quote = book.get(mine["quote"])
            if quote is not None:
                alone = book.depth(1)[1] == [(quote.price, quote.remaining)]
                if alone and self.rng.random() < 0.3:  # the whole best ask: a buy hits it
                    _, status = d.place(me.id, symbol, "buy", quote.remaining, quote.price)
                else:
                    status = d.pick(me.id, quote.id, quote.remaining)
                count["stopped"] += status == "cancelled"
            count["left"] -= 1
            if count["stopped"] < tries and count["left"] > 0:  # no quote: wait longer
                pause = self.rng.randrange(10, 60) if quote else self.rng.randrange(60, 180)
                d.at(d.later(pause), attempt)
            else:
                later = d.later(self.rng.randrange(120, 600))
                d.at(later, lambda d: d.cancel(me.id, symbol, mine["quote"]))

        self._then(self._start(), attempt)
        self._note("self_trade_attempts", (me.id,), symbol, f"{tries} tries")

    def spoofing(self, symbol: str) -> None:
        me = self._one(HolderKind.key_emitter, symbol, 60_000)
        me.background = False
        when = self._start()
        for _ in range(3):
            big, small = self.rng.randrange(10_000, 20_001), self.rng.randrange(500, 3_000)
            self._then(when, _spoof(me.id, symbol, big, small, self.rng))
            when += self.rng.randrange(60, 400)
        self._note("spoofing", (me.id,), symbol, "large orders cancelled in seconds")

    def marking(self, symbol: str) -> None:
        me = self._one(HolderKind.key_emitter, symbol, 150_000)
        me.background = False
        me.cash = max(me.cash, 6_000_000_000)
        plan: dict[str, int] = {}

        def start(d: MarketDay) -> None:
            """Up or down, whichever promises the larger move: the orders within 3% of the
            mid are swept for little, what is left of 30% of the volume trades near the band's
            edge (5 ticks inside it), the edge's distance from the day's VWAP."""
            mid, (bids, asks) = d.mid(symbol), d.book(symbol).depth(10_000)
            tape, (low, high) = d.tapes[symbol], d.band[symbol]
            budget, vwap = tape.volume * 30 // 100, tape.vwap(mid)
            swept_up = min(budget, sum(q for p, q in asks if p <= mid * 103 // 100))
            swept_down = min(budget, sum(q for p, q in bids if p >= mid * 97 // 100))
            up = (budget - swept_up) * (high - vwap) >= (budget - swept_down) * (vwap - low)
            plan["up"], plan["goal"] = int(up), high - 5 if up else low + 5
            plan["cap"] = max(200, min(9_999, tape.volume * 6 // 100))

        def step(d: MarketDay) -> None:
            up, tape, book = plan["up"], d.tapes[symbol], d.book(symbol)
            mine = (tape.bought if up else tape.sold).get(me.id, 0)
            close, rest = tape.amount // tape.volume, tape.volume - mine
            without = (tape.amount - tape.value.get(me.id, 0)) // rest if rest else close
            moved = (close - without) * 10_000 // without * (1 if up else -1)
            if moved >= 250:
                return  # the close is where it wants it
            last = tape.last or d.mid(symbol)
            resting = [book.get(o) for o, _, _ in d.resting.get((me.id, symbol), [])]
            room = (tape.volume * 27 // 100 - mine) * 100 // 73  # its share stays <= 27%
            room -= sum(o.remaining for o in resting if o is not None)
            bids, asks = book.depth(1)  # 1.4% from the last trade, and from the first it meets
            base = min([last, *[p for p, _ in asks]]) if up else max([last, *[p for p, _ in bids]])
            price = base * (1_014 if up else 986) // 1_000
            price = min(price, plan["goal"]) if up else max(price, plan["goal"])
            climbing = price != plan["goal"]  # little on the way, the most at the goal
            quantity = min(room, plan["cap"] // 3 if climbing else plan["cap"])
            if quantity > 0:
                d.place(me.id, symbol, "buy" if up else "sell", quantity, price)

        self._then(229 * 60 + 50, start, fresh=True)
        for k in range(40):  # 14:50 to 15:00, every 15 s
            self._then(230 * 60 + 15 * k + self.rng.randrange(5), step, fresh=True)
        self._note("marking_the_close", (me.id,), symbol, "to the band's edge, <= 27% of volume")

    def spike(self, symbol: str) -> None:
        me = self._one(HolderKind.key_emitter, symbol, 150_000)
        me.background = False

        def sweep(d: MarketDay, tries: int = 40) -> None:
            bids, asks = d.book(symbol).depth(10_000)
            depth = {"sell": sum(q for _, q in bids), "buy": sum(q for _, q in asks)}
            side = min(depth, key=lambda s: depth[s])
            if depth[side] > max(12_000, d.tapes[symbol].volume // 10):
                if tries and d.minute() < 210:
                    d.at(d.later(self.rng.randrange(120, 420)), lambda d: sweep(d, tries - 1))
                return
            low, high = d.band[symbol]
            quantity = depth[side] + self.rng.randrange(500, 3_000)
            order, _ = d.place(me.id, symbol, side, quantity, high if side == "buy" else low)
            left = d.book(symbol).get(order)
            if left is not None:
                d.at(d.later(self.rng.randrange(90, 180)), hold(order, left.remaining))

        def hold(order: str, left: int, checks: int = 8) -> Action:
            """Cancel what is left at the limit once some of it traded there (or after eight
            more half-minutes without)."""

            def act(d: MarketDay) -> None:
                resting = d.book(symbol).get(order)
                if resting is None or resting.remaining < left or not checks:
                    d.cancel(me.id, symbol, order)
                else:
                    d.at(d.later(30), hold(order, left, checks - 1))

            return act

        self._then(self.rng.randrange(5, 150) * 60, sweep)
        self._note("price_spike", (me.id,), symbol, "sweeps a thin side to the band limit")

    def concentration(self, symbol: str) -> None:
        me = self._one(HolderKind.key_emitter, symbol, 200_000)
        me.background = False
        side = self.rng.choice(("buy", "sell"))

        def top_up(d: MarketDay) -> None:
            tape = d.tapes[symbol]
            mine = (tape.bought if side == "buy" else tape.sold).get(me.id, 0)
            short = tape.volume - 2 * mine  # as much as everyone else together
            d.cancel_side(me.id, symbol, side)
            vwap, mid = tape.vwap(d.mid(symbol)), d.mid(symbol)
            moved = (mid - vwap) * (1 if side == "buy" else -1) * 100 > 2 * vwap
            if short > 0:  # once the price has moved 2% its way, it waits near the VWAP
                price = _front(d, symbol, side, vwap if moved else None)
                d.place(me.id, symbol, side, min(short, 9_999), price)

        minute = self.rng.randrange(5, 10)
        while minute < 220:
            self._then(minute * 60 + self.rng.randrange(60), top_up, fresh=True)
            minute += self.rng.randrange(4, 8)
        self._note("concentration", (me.id,), symbol, f"{side}s as much as all the others")

    def large_holder(self, symbol: str) -> None:
        me = self._one(HolderKind.institution, symbol)
        me.background = False
        me.units[symbol] = opening = self.rng.randrange(76_000, 79_000)
        need = 80_000 - opening + self.rng.randrange(1_000, 3_000)
        orders = self.rng.randint(3, 6)
        for _ in range(orders):
            self._then(self._start(), _buy(me.id, symbol, need // orders, need))
        for minute in (180, 200, 215):  # top-ups, if short, at 14:00, 14:20 and 14:35
            self._then(minute * 60 + 30, _buy(me.id, symbol, need, need), fresh=True)
        self._note("large_holder", (me.id,), symbol, f"{opening} t + {need} t bought")


# -- the acts, as day events ------------------------------------------------------------------


def _quote(d: MarketDay, trader: str, symbol: str, quantity: int) -> str:
    """A sell quote at the third ask level or 5 ticks above the best ask, whichever is lower (or
    just above the bids): within the best five levels, so it may be picked, and above where the
    background crosses (at most two ticks through)."""
    bids, asks = d.book(symbol).depth(5)
    price = min(asks[min(2, len(asks) - 1)][0], asks[0][0] + 5) if asks else d.mid(symbol) + 3
    if bids and price <= bids[0][0]:
        price = bids[0][0] + 1
    if price * 100 >= d.band[symbol][1] * 99:  # not at the band's limit (a price spike)
        return ""
    order, status = d.place(trader, symbol, "sell", quantity, price)
    return order if status == "open" else ""


def _front(d: MarketDay, symbol: str, side: str, near: int | None = None) -> int:
    """A price that trades now (the other side's best, two ticks through), or else comes first
    in line (a tick better than its own side's best). With `near` (a price), one that waits:
    first in line but no further than 1% past `near`. Never at the band's limits."""
    bids, asks = d.book(symbol).depth(1)
    if side == "buy":
        if bids and (near or not asks):
            price = min(bids[0][0] + 1, asks[0][0] - 1) if asks else bids[0][0] + 1
        else:
            price = asks[0][0] + 2 if asks else d.mid(symbol)
        price = min(price, near * 101 // 100) if near else price
    else:
        if asks and (near or not bids):
            price = max(asks[0][0] - 1, bids[0][0] + 1) if bids else asks[0][0] - 1
        else:
            price = bids[0][0] - 2 if bids else d.mid(symbol)
        price = max(price, near * 99 // 100) if near else price
    low, high = d.band[symbol]
    return min(max(price, low + 1), high - 1)  # off the band's limits: not a price spike


def _cross(seller: str, buyer: str, symbol: str, quantity: int, tries: int = 5) -> Action:
    """The seller quotes, the buyer picks the quote 1-5 s later; when the seller cannot quote
    (the price would be at the band's limit) or someone else took the quote first, again 1-3
    minutes later."""

    def act(d: MarketDay) -> None:
        quote = _quote(d, seller, symbol, quantity)

        def take(d: MarketDay) -> None:
            resting = d.book(symbol).get(quote)
            if resting is not None and resting.remaining * 100 >= quantity * 95:
                d.pick(buyer, quote, quantity)
            else:  # someone else took (most of) it first: withdraw, and try again later
                d.cancel(seller, symbol, quote)
                again(d)

        def again(d: MarketDay) -> None:
            if tries:
                later = d.later(d.rng.randrange(60, 180))
                d.at(later, _cross(seller, buyer, symbol, quantity, tries - 1))

        if quote:
            d.at(d.later(d.rng.randrange(1, 6)), take)
        else:
            again(d)

    return act


def _spoof(trader: str, symbol: str, big: int, small: int, rng: random.Random) -> Action:
    """Show `big` t behind the best bid (or ask): past the third level, 5-14 ticks at least;
    trade `small` t at the touch on the other side 1-3 s later; cancel the big order 4-20 s
    after placing it. The side is one with orders to hide behind; with none on either side, try
    again 1-3 minutes later."""

    def act(d: MarketDay, tries: int = 10) -> None:
        bids, asks = d.book(symbol).depth(3)
        sides = [side for side, levels in (("buy", bids), ("sell", asks)) if levels]
        if not sides:
            if tries:
                d.at(d.later(rng.randrange(60, 180)), lambda d: act(d, tries - 1))
            return
        side = rng.choice(sides)
        levels = bids if side == "buy" else asks
        touch, behind = levels[0], max(rng.randrange(5, 15), abs(levels[-1][0] - levels[0][0]) + 1)
        order, status = d.place(
            trader, symbol, side, big, touch[0] - behind if side == "buy" else touch[0] + behind
        )
        if status != "open":
            return

        def trade(d: MarketDay) -> None:
            level = (d.book(symbol).depth(1)[0 if side == "buy" else 1] or [touch])[0]
            d.place(
                trader, symbol, "sell" if side == "buy" else "buy", min(small, level[1]), level[0]
            )

        d.at(d.later(rng.randrange(1, 4)), trade)
        d.at(d.later(rng.randrange(4, 21)), lambda d: d.cancel(trader, symbol, order))

    return act


def _buy(trader: str, symbol: str, quantity: int, need: int) -> Action:
    """A buy of `quantity` t at the front (`_front`), not beyond `need` t bought today; what
    its earlier buys left resting is cancelled first (and bought now)."""

    def act(d: MarketDay) -> None:
        d.cancel_side(trader, symbol, "buy")
        left = min(quantity, need - d.tapes[symbol].bought.get(trader, 0))
        if left > 0:
            d.place(trader, symbol, "buy", left, _front(d, symbol, "buy"))

    return act


# -- a whole day ------------------------------------------------------------------------------


def simulate(seed: int, counts: dict[str, int] | None = None) -> tuple[MarketDay, list[Planted]]:
    """The day of `seed` with its manipulations, closed (settled) and scanned by supervision.
    The caller disposes of the day (`MarketDay.dispose`)."""
    traders = populate(random.Random(seed))
    planter = Planter(traders, random.Random(f"plant:{seed}"), DAY)
    planter.plan(LISTINGS, counts or COUNTS)
    day = MarketDay(traders, seed=seed)
    day.open()
    for when, action, fresh in planter.events:
        day.at(when, action, fresh=fresh)
    day.run()
    day.close()
    Supervision(day.store, day.clock, day.policy).scan(actor=ACTOR, first=day.day, last=day.day)
    return day, planter.planted


if __name__ == "__main__":
    from cets.sim.scoring import main

    raise SystemExit(main())
