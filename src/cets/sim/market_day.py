"""One listed trading day of a seeded market, driven through the real `Registry` and `Exchange`
on a SQLite store with a `SettableClock`: what `cets.sim.manipulations` plants manipulations
into, and the part of the market simulator the dashboard extends (more days, its own views).

**Population** (`populate`, seeded): 200 key emitters and 50 investors (35 institutions, 15
individuals), funds deposited. A key emitter is allocated one to three vintages (recent ones more
often) and is short in each (buys today, 42%), long (sells, 36%) or out of the market. About a
third of them belong to groups of two to four sharing an actual controller; a group takes one
side per vintage (its treasury nets its members' needs), so benign related accounts trade every
day without trading with each other. An investor holds two to four vintages (units bought on
earlier days, seeded by allocation), with a view of the day for each (buy, sell or both ways)
and a style (momentum or mean reversion). Opening positions stay well under the position limit.

**The day** (`MarketDay`): eight CEA vintages listed around 55-64 CNY, the older ones thinner.
The clock walks the listed sessions (09:30-11:30, 13:00-15:00 Asia/Shanghai) event by event.
Each trader's business in a vintage (`todo`, t) is split into orders of about its lot at random
times, busier at the open and the close. Each vintage has a hidden fair value (an integer random
walk within 4% of the previous close); quotes sit around the book's mid pulled 30% toward it.
Key emitters cross the spread a third of the time (more as the day goes on; rarely when the
price has moved 1.5% against them), now and then with a large order (10,000 t or more); investors
act when their signal agrees with their view, crossing 45% of the time, and cancel their own
resting orders on the other side before turning (one time in twenty they forget: self-trade
prevention stops the odd order). A crossing order goes at most two ticks through the touch, so
nothing sweeps the book; a resting one shows half of what it means to do, and 60% of them are
cancelled as stale after 1.5-15 minutes (benign cancels). Each minute, when a mid
strays 1.5% or more from fair value, holders of the vintage sell into it or buy the dip: this
takes the other side of a manipulator's trades and pulls a price back after a spike.
Prices are fen, quantities tonnes, all integers; floats are only probabilities.

Commands run through `Exchange.batched`, up to `BATCH` events a transaction (about 2,000 orders
and cancels a second: a day of ~7,500 orders takes ~6 s); an event marked fresh runs alone,
after the trades so far are read into `tapes`. The sim's one policy change is `POLICY`'s
position limit for investors (100,000 t), so that a large holder is a size one can reach.
"""

from __future__ import annotations

import heapq
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, time
from functools import partial
from typing import Final

from sqlalchemy import func, select

from cets.adapters.sql import tables as t
from cets.adapters.sql.store import SqlStore
from cets.domain.policy import Policy, PositionLimit
from cets.domain.registry.holders import AUTHORITY, Holder, HolderKind
from cets.domain.trading.book import Book
from cets.domain.trading.calendar import TradingCalendar, local_datetime
from cets.domain.trading.rules import band_limits
from cets.service.clock import SettableClock, from_us, to_us
from cets.service.exchange import Exchange
from cets.service.registry import Registry

ACTOR: Final = "sim"
DAY: Final = date(2024, 3, 4)  # a Monday
# The sim's one policy change: investors' position limit 100,000 t (default 1,000,000 t), so
# that a large holder (80% of it) is a size an investor of this market can reach.
POLICY: Final = Policy(position_limit=PositionLimit(other_t=100_000))
MINUTES: Final = 240  # listed trading minutes in a day
BATCH: Final = 200
US: Final = 1_000_000
Action = Callable[["MarketDay"], object]  # what it returns is not used


@dataclass(frozen=True, slots=True)
class Listing:
    symbol: str
    prev_close: int  # fen per tonne
    weight: int  # relative activity


LISTINGS: Final = tuple(
    Listing(f"CEA-{2017 + i}", close, weight)
    for i, (close, weight) in enumerate(
        [(5480, 3), (5560, 3), (5690, 4), (5770, 4), (5930, 5), (6080, 6), (6250, 7), (6420, 8)]
    )
)


@dataclass(slots=True)
class Trader:
    id: str
    kind: str
    controller: str | None = None
    style: str = ""  # investors: momentum | reversion
    units: dict[str, int] = field(default_factory=dict)  # opening units by instrument
    cash: int = 0  # fen deposited
    side: dict[str, str] = field(default_factory=dict)  # buy | sell (| both: investors) today
    todo: dict[str, int] = field(default_factory=dict)  # tonnes still to trade today
    lot: int = 800  # usual order size, t
    background: bool = True  # False: only a manipulation plan trades for it today
    keep: dict[str, int] = field(default_factory=dict)  # units its background does not sell


def minute_at(day: date, minute: int, second: int = 0) -> int:
    """Microseconds at trading minute `minute` (0..239) of `day`, plus `second` seconds of
    trading time (the lunch break does not count)."""
    minute, second = minute + second // 60, second % 60
    hour, rest = divmod((570 + minute) if minute < 120 else (780 + minute - 120), 60)
    return to_us(local_datetime(day, time(hour, rest))) + second * US


def populate(
    rng: random.Random,
    listings: tuple[Listing, ...] = LISTINGS,
    *,
    emitters: int = 200,
    investors: int = 50,
) -> dict[str, Trader]:
    """The key emitters and investors of the module doc (70% of the investors institutions)."""
    symbols, weights = [x.symbol for x in listings], [x.weight for x in listings]
    weight = dict(zip(symbols, weights, strict=True))
    traders: dict[str, Trader] = {}
    groups = 0
    while len(traders) < emitters:
        size = min(rng.randint(2, 4), emitters - len(traders)) if rng.random() < 0.13 else 1
        controller = None
        if size > 1:
            groups += 1
            controller = f"CG{groups:02d}"
        vintages = sorted(set(rng.choices(symbols, weights, k=rng.randint(1, 3))))
        sides = {s: rng.choices(("buy", "sell", ""), (42, 36, 22))[0] for s in vintages}
        for _ in range(size):
            me = Trader(f"KE{len(traders) + 1:03d}", HolderKind.key_emitter, controller)
            me.lot = rng.choice((300, 500, 800, 1_000, 1_500, 2_000))
            me.cash = rng.randrange(2, 20) * 100_000_000
            for s in vintages:
                me.units[s] = rng.choice((30, 60, 120, 250, 500, 900)) * 1_000 + rng.randrange(
                    20_000
                )
                if sides[s]:
                    me.side[s] = sides[s]
                    me.todo[s] = min(rng.randrange(1_000, 2_000 * weight[s]), me.units[s] // 3)
            traders[me.id] = me
    institutions = investors * 7 // 10
    for n in range(investors):
        institution = n < institutions
        me = Trader(
            f"IN{n + 1:02d}" if institution else f"ID{n - institutions + 1:02d}",
            HolderKind.institution if institution else HolderKind.individual,
            style=rng.choice(("momentum", "reversion")),
        )
        me.lot = rng.choice((300, 500, 800)) if institution else rng.choice((30, 60, 120))
        me.cash = rng.randrange(5, 50) * (100_000_000 if institution else 2_000_000)
        for s in sorted(set(rng.choices(symbols, weights, k=rng.randint(2, 4)))):
            me.units[s] = rng.randrange(5_000, 45_000) if institution else rng.randrange(300, 6_000)
            me.side[s] = rng.choices(("buy", "sell", "both"), (40, 40, 20))[0]
            me.todo[s] = me.lot * rng.randint(4, 12) * weight[s] // 4
        traders[me.id] = me
    return traders


@dataclass(slots=True)
class Tape:
    """The day's trades of one instrument read so far."""

    volume: int = 0
    amount: int = 0  # fen
    last: int = 0
    bought: dict[str, int] = field(default_factory=dict)  # tonnes, by holder
    sold: dict[str, int] = field(default_factory=dict)
    value: dict[str, int] = field(default_factory=dict)  # fen traded either way, by holder

    def vwap(self, otherwise: int) -> int:
        return self.amount // self.volume if self.volume else otherwise


@dataclass(frozen=True, slots=True)
class Venue:
    """The services a simulated day trades through, on one store and one settable clock."""

    store: SqlStore
    clock: SettableClock
    registry: Registry
    exchange: Exchange


class MarketDay:
    """The market of one trading day (module doc): open, schedule, run, close."""

    def __init__(
        self,
        traders: dict[str, Trader],
        *,
        seed: int,
        listings: tuple[Listing, ...] = LISTINGS,
        day: date = DAY,
        policy: Policy = POLICY,
        url: str | None = None,
        venue: Venue | None = None,
        prefix: str = "O",
    ) -> None:
        """`venue`: trade on these services (a day of a longer run, `cets.sim.year`) instead of
        a store of its own at `url` (a throwaway one when None); `prefix`: of the order ids,
        which must differ from day to day on one venue."""
        self.traders, self.listings, self.day, self.policy = traders, listings, day, policy
        self.rng = random.Random(f"market-day:{seed}")
        self.prefix = prefix
        self._tmp = None if url or venue else tempfile.TemporaryDirectory(prefix="cets-sim-")
        if self._tmp is not None:
            url = f"sqlite:///{self._tmp.name}/market.db"
        if venue is None:
            store = SqlStore.open(url, durable=False)
            clock = SettableClock(local_datetime(day, time(8, 30)))
            calendar = TradingCalendar.from_policy(policy)
            registry = Registry(store, clock, calendar=calendar)
            venue = Venue(store, clock, registry, Exchange(store, clock, policy))
        self.store, self.clock = venue.store, venue.clock
        self.registry, self.exchange = venue.registry, venue.exchange
        self.band = {
            x.symbol: band_limits(x.prev_close, policy.band_listed_pct, 1) for x in listings
        }
        self.fair = {x.symbol: self._walk(x.prev_close) for x in listings}
        self.tapes = {x.symbol: Tape() for x in listings}
        self.mids: dict[str, list[int]] = {x.symbol: [] for x in listings}
        self.free = {(tr.id, s): u for tr in traders.values() for s, u in tr.units.items()}
        self.budget = {tr.id: tr.cash for tr in traders.values()}
        self.bids: dict[tuple[str, str], int] = {}  # tonnes bid for today (position limit)
        self.resting: dict[tuple[str, str], list[tuple[str, str, int]]] = {}
        self.placed = self.cancelled = self.rejected = 0
        self._queue: list[tuple[int, int, bool, Action]] = []
        self._seq = self._ids = 0
        with self.store.engine.connect() as conn:  # the tapes are today's: earlier days' are read
            self._read = conn.execute(select(func.max(t.trades.c.ordinal))).scalar() or 0
        self._left: dict[tuple[str, str], int] = {}  # orders still to place, by trader and symbol
        self._extra: dict[tuple[str, str], int] = {}  # what a trader may still do on a pulse

    # -- setting up ----------------------------------------------------------------------------

    def _walk(self, prev_close: int) -> list[int]:
        out, price, bound = [], prev_close + self.rng.randint(-20, 20), prev_close * 4 // 100
        for _ in range(MINUTES + 1):
            out.append(price)
            step = sum(self.rng.randint(-3, 3) for _ in range(3))
            price = min(max(price + step, prev_close - bound), prev_close + bound)
        return out

    def open(self) -> None:
        """Open the holders, allocate the opening units, deposit the funds, list the vintages."""
        reg = self.registry
        for tr in self.traders.values():
            holder = Holder(tr.id, tr.kind, f"{tr.kind} {tr.id}", tr.controller)
            assert reg.open_holder(holder, actor=ACTOR).ok, tr.id
        for x in self.listings:
            total = sum(tr.units.get(x.symbol, 0) for tr in self.traders.values())
            assert reg.issue(f"issue:{x.symbol}", x.symbol, total, actor=AUTHORITY).ok
            self.exchange.list_instrument(x.symbol, x.prev_close, actor=ACTOR)
        for tr in self.traders.values():
            for s, units in tr.units.items():
                assert reg.allocate(f"allocate:{tr.id}:{s}", tr.id, s, units).ok, (tr.id, s)
            assert reg.deposit(f"deposit:{tr.id}", tr.id, tr.cash).ok, tr.id

    # -- the event loop ------------------------------------------------------------------------

    def at(self, at_us: int, action: Action, *, fresh: bool = False) -> None:
        """Run `action(self)` at `at_us`; `fresh`: alone, after the tapes are read."""
        self._seq += 1
        heapq.heappush(self._queue, (at_us, self._seq, fresh, action))

    def now(self) -> int:
        return to_us(self.clock.now())

    def run(self) -> None:
        """The background's events and everything scheduled, in time order."""
        self._plan_background()
        queue = self._queue
        while queue:
            if queue[0][2]:
                at, _, _, action = heapq.heappop(queue)
                self.clock.set(from_us(at))
                action(self)
            else:
                with self.exchange.batched():
                    for _ in range(BATCH):
                        if not queue or queue[0][2]:
                            break
                        at, _, _, action = heapq.heappop(queue)
                        self.clock.set(from_us(at))
                        action(self)
            self.read_tape()

    def close(self) -> str:
        """The day's end (15:05): expiries, closes, settlement. Returns the run's id."""
        self.clock.set(local_datetime(self.day, time(15, 5)))
        done = self.exchange.end_of_day(actor=ACTOR)
        assert done.ok, done
        return done.message or ""

    def dispose(self) -> None:
        """Close the store (and remove the throwaway database, if it made one)."""
        self.store.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def read_tape(self) -> None:
        tr = t.trades.c
        query = select(tr.ordinal, tr.instrument, tr.buyer, tr.seller, tr.price_fen, tr.quantity_t)
        with self.store.engine.connect() as conn:
            rows = conn.execute(query.where(tr.ordinal > self._read).order_by(tr.ordinal)).all()
        for ordinal, symbol, buyer, seller, price, quantity in rows:
            tape = self.tapes[symbol]
            tape.volume += quantity
            tape.amount += price * quantity
            tape.last = price
            tape.bought[buyer] = tape.bought.get(buyer, 0) + quantity
            tape.sold[seller] = tape.sold.get(seller, 0) + quantity
            for holder in (buyer, seller):
                tape.value[holder] = tape.value.get(holder, 0) + price * quantity
            self._read = ordinal

    # -- trading, for the background and the manipulations --------------------------------------

    def book(self, symbol: str) -> Book:
        return self.exchange.books[symbol]

    def minute(self) -> int:
        """The trading minute now (0..240; the lunch break counts as minute 120)."""
        minute = (self.now() - minute_at(self.day, 0)) // (60 * US)
        return min(max(minute if minute < 120 else max(120, minute - 90), 0), MINUTES)

    def later(self, seconds: int) -> int:
        """Microseconds `seconds` of trading time from now (the lunch break does not count)."""
        elapsed = (self.now() - minute_at(self.day, 0)) // US
        return minute_at(
            self.day, 0, (elapsed if elapsed < 7_200 else max(7_200, elapsed - 5_400)) + seconds
        )

    def fair_now(self, symbol: str) -> int:
        return self.fair[symbol][self.minute()]

    def mid(self, symbol: str) -> int:
        book = self.book(symbol)
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            return (bid + ask) // 2
        return bid if bid is not None else ask if ask is not None else self.fair_now(symbol)

    def quote(self, symbol: str, side: str, aggressive: bool) -> int:
        """A background price: through the touch by 0-2 ticks, or resting a few ticks away
        from the mid pulled 30% toward fair value; inside the band, off its limits."""
        book, rng = self.book(symbol), self.rng
        bid, ask = book.best_bid(), book.best_ask()
        if aggressive and side == "buy" and ask is not None:
            price = ask + rng.randrange(3)
        elif aggressive and side == "sell" and bid is not None:
            price = bid - rng.randrange(3)
        else:
            anchor = (7 * self.mid(symbol) + 3 * self.fair_now(symbol)) // 10
            offset = 1 + (rng.randrange(20) if rng.random() < 0.9 else rng.randrange(20, 60))
            price = anchor - offset if side == "buy" else anchor + offset
        low, high = self.band[symbol]
        return min(max(price, low + 1), high - 1)

    def place(
        self, trader: str, symbol: str, side: str, quantity: int, price: int, *, stale: float = 0
    ) -> tuple[str, str]:
        """Place a listed order within what `trader` has (units to sell, funds, the position
        limit); with probability `stale` cancel it 1.5-15 minutes later if it still rests.
        Returns (order id, status): status `skipped` when nothing was placed."""
        low, high = self.band[symbol]
        price, key = min(max(price, low), high), (trader, symbol)
        if side == "sell":
            quantity = min(quantity, self.free.get(key, 0), 99_999)
        else:
            quantity = min(quantity, self.budget[trader] * 99 // 100 // price, 99_999)
            if self.traders[trader].kind != HolderKind.key_emitter and self.policy.position_limit:
                room = self.policy.position_limit.other_t * 9 // 10 - self.bids.get(key, 0)
                quantity = min(quantity, room - self.traders[trader].units.get(symbol, 0))
        if quantity <= 0:
            return "", "skipped"
        self._ids += 1
        order_id = f"{self.prefix}{self._ids:06d}"
        done = self.exchange.place(order_id, trader, symbol, side, quantity, price, actor=trader)
        if not done.ok:
            self.rejected += 1
            return order_id, "rejected"
        self.placed += 1
        if side == "sell":
            self.free[key] -= quantity
        else:
            self.budget[trader] -= price * quantity
            self.bids[key] = self.bids.get(key, 0) + quantity
        status = done.message or ""
        if status in ("open", "partially_filled"):
            self.resting.setdefault(key, []).append((order_id, side, price))
            if stale and self.rng.random() < stale:
                later = self.now() + self.rng.randrange(90, 900) * US
                self.at(later, lambda d: d.cancel(trader, symbol, order_id))
        return order_id, status

    def pick(self, trader: str, quote: str, quantity: int) -> str:
        self._ids += 1
        order_id = f"{self.prefix}{self._ids:06d}"
        done = self.exchange.pick(order_id, trader, quote, quantity, actor=trader)
        self.placed += done.ok
        return done.message or "" if done.ok else f"rejected: {done.code}"

    def cancel(self, trader: str, symbol: str, order_id: str) -> bool:
        """Cancel what is left of the order if it still rests; its means come back."""
        order = self.book(symbol).get(order_id)
        if order is None:
            return False
        if not self.exchange.cancel(order_id, actor=trader).ok:
            return False
        self.cancelled += 1
        key = (trader, symbol)
        if order.side == "sell":
            self.free[key] += order.remaining
        else:
            self.budget[trader] += order.price * order.remaining
            self.bids[key] -= order.remaining
        return True

    def cancel_side(self, trader: str, symbol: str, side: str) -> None:
        """Cancel the trader's resting orders of `side` in `symbol`."""
        kept = []
        for order_id, order_side, price in self.resting.get((trader, symbol), []):
            if self.book(symbol).get(order_id) is None:
                continue
            if order_side != side or not self.cancel(trader, symbol, order_id):
                kept.append((order_id, order_side, price))
        self.resting[(trader, symbol)] = kept

    # -- the background ------------------------------------------------------------------------

    def _plan_background(self) -> None:
        """Each trader's day in `symbol` as `todo` t split into orders of about its lot, at
        times drawn busier at the open and the close; a per-minute pulse per instrument."""
        rng, day = self.rng, self.day
        weights = [
            3 if m < 10 or m >= 230 else 2 if m < 30 or m >= 210 else 1 for m in range(MINUTES)
        ]
        self._who: dict[str, list[Trader]] = {x.symbol: [] for x in self.listings}
        for tr in self.traders.values():
            for s in tr.units if tr.background else ():
                self._extra[tr.id, s] = max(tr.todo.get(s, 0), 4 * tr.lot)
            for s in tr.side if tr.background else ():
                self._who[s].append(tr)
                self._left[tr.id, s] = n = min(max(2, tr.todo[s] * 2 // tr.lot), 60)
                for minute in rng.choices(range(MINUTES), weights, k=n):
                    when = minute_at(day, minute) + rng.randrange(1, 60 * US)
                    self.at(when, partial(MarketDay._order_from, trader=tr, symbol=s))
        for minute in range(MINUTES):
            for s in self._who:
                self.at(minute_at(day, minute), partial(MarketDay._pulse, symbol=s))

    def _order_from(self, trader: Trader, symbol: str, tries: int = 3) -> None:
        rng, side, key = self.rng, trader.side[symbol], (trader.id, symbol)
        left, orders = trader.todo[symbol], max(1, self._left[key])
        quantity = left // orders
        quantity = max(1, quantity + rng.randint(-quantity // 4, quantity // 4))
        fair = self.fair_now(symbol)
        deviation = (self.mid(symbol) - fair) * 10_000 // fair
        if trader.kind == HolderKind.key_emitter:
            if left >= 10_000 and rng.random() < 0.02:
                quantity = rng.randrange(10_000, left + 1)  # a large order, to trade now
            against = deviation > 150 if side == "buy" else deviation < -150
            eager = 0.1 if against else 0.35 + self.minute() / 1_000
            aggressive = quantity >= 10_000 or rng.random() < eager
        else:  # an investor acts when its signal agrees with its view of the day
            mids, mid = self.mids[symbol], self.mid(symbol)
            if trader.style == "momentum":
                signal = mid - (mids[-10] if len(mids) >= 10 else self.fair[symbol][0])
            else:
                signal = self.tapes[symbol].vwap(self.fair[symbol][0]) - mid
            wants = "buy" if signal > 0 else "sell" if signal < 0 else rng.choice(("buy", "sell"))
            if side == "both":
                side = wants
                if rng.random() < 0.95:  # the other times it forgets: a self-trade slip
                    self.cancel_side(trader.id, symbol, "sell" if side == "buy" else "buy")
            elif wants != side and tries and rng.random() < 0.7:  # wait for a better moment
                later = self.minute() + rng.randrange(5, 15)
                if later < MINUTES:
                    when = minute_at(self.day, later) + rng.randrange(60 * US)
                    self.at(when, lambda d: d._order_from(trader, symbol, tries - 1))
                return
            aggressive = rng.random() < 0.45
        trader.todo[symbol], self._left[key] = max(0, left - quantity), orders - 1
        if not aggressive:  # a resting order shows part of what it means to do
            quantity = max(1, quantity // 2)
        if side == "sell":
            quantity = min(quantity, self.free[key] - trader.keep.get(symbol, 0))
        price = self.quote(symbol, side, aggressive)
        self.place(trader.id, symbol, side, quantity, price, stale=0.6)

    def _pulse(self, symbol: str) -> None:
        """Each minute: note the mid; when it strays 1.5% or more from fair value, holders of
        the vintage sell into it (or buy the dip; not those on the other side today): in all,
        the instrument's average minute's volume for each 2% it strays, in up to four orders;
        each at most as much again as it planned for the day (at least four lots)."""
        mid, fair, rng = self.mid(symbol), self.fair_now(symbol), self.rng
        self.mids[symbol].append(mid)
        deviation = (mid - fair) * 10_000 // fair
        side, other = ("sell", "buy") if deviation > 0 else ("buy", "sell")
        orders = min(4, abs(deviation) // 150)
        people = (  # worked out only when needed: this runs each minute for each instrument
            [
                tr
                for tr in self.traders.values()
                if tr.side.get(symbol) != other and self._extra.get((tr.id, symbol), 0) > 0
            ]
            if orders
            else []
        )
        orders = orders if people else 0
        minute_volume = self.tapes[symbol].volume // max(self.minute(), 10)
        total = minute_volume * abs(deviation) // 200
        for _ in range(orders):
            trader = rng.choice(people)
            quantity = max(1, total // orders + rng.randint(-total // 8, total // 8))
            quantity = min(quantity, self._extra[trader.id, symbol])
            self._extra[trader.id, symbol] -= quantity
            when = self.now() + rng.randrange(1, 59) * US

            def act(d: MarketDay, tr: Trader = trader, q: int = quantity) -> None:
                d.cancel_side(tr.id, symbol, other)  # its own orders would stop it
                d.place(tr.id, symbol, side, q, d.quote(symbol, side, True))

            self.at(when, act)
