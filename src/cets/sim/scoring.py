"""Scoring supervision's alerts against planted manipulations (`cets.sim.manipulations`).

Categories are the alert types, with `wash_trade` split in two by its rule (the key says which):
`wash_trade` for trades between related accounts, `round_trip` for round trips between
unrelated ones. An alert matches a planted case when it is of the case's category, about the
case's instrument, on its day (an alert without a day, as a large holder's, matches any day),
and names only the case's accounts; a price spike's alert names everyone in its trades (the
counterparties too), so there one of the case's accounts is enough. Per category:

- TP: alerts that match some planted case; FP: the other alerts;
- found: planted cases matched by some alert; FN: the others;
- precision = TP / alerts (None without alerts), recall = found / planted (None without cases).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from cets.domain.supervision.alerts import Alert, AlertType
from cets.domain.supervision.records import StoredAlert
from cets.service.supervision import Supervision
from cets.sim.manipulations import simulate

CATEGORIES = (
    "wash_trade",
    "round_trip",
    "self_trade_attempts",
    "spoofing",
    "marking_the_close",
    "price_spike",
    "concentration",
    "large_holder",
)


class Case(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def accounts(self) -> tuple[str, ...]: ...
    @property
    def day(self) -> date: ...
    @property
    def instrument(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Score:
    type: str
    planted: int
    alerts: int
    tp: int
    found: int

    @property
    def fp(self) -> int:
        return self.alerts - self.tp

    @property
    def fn(self) -> int:
        return self.planted - self.found

    @property
    def precision(self) -> float | None:
        return self.tp / self.alerts if self.alerts else None

    @property
    def recall(self) -> float | None:
        return self.found / self.planted if self.planted else None


def category(alert: Alert) -> str:
    if alert.type == AlertType.wash_trade and ":round_trip:" in alert.key:
        return "round_trip"
    return str(alert.type)


def matches(case: Case, stored: StoredAlert) -> bool:
    alert = stored.alert
    if category(alert) != case.type or alert.instrument != case.instrument:
        return False
    if stored.day is not None and stored.day != case.day:
        return False
    if alert.type == AlertType.price_spike:  # its accounts are everyone in the trades
        return not set(case.accounts).isdisjoint(alert.accounts)
    return set(alert.accounts) <= set(case.accounts)


def score(planted: Sequence[Case], alerts: Iterable[StoredAlert]) -> list[Score]:
    """One `Score` per category, in `CATEGORIES` order (then any other alert type seen)."""
    alerts = list(alerts)
    kinds = list(CATEGORIES) + sorted({category(a.alert) for a in alerts} - set(CATEGORIES))
    out = []
    for kind in kinds:
        cases = [p for p in planted if p.type == kind]
        raised = [a for a in alerts if category(a.alert) == kind]
        tp = sum(1 for a in raised if any(matches(p, a) for p in cases))
        found = sum(1 for p in cases if any(matches(p, a) for a in raised))
        out.append(Score(kind, len(cases), len(raised), tp, found))
    return out


def misses(planted: Sequence[Case], alerts: Iterable[StoredAlert]) -> list[str]:
    """The false positives and false negatives, one line each, for a report."""
    alerts = list(alerts)
    lines = [
        f"FP {a.alert.key}: {a.alert.explanation}"
        for a in alerts
        if not any(matches(p, a) for p in planted)
    ]
    lines.extend(
        f"FN {p.type} {p.instrument} {', '.join(p.accounts)}"
        for p in planted
        if not any(matches(p, a) for a in alerts)
    )
    return lines


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(scores: Sequence[Score]) -> str:
    head = ("type", "planted", "alerts", "TP", "FP", "FN", "precision", "recall")
    rows = [head] + [
        (
            s.type,
            str(s.planted),
            str(s.alerts),
            str(s.tp),
            str(s.fp),
            str(s.fn),
            _ratio(s.precision),
            _ratio(s.recall),
        )
        for s in scores
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m cets.sim.manipulations --seed N` (or `-m cets.sim.scoring`): simulate the day
    of seed N with its manipulations and print the scores, the misses and the time taken."""
    parser = argparse.ArgumentParser(description="Score supervision on a simulated day.")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    day, planted = simulate(args.seed)
    try:
        alerts = Supervision(day.store, day.clock, day.policy).alerts()
        print(f"seed {args.seed}: {day.placed:,} orders, {day.cancelled:,} cancels")
        print(table(score(planted, alerts)))
        for line in misses(planted, alerts):
            print(line)
    finally:
        day.dispose()
    print(f"{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
