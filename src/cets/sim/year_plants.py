"""Manipulations planted on a few days of the simulated year (`cets.sim.year`), by
`manipulations.Planter`: one to three cases a day, the kinds taken in turn from `ROTATION` so
that six planted days cover every kind at least once (wash trades and spoofing thrice). The
demo's own holders (`year.DEMO_LOGINS`) are never chosen. A case's holder may need more units
or funds than it has that day (the planter gives them "as bought on earlier days"): the units
are allocated from the reserve's spare and the funds deposited, before the day opens.
"""

from __future__ import annotations

import random
from datetime import date
from typing import TYPE_CHECKING, Final

from cets.domain.registry.holders import HolderKind
from cets.sim.manipulations import COUNTS, Planter
from cets.sim.market_day import Action, Listing, Trader
from cets.sim.year_compliance import ADMIN, ok

if TYPE_CHECKING:
    from cets.sim.year_run import YearRun

ROTATION: Final = (
    ("wash_trade", "spoofing", "marking_the_close"),
    ("round_trip", "self_trade_attempts", "price_spike"),
    ("concentration", "wash_trade", "spoofing"),
    ("marking_the_close", "round_trip", "large_holder"),
    ("self_trade_attempts", "price_spike", "wash_trade"),
    ("spoofing", "concentration", "round_trip"),
)
INSTRUMENT_KINDS: Final = ("marking_the_close", "price_spike", "concentration")


def plant(
    year: YearRun, index: int, day: date, listings: tuple[Listing, ...], demo: tuple[str, ...]
) -> list[tuple[int, Action, bool]]:
    """Plan the day's cases into `year.planted`; their events, to schedule on the day."""
    turn = sorted(year.plant_days).index(index)
    counts = dict.fromkeys(COUNTS, 0)
    for kind in ROTATION[turn % len(ROTATION)]:
        counts[kind] += 1
    traders = year.traders
    if not _pairs(traders, listings, demo):
        counts["wash_trade"] = 0  # no group holds enough to wash (a small population)
    institutions = sum(
        tr.kind == HolderKind.institution and tr.id not in demo for tr in traders.values()
    )
    if institutions < 3:  # a round trip takes two, a large holder one more
        counts["round_trip"] = counts["large_holder"] = 0
    before = {tr.id: (dict(tr.units), tr.cash) for tr in traders.values()}
    planter = Planter(traders, random.Random(f"plant:{year.seed}:{index}"), day)
    planter.used.update(demo)
    # The cases of one instrument's day (its close, a spike, a concentration) go to the busiest
    # vintage: `Planter.marking` divides by the day's volume at 14:50, which a thin one may lack.
    busiest = (max(listings, key=lambda x: x.weight),)
    planter.plan(busiest, {k: n if k in INSTRUMENT_KINDS else 0 for k, n in counts.items()})
    planter.plan(listings, {k: 0 if k in INSTRUMENT_KINDS else n for k, n in counts.items()})
    registry = year.venue.registry
    for holder in sorted(planter.used - set(demo)):
        tr, (units, cash) = traders[holder], before[holder]
        for symbol, want in sorted(tr.units.items()):
            more = want - units.get(symbol, 0)
            if more > 0:
                cmd = f"plant-{day}-{holder}-{symbol}"
                ok(registry.allocate(cmd, holder, symbol, more, actor=ADMIN))
        if tr.cash > cash:
            ok(registry.deposit(f"plant-{day}-{holder}-cash", holder, tr.cash - cash))
    year.planted.extend(planter.planted)
    return planter.events


def _pairs(
    traders: dict[str, Trader], listings: tuple[Listing, ...], demo: tuple[str, ...]
) -> bool:
    """Whether two members of some group each hold 20,000 t of some listed vintage (what
    `Planter.wash` looks for: without them it would look for ever)."""
    for x in listings:
        members: dict[str, int] = {}
        for tr in traders.values():
            if tr.controller and tr.id not in demo and tr.units.get(x.symbol, 0) >= 20_000:
                members[tr.controller] = members.get(tr.controller, 0) + 1
        if any(n >= 2 for n in members.values()):
            return True
    return False
