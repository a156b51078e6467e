"""The running of the simulated compliance year (`cets.sim.year` has the story and the public
entry point, `build_year`): its dates and policy, the state carried from day to day, each trading
day as a `YearDay`, the compliance steps between the days, and the close and scan after them.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, time
from typing import Final

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select

from cets.adapters.sql import tables as t
from cets.adapters.sql.store import SqlStore
from cets.domain.ledger.model import Purpose
from cets.domain.registry.access import Person, Role
from cets.domain.registry.holders import Holder
from cets.domain.trading.calendar import TradingCalendar, local_datetime
from cets.domain.units import CASH
from cets.service.clock import SettableClock
from cets.service.compliance import Compliance
from cets.service.exchange import Exchange
from cets.service.people import People
from cets.service.registry import Registry
from cets.service.supervision import Supervision
from cets.sim import market_day as md
from cets.sim import year_compliance as yc
from cets.sim.manipulations import Planted
from cets.sim.market_day import Listing, MarketDay, Venue, populate
from cets.sim.year_agents import YEAR, Market, busy, obligations, plan_day
from cets.sim.year_plants import plant

HOLIDAYS: Final = (  # the Shanghai exchanges' closed weekdays of 2025
    "2025-01-01",
    *("2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31", "2025-02-03", "2025-02-04"),
    "2025-04-04",
    *("2025-05-01", "2025-05-02", "2025-05-05"),
    "2025-06-02",
    *("2025-10-01", "2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07", "2025-10-08"),
)
# The year's policy: market_day's (investors' position limit 100,000 t), the 2025 holidays, and
# volume concentration judged on days of 10,000 t or more of a vintage (default 1,000 t): this
# market is a sample of 250 holders, where a day of a few thousand tonnes is a handful of trades
# and always "concentrated"; the default floor would bury the planted cases under hundreds of
# such alerts (measured over the default year: about 300 with it, about 40 with this one).
POLICY: Final = replace(
    md.POLICY,
    holidays=HOLIDAYS,
    supervision=replace(md.POLICY.supervision, volume_min_t=10_000),
)
LISTINGS: Final = (
    Listing("CEA-2022", 9_450, 1),
    Listing("CEA-2023", 9_560, 1),
    Listing(f"CEA-{YEAR}", 9_680, 10),
)
START: Final = date(2025, 1, 2)  # the first trading day of 2025
STEPS: Final = {  # compliance steps, made after the close of the day named
    "ccer": date(2025, 3, 14),
    "verify": date(2025, 4, 30),
    "true_up": date(2025, 6, 30),
}
CLOSE_AT: Final = local_datetime(date(2026, 1, 1), time(10, 0))
LATE_AT: Final = local_datetime(date(2026, 1, 5), time(10, 0))
# The dashboard's logins, one per role: (person, role, holder). `make run` issues their keys.
DEMO_LOGINS: Final = (
    ("admin", "authority", None),
    ("registry", "registry_operator", None),
    ("exchange", "exchange_operator", None),
    ("sup", "supervisor", None),
    ("emitter", "key_emitter", "KE001"),
    ("investor", "investor", "IN01"),
)
DEMO_HOLDERS: Final = tuple(h for _, _, h in DEMO_LOGINS if h is not None)
SPARE: Final = 2_000_000  # t of each vintage kept in the reserve for planted cases' needs


class YearDay(MarketDay):
    """A `MarketDay` whose fair value starts `drift` fen per tonne (by instrument) from the
    previous close: the day's pressure from the side with more to do."""

    def drift(self, bias: dict[str, int]) -> None:
        for x in self.listings:
            start = x.prev_close + bias.get(x.symbol, 0) + self.rng.randint(-20, 20)
            out, price, bound = [], start, x.prev_close * 4 // 100
            for _ in range(md.MINUTES + 1):
                out.append(price)
                step = sum(self.rng.randint(-3, 3) for _ in range(3))
                price = min(max(price + step, x.prev_close - bound), x.prev_close + bound)
            self.fair[x.symbol] = out


def _value(day: date) -> int:
    """What the market thinks CEA-2024 is worth on `day` (fen): 96.80 CNY in January, sliding
    to 72.00 by the year's end as the year's surplus shows (the plan allocates more than most
    emit); the day's prices wander around it."""
    share = (day - START).days / 364
    return LISTINGS[-1].prev_close - int((LISTINGS[-1].prev_close - 7_200) * share)


def trading_days(days: int | None) -> list[date]:
    """The trading days of 2025 on the sim's calendar (243); `days`: the last that many."""
    calendar = TradingCalendar.from_policy(POLICY)
    out, day = [], START
    while day.year == START.year:
        out.append(day)
        day = calendar.next_trading_day(day)
    return out[-days:] if days else out


class YearRun:
    """The year's state between the steps of `build_year`."""

    def __init__(
        self,
        url: str,
        seed: int,
        days: list[date],
        activity: float,
        emitters: int,
        investors: int,
        planted: int,
    ) -> None:
        self.seed, self.days, self.activity = seed, days, activity
        self.rng = random.Random(f"year:{seed}")
        self.store = SqlStore.open(url, durable=False)
        self.clock = SettableClock(local_datetime(START, time(8, 0)))
        calendar = TradingCalendar.from_policy(POLICY)
        registry = Registry(self.store, self.clock, calendar=calendar)
        self.venue = Venue(
            self.store, self.clock, registry, Exchange(self.store, self.clock, POLICY)
        )
        self.compliance = Compliance(self.store, self.clock, POLICY)
        self.supervision = Supervision(self.store, self.clock, POLICY)
        self.traders = populate(
            random.Random(f"traders:{seed}"), LISTINGS, emitters=emitters, investors=investors
        )
        self.duties = obligations(self.rng, self.traders, [x.symbol for x in LISTINGS], len(days))
        self.market = Market({x.symbol: [x.prev_close] for x in LISTINGS})
        # Manipulators pick busy days (from mid-November): the planted cases need a market
        # deep enough to move or to hide in (a close marked on a thin day barely trades).
        count = min(planted, len(days) // 2)
        busy_days = [i for i, day in enumerate(days) if busy(day) >= 2]
        pool = busy_days if len(busy_days) >= 2 * count else list(range(len(days)))
        self.plant_days = set(self.rng.sample(pool, count))
        self.planted: list[Planted] = []
        self.steps = dict(STEPS)
        self.orders = self.cancels = self.late_refused = 0

    # -- before the first day ------------------------------------------------------------------

    def setup(self) -> None:
        """People, holders, the allocation, the opening units and funds, the listings."""
        people = People(self.store, self.clock)
        for person, role, holder in DEMO_LOGINS:
            if holder is None:
                title = role.replace("_", " ")
                name = "First administrator" if person == "admin" else f"Demo {title}"
                people.add(Person(person, name, Role(role)), actor="system")
        registry = self.venue.registry
        for tr in self.traders.values():
            opened = Holder(tr.id, tr.kind, f"{tr.kind} {tr.id}", tr.controller)
            yc.ok(registry.open_holder(opened, actor="registry"))
        for person, role, holder in DEMO_LOGINS:
            if holder is not None:
                name = f"Demo {role.replace('_', ' ')} of {holder}"
                people.add(Person(person, name, Role(role), holder), actor="registry")
        yc.allocate(self.compliance, registry, self.duties.values(), SPARE)
        opening: dict[str, dict[str, int]] = {}
        for tr in self.traders.values():
            me = self.duties.get(tr.id)
            units = me.banked if me is not None else tr.units  # investors: bought earlier
            opening[tr.id] = {s: q for s, q in units.items() if q > 0}
        for x in LISTINGS[:-1]:
            total = sum(u.get(x.symbol, 0) for u in opening.values()) + SPARE
            yc.ok(registry.issue(f"issue-{x.symbol}", x.symbol, total, actor=yc.ADMIN))
        for holder, units in opening.items():
            for s, q in sorted(units.items()):
                yc.ok(registry.allocate(f"opening-{holder}-{s}", holder, s, q, actor=yc.ADMIN))
        for tr in self.traders.values():
            me = self.duties.get(tr.id)
            if me is not None:  # enough to buy what it lacks at up to 120 CNY/t
                lack = me.target - sum(me.banked.values()) - me.final
                tr.cash = max(tr.cash, lack * 12_000)
            yc.ok(registry.deposit(f"deposit-{tr.id}", tr.id, tr.cash))
        for x in LISTINGS:
            yc.ok(self.venue.exchange.list_instrument(x.symbol, x.prev_close, actor="exchange"))
        self._steps_before(self.days[0])

    def _steps_before(self, day: date, *, inclusive: bool = False) -> None:
        """The compliance steps dated before `day` (or on it), each at 16:00 of its date."""
        for name, when in sorted(self.steps.items(), key=lambda kv: kv[1]):
            if when < day or (inclusive and when == day):
                self.clock.set(local_datetime(when, time(16, 0)))
                registry, duties = self.venue.registry, self.duties.values()
                if name == "ccer":
                    yc.issue_ccer(registry, duties)
                elif name == "verify":
                    yc.verify(self.compliance, duties)
                else:
                    yc.true_up(self.compliance, duties)
                del self.steps[name]

    # -- the trading days ----------------------------------------------------------------------

    def trade(self, progress: bool) -> None:
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "{task.fields[day]} orders {task.fields[orders]:,} trades {task.fields[trades]:,}"
            ),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not progress,
        )
        with bar:
            task = bar.add_task("trading days", total=len(self.days), day="", orders=0, trades=0)
            for index, day in enumerate(self.days):
                self._steps_before(day)
                self._day(index, day)
                self._steps_before(day, inclusive=True)
                self._surrenders(index)
                bar.update(
                    task, advance=1, day=day.isoformat(), orders=self.orders, trades=self._trades()
                )

    def _day(self, index: int, day: date) -> None:
        self._refresh()
        plan_day(
            self.rng, index, day, self.traders, self.duties, self.market, LISTINGS, self.activity
        )
        closes = self._closes()
        listings = tuple(Listing(x.symbol, closes[x.symbol], x.weight) for x in LISTINGS)
        events = []
        if index in self.plant_days:
            events = plant(self, index, day, listings, DEMO_HOLDERS)
        one = YearDay(
            self.traders,
            seed=self.seed * 1_000 + index,
            listings=listings,
            day=day,
            policy=POLICY,
            venue=self.venue,
            prefix=f"O{day:%y%m%d}-",
        )
        one.drift(self._bias(index, listings))
        for when, action, fresh in events:
            one.at(when, action, fresh=fresh)
        one.run()
        one.close()
        # What `cets serve`'s live surveillance would have kept by the day's end: the day's
        # alerts and large-holder crossings (a crossing is a position now over the threshold,
        # so only a scan on the day sees one that is sold down later).
        self.clock.set(local_datetime(day, time(15, 10)))
        self.supervision.scan(actor="sup", first=day, last=day)
        self.orders += one.placed
        self.cancels += one.cancelled
        for symbol, close in self._closes().items():
            self.market.closes[symbol].append(close)

    def _bias(self, index: int, listings: tuple[Listing, ...]) -> dict[str, int]:
        """Each instrument's drift today (fen): up to 0.4% toward the side with more to do,
        a fifth of the way back to the market's value, and noise; at most 1.5%."""
        out = {}
        for x in listings:
            todo = {"buy": 0, "sell": 0, "both": 0}
            for tr in self.traders.values():
                if x.symbol in tr.side:
                    todo[tr.side[x.symbol]] += tr.todo[x.symbol]
            lean = (todo["buy"] - todo["sell"]) * 40 // max(1, todo["buy"] + todo["sell"])
            value = x.prev_close if x.symbol != LISTINGS[-1].symbol else _value(self.days[index])
            back = (value - x.prev_close) * 2_000 // x.prev_close  # basis points
            move = lean + back + int(self.rng.gauss(0, 30))
            out[x.symbol] = x.prev_close * max(-150, min(150, move)) // 10_000
        return out

    def _surrenders(self, index: int) -> None:
        last = index == len(self.days) - 1
        self.clock.set(local_datetime(self.days[index], time(16, 30)))
        due = [me for me in self.duties.values() if me.surrender_on == index]
        due += [me for me in self.duties.values() if last and me.surrender_on > index]
        if not due:
            return
        self._refresh()
        for me in due:
            if me.behaviour in ("pending", "late") or me.cea_surrendered:
                continue
            if not yc.surrender(self.compliance, self.traders[me.holder], me, last=last):
                me.surrender_on = index + 1  # short of CEA: it buys, and tries again tomorrow

    # -- after the last day --------------------------------------------------------------------

    def finish(self) -> None:
        for name in list(self.steps):  # a year cut so short that a step falls after it
            self.steps[name] = min(self.steps[name], self.days[-1])
        self._steps_before(self.days[-1], inclusive=True)
        self.clock.set(CLOSE_AT)
        yc.close(self.compliance)
        self.clock.set(LATE_AT)
        self._refresh()
        for me in self.duties.values():
            if me.behaviour == "late":
                self.late_refused += yc.surrender_late(self.compliance, self.traders[me.holder], me)
        self.supervision.scan(actor="sup", first=self.days[0], last=self.days[-1])

    # -- reading back --------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Each trader's units and cash as the ledger has them available now."""
        units: dict[str, dict[str, int]] = {tr: {} for tr in self.traders}
        cash: dict[str, int] = {}
        for a in self.store.all_accounts():
            if a.holder not in units:
                continue
            if a.purpose == Purpose.fund and a.asset == CASH:
                cash[a.holder] = a.available
            elif a.purpose == Purpose.holding and a.available > 0:
                units[a.holder][a.asset] = a.available
        for tr in self.traders.values():
            tr.units, tr.cash = units[tr.id], cash.get(tr.id, 0)

    def _closes(self) -> dict[str, int]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(t.instruments.c.symbol, t.instruments.c.prev_close_fen))
            return {symbol: close for symbol, close in rows}

    def _trades(self) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.trades)).scalar_one())
