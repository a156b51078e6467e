"""A seeded compliance year of the whole system: the demo database the dashboard shows.

**Dates.** The trading days of calendar year 2025 on the exchange's calendar (weekends and the
Shanghai exchanges' 2025 holidays closed: 243 days), and compliance year 2024: its allowances
(CEA-2024) are allocated by the benchmark method in January 2025 (pre-allocation, 70%), its
emissions verified at the end of April, the final allocation (true-up) made at the end of June,
and it is surrendered for by the deadline 2025-12-31 (the policy's default `compliance_deadline`
12-31 of the year after). Banking is on (DOMAIN.md; `PeriodRules.banking`), so CEA-2022 and
CEA-2023 may be surrendered for 2024 too: the three vintages are listed, CEA-2024 the busiest.
CEA-2025 is not allocated in 2025, so nothing is borrowed. `days=N` keeps the last N trading days
(the run-up to the deadline); the allocation and verification steps dated before them are made
before the first. The close of 2024 is made on 2026-01-01; late surrenders on 2026-01-05 are
refused; then supervision's batch scan runs over the simulated days.

**The market** is `cets.sim.market_day`'s, one `YearDay` per trading day on one store: the
holders, positions and cash carry over (read back from the ledger after each day's settlement,
so T+1 and everything settlement did are respected), the previous close is the last day's close,
and each day's fair value starts from it with a drift: toward the side with more to do that
day, a fifth of the way back to what the market thinks CEA-2024 is worth (96.80 CNY in January
sliding to 72.00 in December: the plan allocates more than most emit), and noise
(`year_agents.plan_day` says who trades). Quiet days most of the year (about 100 orders a
day until October), busier toward the deadline (about 200 a day in November, 290 in
December). The day's end (`MarketDay.close`) expires the day orders, fixes the close and
settles the day's run (delivery versus payment; a day without trades would have no run, and
the default year has none), and then supervision scans the day, as `cets serve`'s live
surveillance would have (a large-holder crossing is seen only while the position is over the
threshold). On some busy days (`planted`, default 6, from mid-November) a few manipulations are
planted (`year_plants`, with `manipulations.Planter`). The sim's policy (`year_run.POLICY`)
is `market_day`'s, with the 2025 holidays and volume concentration judged from 10,000 t a day
(see there why).

**Writes** all go through the services (`Registry`, `Exchange`, `Compliance`, `Supervision`,
`People`); the only fast path is `market_day`'s: opening units of banked vintages and of the
investors are allocated from the reserve (units bought in earlier years), and so are the units
a planted case's holder needs. Nothing depends on
the wall clock: the same seed and options give the same journal (`journal_head`), which the
summary reports. The store is not durable while building (no fsync; `SqlStore.open(durable=
False)`): the file is complete once `build_year` returns.
"""

from __future__ import annotations

import time as timer
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url

from cets.adapters.importers.prices import load_bars, read_prices
from cets.adapters.sql import tables as t
from cets.adapters.sql.database import make_engine
from cets.domain.registry.holders import SYSTEM_HOLDERS
from cets.service.supervision import Supervision
from cets.sim.manipulations import Planted
from cets.sim.year_agents import YEAR
from cets.sim.year_run import (
    DEMO_LOGINS,
    LATE_AT,
    LISTINGS,
    POLICY,
    YearRun,
    trading_days,
)

__all__ = [
    "DEMO_LOGINS",
    "LATE_AT",
    "LISTINGS",
    "POLICY",
    "NotEmptyError",
    "YearSummary",
    "build_year",
    "check_empty",
    "head",
    "trading_days",
]


class NotEmptyError(ValueError):
    """The database already holds account holders: a demo is never built over real data."""


@dataclass(frozen=True, slots=True)
class YearSummary:
    """What `build_year` made: sizes, the compliance statuses (by status), the alerts (by type),
    the planted cases, the journal head and where the time went."""

    days: int
    first: date
    last: date
    orders: int
    cancels: int
    trades: int
    volume_t: int
    value_fen: int
    runs: int  # settlement runs delivered
    alerts: dict[str, int]
    statuses: dict[str, int]
    ccer_used_t: int
    late_refused: int
    planted: list[Planted]
    journal_seq: int
    journal_hash: str
    elapsed_s: float
    phases: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        fen = self.value_fen
        return [
            f"trading days: {self.days} ({self.first} to {self.last})",
            f"orders: {self.orders:,} ({self.cancels:,} cancelled); trades: {self.trades:,}; "
            f"volume: {self.volume_t:,} t, {fen // 100:,}.{fen % 100:02d} CNY",
            f"settlement runs delivered: {self.runs}",
            "compliance 2024: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
            + f"; CCER used {self.ccer_used_t:,} t; late surrenders refused {self.late_refused}",
            f"planted manipulations: {len(self.planted)}; alerts: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.alerts.items())),
            f"journal head: {self.journal_seq} {self.journal_hash}",
            "demo logins: "
            + ", ".join(f"{p} ({r}{f' of {h}' if h else ''})" for p, r, h in DEMO_LOGINS),
            "time: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in self.phases.items())
            + f"; elapsed {self.elapsed_s:.1f} s",
        ]


def check_empty(url: str) -> None:
    """NotEmptyError when the database at `url` exists and holds account holders."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("holders"):
                return
            system = [h.id for h in SYSTEM_HOLDERS]
            count = conn.execute(
                select(func.count()).select_from(t.holders).where(t.holders.c.id.not_in(system))
            ).scalar_one()
    finally:
        engine.dispose()
    if count:
        where = parsed.render_as_string(hide_password=True)
        raise NotEmptyError(f"--db {where}: the database already holds {count} account holders")


def build_year(
    url: str,
    *,
    seed: int = 1,
    days: int | None = None,
    activity: float = 1.0,
    emitters: int = 200,
    investors: int = 50,
    planted: int = 6,
    hubei: Path | None = None,
    progress: bool = True,
) -> YearSummary:
    """Create the database at `url` and run the compliance year (module doc) into it."""
    started = timer.perf_counter()
    check_empty(url)
    year = YearRun(url, seed, trading_days(days), activity, emitters, investors, planted)
    phases: dict[str, float] = {}
    try:
        year.setup()
        phases["setup"] = timer.perf_counter() - started
        mark = timer.perf_counter()
        year.trade(progress)
        phases["trading"] = timer.perf_counter() - mark
        mark = timer.perf_counter()
        year.finish()
        phases["close and scan"] = timer.perf_counter() - mark
        if hubei is not None:
            mark = timer.perf_counter()
            load_bars(year.store.engine, read_prices(hubei))
            phases["hubei"] = timer.perf_counter() - mark
        return _summary(year, phases, timer.perf_counter() - started)
    finally:
        year.store.close()


def _summary(self: YearRun, phases: dict[str, float], elapsed: float) -> YearSummary:
    tr, runs = t.trades.c, t.settlement_runs.c
    with self.store.engine.connect() as conn:
        trades, volume, value = conn.execute(
            select(func.count(), func.sum(tr.quantity_t), func.sum(tr.price_fen * tr.quantity_t))
        ).one()
        delivered = conn.execute(
            select(func.count()).select_from(t.settlement_runs).where(runs.status == "delivered")
        ).scalar_one()
        seq, digest = conn.execute(select(t.journal_head.c.seq, t.journal_head.c.hash)).one()
    table = self.compliance.status_table(YEAR)
    statuses = Counter(str(r.line.status) for r in table.rows)
    alerts = Counter(
        str(a.alert.type) for a in Supervision(self.store, self.clock, POLICY).alerts()
    )
    return YearSummary(
        days=len(self.days),
        first=self.days[0],
        last=self.days[-1],
        orders=self.orders,
        cancels=self.cancels,
        trades=int(trades),
        volume_t=int(volume or 0),
        value_fen=int(value or 0),
        runs=int(delivered),
        alerts=dict(alerts),
        statuses=dict(statuses),
        ccer_used_t=sum(r.line.offset for r in table.rows),
        late_refused=self.late_refused,
        planted=list(self.planted),
        journal_seq=int(seq),
        journal_hash=str(digest),
        elapsed_s=elapsed,
        phases=phases,
    )


def head(url: str) -> tuple[int, str]:
    """The journal head (seq, hash) of the database at `url`."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            seq, digest = conn.execute(select(t.journal_head.c.seq, t.journal_head.c.hash)).one()
            return int(seq), str(digest)
    finally:
        engine.dispose()
