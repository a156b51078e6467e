"""The people of the simulated compliance year (`cets.sim.year`) and what each wants to do on a
trading day: who is short and buys, who is long and sells, which investors trade which way.

**Obligations** (`obligations`, seeded). Each key emitter of `market_day.populate` gets verified
2024 emissions E (26,000 t to about 2 Mt, log-uniform) and an allocation plan of one or two
output lines (a benchmark in t per unit of output, e.g. 0.7981 tCO2/MWh for coal power of 300 MW
and above, times correction factors) whose verified output gives an allowance of 0.90-0.98 E
(45%: short), 0.985-1.015 E (15%) or 1.02-1.10 E (40%: long); the previous year's output
(the pre-allocation's basis) is within -4%..+6% of it, so the final allocation is always a
top-up. 45% of them hold banked CEA-2022/2023 (1-6% of E each). A quarter hold CCER (1-5% of
E, within the 5% offset cap), which they put to offset when they surrender. Behaviours: most
surrender in full on a day drawn toward the deadline (`on_time`: within the last 80 trading
days, most near the end; one short of CEA then tries again each next day, and on the last day
surrenders what it has); 6% surrender 75-95% of what they owe (`short`); 4% leave it until
after the deadline (`late`: refused once the year is closed); 1% (at least one) have no plan
and no verified emissions (`pending`: status C).

**A trading day** (`plan_day`). An emitter's need is the CEA it must still surrender (what it
means to surrender less its CCER, less what it has surrendered) less its eligible CEA and the
top-up still to come; a long one keeps a buffer of 3% of E. On a quiet day one emitter in ten
with a need acts (`busy`: x1 until October, rising to x5 at the year's end), and every day in
the ten trading days before its own surrender day if it is short; each in one vintage, for
20-50% of its need but at most two of its lots (four in those last days). An emitter's lot is
E / 400 (at least its `populate` lot, at most 2,000 t): large emitters trade in larger orders.
Members of a group (one controller) take one side per vintage each day, so they do not trade
with each other in the background. Investors act on 35% of days (x busy, at most 80%), in one
or two vintages, for one or two lots (institutions' lots are four times `populate`'s), on
momentum (the last five closes) or mean reversion (against the 20-day mean), a quarter of the
time either way; one holding over 60,000 t of a vintage only sells it (its position limit is
100,000 t).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final

from cets.domain.compliance.allocation import PlanLine, allowance, gap_capped, share
from cets.domain.registry.holders import HolderKind
from cets.sim.market_day import Listing, Trader

YEAR: Final = 2024  # the compliance year: its emissions are verified, and surrendered for, in 2025
# (benchmark tCO2 per unit of output, line name, correction factors drawn from)
BENCHMARKS: Final = (
    ("0.7981", "coal-300MW+", ("1.0", "1.0", "1.05")),
    ("0.8177", "coal-sub300MW", ("1.0", "1.012")),
    ("0.3305", "gas-turbine", ("1.0",)),
    ("1.1032", "clinker", ("1.0", "0.98")),
)
BUFFER_PCT: Final = 3  # what a long emitter keeps beyond its obligation
LOT_MAX: Final = 2_000  # an emitter's usual order: a larger one would be the whole day alone
INSTITUTION_LOT: Final = 4  # x populate's lots: institutions trade in thousands of tonnes
LARGE: Final = 60_000  # an investor holding more of a vintage only sells it


@dataclass(slots=True)
class Obligation:
    """One key emitter's compliance year, as planned and as it goes."""

    holder: str
    behaviour: str  # on_time | short | late | pending
    emissions: int  # verified 2024 emissions, t (not entered when pending)
    lines: list[PlanLine]
    pre: int  # pre-allocation expected (70% of the allowance on the previous output)
    final: int  # final allocation expected
    banked: dict[str, int] = field(default_factory=dict)  # CEA-2022/2023 held at the start
    ccer: int = 0  # CCER issued to it (all put to offset when it surrenders)
    part_pct: int = 100  # of its obligation it means to surrender (short: 75-95)
    surrender_on: int = -1  # index of the simulated trading day it surrenders on
    cea_surrendered: int = 0  # CEA surrendered so far, t
    offset: int = 0  # CCER put to offset and used, t
    topped_up: bool = False  # the final allocation (true-up) is made

    @property
    def target(self) -> int:
        """CEA it means to surrender, in all (what it owes less its CCER)."""
        return max(0, self.emissions * self.part_pct // 100 - self.ccer)


def obligations(
    rng: random.Random, traders: dict[str, Trader], symbols: list[str], days: int
) -> dict[str, Obligation]:
    """The obligation of every key emitter (module doc); `days` simulated trading days, on one
    of which (toward the last) each surrenders."""
    emitters = [tr for tr in traders.values() if tr.kind == HolderKind.key_emitter]
    for tr in traders.values():
        if tr.kind == HolderKind.institution:
            tr.lot *= INSTITUTION_LOT
    out: dict[str, Obligation] = {}
    n = len(emitters)
    special = rng.sample(range(1, n), max(3, n * 11 // 100))  # emitter 0 is the demo's: on time
    pending = set(special[: max(1, n // 100)])
    late = set(special[len(pending) : len(pending) + max(1, n * 4 // 100)])
    short = set(special[len(pending) + len(late) :])
    for i, tr in enumerate(emitters):
        behaviour = (
            "pending"
            if i in pending
            else "late"
            if i in late
            else "short"
            if i in short
            else "on_time"
        )
        emissions = int(26_000 * math.exp(rng.uniform(0, math.log(80))))
        band = rng.choices(((900, 980), (985, 1_015), (1_020, 1_100)), (45, 15, 40))[0]
        ratio = rng.randint(*band)  # allowance per mille of emissions
        lines = [] if behaviour == "pending" else _lines(rng, tr.id, emissions * ratio // 1_000)
        pre = share(allowance(lines, verified=False), 70) if lines else 0
        final = gap_capped(allowance(lines, verified=True), emissions, 20) if lines else 0
        me = Obligation(tr.id, behaviour, emissions, lines, pre, final)
        tr.lot = min(LOT_MAX, max(tr.lot, emissions // 40_000 * 100))  # larger for a large one
        if rng.random() < 0.45 or behaviour == "pending":
            for s in symbols[:-1]:  # banked vintages: all but the compliance year's
                me.banked[s] = emissions * rng.randint(1, 6) // 100
        if behaviour in ("on_time", "short") and (i == 0 or rng.random() < 0.25):
            me.ccer = emissions * rng.randint(10, 50) // 1_000
        if behaviour == "short":
            me.part_pct = rng.randint(75, 95)
        span = max(1, min(days, 80))  # the last 80 trading days, most near the deadline
        me.surrender_on = days - 1 - int(span * rng.random() ** 1.8)
        out[tr.id] = me
    return out


def _lines(rng: random.Random, holder: str, target: int) -> list[PlanLine]:
    """One or two output lines whose verified output gives about `target` t of allowance."""
    count = 1 if rng.random() < 0.7 else 2
    kinds = rng.sample(range(len(BENCHMARKS)), count)
    lines = []
    for k, kind in enumerate(kinds):
        benchmark, name, factors = BENCHMARKS[kind]
        chosen = tuple(Decimal(rng.choice(factors)) for _ in range(rng.randint(1, 2)))
        rate = Decimal(benchmark) * math.prod(chosen, start=Decimal(1))
        part = target // count if k else target - target // count * (count - 1)
        verified = int(Decimal(part) / rate)
        previous = verified * rng.randint(960, 1_060) // 1_000
        lines.append(PlanLine(YEAR, holder, name, Decimal(benchmark), chosen, previous, verified))
    return lines


@dataclass(slots=True)
class Market:
    """What every agent can see between days: each instrument's closes so far."""

    closes: dict[str, list[int]]


def eligible(units: dict[str, int]) -> int:
    """CEA a holder may surrender for 2024: every vintage up to 2024 (banking on)."""
    return sum(q for s, q in units.items() if s.startswith("CEA-") and int(s[4:]) <= YEAR)


def need_of(me: Obligation, tr: Trader) -> int:
    """Tonnes it must still buy (> 0) or may sell (< 0, beyond its buffer)."""
    if me.behaviour == "pending":
        return 0
    owed = max(0, me.target - me.cea_surrendered)
    coming = 0 if me.topped_up else me.final - me.pre
    need = owed - eligible(tr.units) - coming
    buffer = me.emissions * BUFFER_PCT // 100
    return need if need > 0 else min(0, need + buffer)


def busy(day: date) -> float:
    """Activity relative to a quiet day: x1 until October, rising to x5 at the year's end."""
    start, end = date(day.year, 10, 1), date(day.year, 12, 31)
    late = max(0.0, (day - start).days / (end - start).days)
    return 1 + 4 * late**2


def plan_day(
    rng: random.Random,
    index: int,
    day: date,
    traders: dict[str, Trader],
    duties: dict[str, Obligation],
    market: Market,
    listings: tuple[Listing, ...],
    activity: float,
) -> None:
    """Set each trader's side and tonnes for the day (module doc)."""
    symbols, weights = [x.symbol for x in listings], [x.weight for x in listings]
    factor = busy(day) * activity
    taken: dict[tuple[str, str], str] = {}  # (controller, symbol) -> the group's side today
    for tr in traders.values():
        tr.side, tr.todo, tr.keep, tr.background = {}, {}, {}, True
        if tr.kind == HolderKind.key_emitter:
            _emitter(rng, index, tr, duties[tr.id], factor, symbols, weights, taken)
        elif rng.random() < min(0.8, 0.35 * factor):
            _investor(rng, tr, market, symbols, weights)


def _emitter(
    rng: random.Random,
    index: int,
    tr: Trader,
    me: Obligation,
    factor: float,
    symbols: list[str],
    weights: list[int],
    taken: dict[tuple[str, str], str],
) -> None:
    need = need_of(me, tr)
    if not need:
        return
    soon = 0 <= me.surrender_on - index <= 10 and need > 0
    if not soon and rng.random() >= 0.1 * factor:
        return
    if need > 0:
        side, symbol = "buy", rng.choices(symbols, weights)[0]
    else:
        held = [s for s in symbols if tr.units.get(s, 0) > 0]
        if not held:
            return
        side, symbol = "sell", max(held, key=lambda s: tr.units[s])
    if tr.controller is not None:
        group_side = taken.setdefault((tr.controller, symbol), side)
        if group_side != side:
            return  # the group's treasury trades the other way in this vintage today
    most = (4 if soon else 2) * tr.lot  # what it does in a day: a lot or a few
    quantity = abs(need) * rng.randint(20, 50) // 100
    tr.side[symbol], tr.todo[symbol] = side, min(abs(need), max(tr.lot, min(quantity, most)))


def _investor(
    rng: random.Random,
    tr: Trader,
    market: Market,
    symbols: list[str],
    weights: list[int],
) -> None:
    for symbol in sorted(set(rng.choices(symbols, weights, k=rng.randint(1, 2)))):
        closes = market.closes[symbol]
        if tr.style == "momentum":
            signal = closes[-1] - closes[max(0, len(closes) - 6)]
        else:
            recent = closes[-20:]
            signal = sum(recent) // len(recent) - closes[-1]
        side = "buy" if signal > 0 else "sell" if signal < 0 else "both"
        if rng.random() < 0.25:
            side = "both"  # no firm view today: either way, on the day's own signal
        if tr.units.get(symbol, 0) <= 0:  # nothing to sell: it can only buy
            side = "buy"
        elif tr.units[symbol] > LARGE:  # near its position limit's report threshold: it lightens
            side = "sell"
        tr.side[symbol] = side
        tr.todo[symbol] = tr.lot * rng.randint(2, 4) // 2
