"""Supervision at scale: every batch abnormal-trading detector over a history of --trades trades.

The history is generated once, seeded, and not timed: --trades trades over 50 trading days in two
instruments (20,000 trades a day at 1,000,000), in the listed sessions (09:30-11:30, 13:00-15:00);
prices in fen around 60.00 CNY/t, moving a few fen a trade inside the day's +-10% band around the
previous close (the day before's VWAP); 1 to 200 t a trade; 3,000 holders, 300 of them three to an
actual controller (background trades are never between related accounts). Each trade has its buy
and its sell order; half an order a trade more is not filled: small orders cancelled within a
minute, orders cancelled later, large orders (10,000-50,000 t) cancelled after minutes, orders
expired at the close, and orders stopped by self-trade prevention (2.5 orders a trade in all).
Planted on random instrument-days: wash trades between related accounts, round trips, large orders
cancelled within seconds while the holder traded the other side, order stuffing (300 unfilled
orders a day), self-trade attempt bursts, a buyer lifting the close in the last two minutes,
price jumps, trades at the upper band limit, holders buying over a third of a day's volume, and
one holder of 45% of the units. Every run checks that each detector raised every planted case
(by alert key): a miss fails (exit 1). What else they raise is counted (by-products of the plants,
and chance).

Timed, medians of --runs runs: each detector of `detect.DETECTORS` alone over the whole history
(the events are the detectors' own dataclasses, made in time order as a store would return them),
then all of them through `detect_all` (the service's batch call), once more with the cyclic
garbage collector paused to show what it costs. Baseline, in the same runs: the cheapest pass any
detector makes, one pass over the same trades and orders grouping them by (instrument, day) and
summing quantities (a dict, pure Python); its answer is checked too. The history's objects are
frozen out of the collector (`gc.freeze`), which otherwise stays on. Target (the supervision
issue): all the detectors over 1,000,000 trades in <= 10 s. `--profile` runs `detect_all` once
more under cProfile and prints the top 25 by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import statistics
import time
from bisect import bisect_right
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from functools import partial

from cets.domain.supervision.alerts import Alert
from cets.domain.supervision.detect import DETECTORS, History, detect_all
from cets.domain.supervision.events import DayContext, Holdings, OrderEvent, TradeEvent
from cets.domain.supervision.rules import SupervisionRules
from cets.domain.trading.calendar import SHANGHAI
from cets.domain.trading.orders import SELF_TRADE_PREVENTED
from cets.domain.units import round_half_up_fen

TARGET_S = 10.0
TARGET_TRADES = 1_000_000
INSTRUMENTS = ("CEA-2023", "CEA-2024")
DAYS = 50
FIRST_DAY = date(2024, 3, 4)  # a Monday; weekends are skipped, no holidays
HOLDERS = 3_000
RELATED = 300  # E0000..E0299, three accounts to each actual controller
START_FEN = 6_000
MAX_T = 200
US = 1_000_000
SPAN_US = 4 * 3600 * US  # the four listed hours
RULES = SupervisionRules()
PLANTS = {"related": 4, "round_trip": 4, "self_trade": 4, "spoof": 4, "stuffing": 2,
          "marking": 3, "jump": 3, "band": 2, "volume": 2}  # fmt: skip
PLANT_TRADES = {"related": 2, "round_trip": 2, "spoof": 1, "marking": 4, "jump": 1, "band": 1,
                "volume": 10}  # fmt: skip
DETECTOR_OF = {"related": "wash_trade", "round_trip": "wash_trade", "self_trade":
               "self_trade_attempts", "spoof": "spoofing", "stuffing": "spoofing", "marking":
               "marking_the_close", "jump": "price_spike", "band": "price_spike", "volume":
               "volume_concentration"}  # fmt: skip
RawTrade = tuple[int, int, str, str, str, int, int, str, str]
RawOrder = tuple[int, int, int, str, str, str, int, int, int, str, str | None, int | None]


class Market:
    """The seeded history (module doc): events in time order, contexts, and what was planted."""

    def __init__(self, total: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rnd = self.rng.random
        self.holders = [f"E{i:04d}" for i in range(HOLDERS)]
        self.free = self.holders[RELATED:]  # holders with no related account
        self.controllers: dict[str, str | None] = {
            h: f"G{i // 3:03d}" if i < RELATED else f"C{i:04d}" for i, h in enumerate(self.holders)
        }
        self.trades: list[TradeEvent] = []
        self.orders: list[OrderEvent] = []
        self.days: dict[tuple[str, date], DayContext] = {}
        self.planted: dict[str, set[str]] = {name: set() for name in DETECTORS}
        self.close = dict.fromkeys(INSTRUMENTS, START_FEN)
        self.price = dict.fromkeys(INSTRUMENTS, START_FEN)
        self.walk: dict[str, tuple[list[int], list[int]]] = {}
        self.seq = self.order_no = 0
        self.day_volume_t = total // DAYS // len(INSTRUMENTS) * (MAX_T + 1) // 2
        plan: dict[int, list[tuple[str, str]]] = {}
        for kind, count in PLANTS.items():  # marking: never two instruments the same day
            chosen = self.rng.sample(range(DAYS), count) if kind == "marking" else None
            for n in range(count):
                index = chosen[n] if chosen else self.rng.randrange(DAYS)
                plan.setdefault(index, []).append((kind, self.rng.choice(INSTRUMENTS)))
        day = FIRST_DAY
        for index in range(DAYS):
            while day.weekday() >= 5:
                day += timedelta(days=1)
            self.one_day(day, total // DAYS + (index < total % DAYS), plan.get(index, []))
            day += timedelta(days=1)
        units = {h: 1 + int(self.rnd() * 10_000) for h in self.holders}
        big = self.rng.choice(self.free)
        units[big] = (sum(units.values()) - units[big]) * 9 // 11  # 45% of all
        holdings = Holdings(INSTRUMENTS[0], units)
        self.planted["holdings_concentration"].add(f"concentration:holdings:{INSTRUMENTS[0]}:{big}")
        self.history = History(self.orders, self.trades, self.days, self.controllers, (holdings,))

    def one_day(self, day: date, quota: int, plants: list[tuple[str, str]]) -> None:
        midnight = int(datetime.combine(day, clock_time(0), tzinfo=SHANGHAI).timestamp()) * US
        self.open_us, close_us = midnight + 34_200 * US, midnight + 54_000 * US
        for i in INSTRUMENTS:
            prev = self.close[i]
            self.days[i, day] = DayContext(
                i, day, prev, (prev * 90 + 50) // 100, (prev * 110 + 50) // 100, close_us
            )
            self.walk[i] = ([], [])
        trades: list[RawTrade] = []
        orders: list[RawOrder] = []
        marked = {i for kind, i in plants if kind == "marking"}
        background = quota - sum(PLANT_TRADES.get(kind, 0) for kind, _ in plants)
        assert background > 0, f"{quota} trades a day is too few for the plants; raise --trades"
        rnd, late = self.rnd, close_us - 120 * US
        for k in range(background):  # slot k of the day, in time order
            at = _session_us(midnight, (k * SPAN_US + int(rnd() * SPAN_US)) // background)
            i = INSTRUMENTS[rnd() < 0.5]
            if at >= late and i in marked:  # the marked instrument's last trades are the plant's
                i = INSTRUMENTS[i == INSTRUMENTS[0]]
            context = self.days[i, day]
            price = self.price[i] + int(rnd() * 5) - 2
            price += (price < START_FEN * 95 // 100) - (price > START_FEN * 105 // 100)
            price = self.price[i] = min(max(price, context.band_low + 1), context.band_high - 1)
            self.walk[i][0].append(at)
            self.walk[i][1].append(price)
            self.trade(trades, orders, at, i, *self.pair(), price, 1 + int(rnd() * MAX_T))
        for _ in range(quota // 2):  # orders that never traded
            at, i = _session_us(midnight, int(rnd() * SPAN_US)), INSTRUMENTS[rnd() < 0.5]
            side, draw = ("buy", "sell")[rnd() < 0.5], rnd()
            price = self.price_at(i, at) + (1 + int(rnd() * 10)) * (1 if side == "sell" else -1)
            holder = self.holders[int(rnd() * HOLDERS)]
            status, reason, quantity = "cancelled", None, 1 + int(rnd() * 500)
            if draw < 0.55:  # small, cancelled within a minute
                cancelled: int | None = at + int((1 + rnd() * 59) * US)
            elif draw < 0.80:  # cancelled after a minute to an hour
                quantity, cancelled = 1 + int(rnd() * 2_000), at + int((61 + rnd() * 3_540) * US)
            elif draw < 0.85:  # large, but left to rest for minutes
                quantity = 10_000 + int(rnd() * 40_000)
                cancelled = at + int((120 + rnd() * 3_480) * US)
            elif draw < 0.98:
                status, cancelled = "expired", None
            else:
                reason, cancelled = SELF_TRADE_PREVENTED, at
            if cancelled is not None and cancelled > close_us:  # still resting at the close
                status, cancelled = "expired", None
            orders.append(
                self.unfilled(at, i, holder, side, price, quantity, status, reason, cancelled)
            )
        for kind, i in plants:
            self.plant(kind, self.days[i, day], midnight, trades, orders)
        amount, volume = dict.fromkeys(INSTRUMENTS, 0), dict.fromkeys(INSTRUMENTS, 0)
        for raw in sorted(trades):
            tid = f"T{len(self.trades) + 1:07d}"
            self.trades.append(TradeEvent(tid, *raw[2:7], raw[0], day, *raw[7:]))
            amount[raw[2]] += raw[5] * raw[6]
            volume[raw[2]] += raw[6]
        for o in sorted(orders):  # made in time order, as read from a store
            self.orders.append(OrderEvent(f"O{o[2]:07d}", *o[3:8], o[0], day, *o[8:]))
        for i in INSTRUMENTS:
            self.close[i] = round_half_up_fen(amount[i], volume[i]) if volume[i] else self.close[i]

    def plant(self, kind: str, ctx: DayContext, midnight: int, trades: list[RawTrade],
              orders: list[RawOrder]) -> None:  # fmt: skip
        """One planted case of `kind` on `ctx`'s instrument-day, and the key it must raise."""
        i, rnd, iso = ctx.instrument, self.rnd, ctx.day.isoformat()
        at = _session_us(midnight, int(rnd() * (SPAN_US - 1_800 * US)))  # not in the last 30 min
        price = self.price_at(i, at)
        a, b = self.rng.sample(self.free, 2)
        if kind == "related":
            g = int(rnd() * (RELATED // 3))
            a, b, _ = self.rng.sample(self.holders[3 * g : 3 * g + 3], 3)
            self.trade(trades, orders, at, i, a, b, price, 50)
            self.trade(trades, orders, at + 200 * US, i, b, a, price, 60)
            key = f"wash_trade:{i}:{iso}:{self.controllers[a]}:{min(a, b)}:{max(a, b)}"
        elif kind == "round_trip":
            self.trade(trades, orders, at, i, b, a, price, 100)  # a sells 100 t to b,
            self.trade(trades, orders, at + 300 * US, i, a, b, price, 105)  # b sells 105 t back
            key = f"wash_trade:{i}:{iso}:round_trip:{min(a, b)}:{max(a, b)}"
        elif kind == "self_trade":
            for _ in range(3 + int(rnd() * 6)):
                placed = _session_us(midnight, int(rnd() * SPAN_US))
                args = ("buy", price, 100, "cancelled", SELF_TRADE_PREVENTED, placed)
                orders.append(self.unfilled(placed, i, a, *args))
            key = f"self_trade_attempts:{i}:{iso}:{a}"
        elif kind == "spoof":  # a shows 2 large bids for seconds while selling
            orders.append(self.unfilled(at, i, a, "buy", price - 5, 30_000, "cancelled", None,
                                        at + 30 * US))  # fmt: skip
            orders.append(self.unfilled(at + 10 * US, i, a, "buy", price - 6, 25_000, "cancelled",
                                        None, at + 40 * US))  # fmt: skip
            self.trade(trades, orders, at + 15 * US, i, b, a, price, 80)
            key = f"spoofing:{i}:{iso}:{a}:large"
        elif kind == "stuffing":
            for _ in range(300):
                placed = _session_us(midnight, int(rnd() * SPAN_US))
                orders.append(self.unfilled(placed, i, a, "sell", price + 20, 10, "cancelled",
                                            None, placed + 5 * US))  # fmt: skip
            key = f"spoofing:{i}:{iso}:{a}:ratio"
        elif kind == "marking":  # a buys in four steps of < 3% up to the band, the day's last
            price = self.price_at(i, ctx.close_us)
            for seconds in (100, 80, 60, 40):
                price = min(price * 1_028 // 1_000, ctx.band_high - 1)
                seller = self.rng.choice(self.free)
                seller = seller if seller != a else b
                self.trade(trades, orders, ctx.close_us - seconds * US, i, a, seller, price,
                           self.day_volume_t * 8 // 100)  # fmt: skip
            key = f"marking_the_close:{i}:{iso}:{a}"
        elif kind == "jump":
            jumped = price * 105 // 100 if price * 105 // 100 < ctx.band_high else price * 95 // 100
            self.trade(trades, orders, at, i, a, b, jumped, 50)
            key = f"price_spike:{i}:{iso}:jump"
        elif kind == "band":
            self.trade(trades, orders, at, i, a, b, ctx.band_high, 50)
            key = f"price_spike:{i}:{iso}:upper"
        else:  # volume: a buys 10 x 6% of the day's usual volume: over 30% of it
            for _ in range(10):
                at = _session_us(midnight, int(rnd() * (SPAN_US - 1_800 * US)))
                seller = self.rng.choice(self.free)
                seller = seller if seller != a else b
                self.trade(trades, orders, at, i, a, seller, self.price_at(i, at),
                           self.day_volume_t * 6 // 100)  # fmt: skip
            key = f"concentration:volume:{i}:{iso}:{a}:buy"
        self.planted[DETECTOR_OF[kind]].add(key)

    def pair(self) -> tuple[str, str]:
        """A buyer and a seller with different actual controllers."""
        holders, controllers, rnd = self.holders, self.controllers, self.rnd
        buyer = holders[int(rnd() * HOLDERS)]
        while True:
            seller = holders[int(rnd() * HOLDERS)]
            if controllers[seller] != controllers[buyer]:
                return buyer, seller

    def price_at(self, instrument: str, at_us: int) -> int:
        """The background price of `instrument` at `at_us` (the last trade before it)."""
        times, prices = self.walk[instrument]
        k = bisect_right(times, at_us)
        return prices[k - 1] if k else prices[0] if prices else self.price[instrument]

    def trade(self, trades: list[RawTrade], orders: list[RawOrder], at: int, i: str, buyer: str,
              seller: str, price: int, quantity: int) -> None:  # fmt: skip
        """A trade at `at` and its two orders: one crossing at `at`, one resting up to 10 min."""
        buy, sell = self.order_no + 1, self.order_no + 2
        self.order_no += 2
        self.seq += 3
        trades.append((at, self.seq, i, buyer, seller, price, quantity, f"O{buy:07d}",
                       f"O{sell:07d}"))  # fmt: skip
        resting = max(at - int(self.rnd() * 600 * US), self.open_us)
        buy_at, sell_at = (at, resting) if self.rnd() < 0.5 else (resting, at)
        orders.append((buy_at, self.seq + 1, buy, i, buyer, "buy", price, quantity, quantity,
                       "filled", None, None))  # fmt: skip
        orders.append((sell_at, self.seq + 2, sell, i, seller, "sell", price, quantity, quantity,
                       "filled", None, None))  # fmt: skip

    def unfilled(self, at: int, i: str, account: str, side: str, price: int, quantity: int,
                 status: str, reason: str | None, cancelled: int | None) -> RawOrder:  # fmt: skip
        """An order that never traded."""
        self.order_no += 1
        self.seq += 1
        return (at, self.seq, self.order_no, i, account, side, price, quantity, 0, status, reason,
                cancelled)  # fmt: skip


def _session_us(midnight: int, offset_us: int) -> int:
    """The moment `offset_us` into the day's four listed hours (09:30-11:30, 13:00-15:00)."""
    return midnight + offset_us + (34_200 if offset_us < SPAN_US // 2 else 39_600) * US


READS = {"wash_trade": "trades", "self_trade_attempts": "orders", "spoofing": "orders, trades",
         "marking_the_close": "trades", "price_spike": "trades", "volume_concentration": "trades",
         "holdings_concentration": "3,000 holders"}  # fmt: skip
ALL, ALL_GC_OFF = "all (detect_all)", "all, gc paused"


def check(m: Market, name: str, alerts: list[Alert]) -> int:
    """Fail (exit 1) unless every planted case of `name` was raised; the count beyond them."""
    planted = planted_of(m, name)
    keys = {a.key for a in alerts}
    if missed := planted - keys:
        raise SystemExit(f"FAILED: {name} missed {len(missed)} planted case(s): {sorted(missed)}")
    return len(keys) - len(planted)


def planted_of(m: Market, name: str) -> set[str]:
    if name in (ALL, ALL_GC_OFF):
        return set().union(*m.planted.values())
    return m.planted.get(name, set())


def baseline(m: Market) -> tuple[float, float]:
    """One pass over the trades and one over the orders, tonnes by (instrument, day); the
    seconds of each."""
    started = time.perf_counter()
    volume: dict[tuple[str, date], int] = {}
    for t in m.trades:
        key = (t.instrument, t.day)
        volume[key] = volume.get(key, 0) + t.quantity
    half = time.perf_counter()
    placed: dict[tuple[str, date], int] = {}
    for o in m.orders:
        key = (o.instrument, o.day)
        placed[key] = placed.get(key, 0) + o.quantity
    elapsed = half - started, time.perf_counter() - half
    want = (sum(t.quantity for t in m.trades), sum(o.quantity for o in m.orders))
    assert (sum(volume.values()), sum(placed.values())) == want, "the baseline's sums are wrong"
    assert len(volume) == len(placed) == len(m.days), "the baseline missed instrument-days"
    return elapsed


def timed(m: Market, name: str, run: Callable[[], list[Alert]], times: dict[str, list[float]],
          extra: dict[str, int]) -> None:  # fmt: skip
    started = time.perf_counter()
    alerts = run()
    times.setdefault(name, []).append(time.perf_counter() - started)
    extra[name] = check(m, name, alerts)


def measure(m: Market, runs: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    times: dict[str, list[float]] = {}
    extra: dict[str, int] = {}
    passes: list[tuple[float, float]] = []  # the baseline's trades pass and orders pass
    for n in range(runs):
        if n % 2:  # alternate: baseline first, then last
            passes.append(baseline(m))
        for name, detect in DETECTORS.items():
            timed(m, name, partial(detect, m.history, RULES), times, extra)
        timed(m, ALL, partial(detect_all, m.history, RULES), times, extra)
        gc.disable()  # the same with the cyclic garbage collector paused: what it costs
        timed(m, ALL_GC_OFF, partial(detect_all, m.history, RULES), times, extra)
        gc.enable()
        if not n % 2:
            passes.append(baseline(m))
        times.setdefault("baseline", []).append(sum(passes[-1]))
        print(f"run {n + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    trades_s, orders_s = (statistics.median(p[k] for p in passes) for k in (0, 1))
    print(f"the baseline's passes (medians): trades {trades_s:.2f} s, orders {orders_s:.2f} s")
    return times, extra


def report(m: Market, runs: int, times: dict[str, list[float]], extra: dict[str, int]) -> None:
    n = len(m.trades)
    median = {name: statistics.median(values) for name, values in times.items()}
    base = median["baseline"]
    print(f"\nmedians of {runs} runs, {n:,} trades, {len(m.orders):,} orders:")
    print(f"{'detector':<23} {'reads':<15} {'s':>6} {'trades/s':>11} {'ours/base':>9}  alerts")
    for name in [*DETECTORS, ALL, ALL_GC_OFF]:
        s, planted = median[name], len(planted_of(m, name))
        rate = "-" if name == "holdings_concentration" else f"{n / s:,.0f}"
        reads = READS.get(name, "everything")
        print(f"{name:<23} {reads:<15} {s:6.2f} {rate:>11} {s / base:9.2f}  "
              f"{planted + extra[name]} ({planted} planted, all found)")  # fmt: skip
    print(f"{'baseline':<23} {'orders, trades':<15} {base:6.2f} {n / base:11,.0f} {1:9.2f}  "
          f"(one pass over each, tonnes by instrument-day)")  # fmt: skip
    verdict = "met" if median[ALL] <= TARGET_S else "MISSED"
    if n < TARGET_TRADES:
        verdict = f"not judged at {n:,} trades"
    print(f"all detectors over {n:,} trades: {median[ALL]:.2f} s (target <= {TARGET_S:g} s: "
          f"{verdict})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=TARGET_TRADES)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    m = Market(args.trades, args.seed)
    stopped = sum(o.reason == SELF_TRADE_PREVENTED for o in m.orders)
    cancelled = sum(o.status == "cancelled" for o in m.orders) - stopped
    print(f"generated in {time.perf_counter() - started:.0f} s (not timed): {len(m.trades):,} "
          f"trades, {len(m.orders):,} orders ({cancelled:,} cancelled, {stopped:,} stopped by "
          f"self-trade prevention), {len(m.days)} instrument-days, {HOLDERS:,} holders; planted "
          f"{sum(len(k) for k in m.planted.values())} cases")  # fmt: skip
    gc.collect()
    gc.freeze()
    times, extra = measure(m, args.runs)
    report(m, args.runs, times, extra)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(detect_all, m.history, RULES)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
