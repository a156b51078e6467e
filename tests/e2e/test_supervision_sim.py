"""Supervision's detectors on a simulated trading day with planted manipulations (the supervision
issue: "precision and recall per detector printed by a test or benchmark; both >= 0.9").

One seeded day (`cets.sim.market_day`: 250 holders, eight vintages, several thousand orders
through the real registry and exchange) with manipulations of every kind planted into it
(`cets.sim.manipulations`), closed, settled and scanned; alerts are scored against the planted
cases (`cets.sim.scoring`). `pytest -s` shows the table; `python -m cets.sim.manipulations
--seed N` prints it for another seed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cets.domain.supervision.records import StoredAlert
from cets.service.supervision import Supervision
from cets.sim.manipulations import Planted, simulate
from cets.sim.market_day import MarketDay
from cets.sim.scoring import CATEGORIES, misses, score, table

SEED = 1

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def simulated() -> Iterator[tuple[MarketDay, list[Planted], list[StoredAlert]]]:
    day, planted = simulate(SEED)
    try:
        yield day, planted, Supervision(day.store, day.clock, day.policy).alerts()
    finally:
        day.dispose()


def test_each_detector_finds_what_was_planted_and_little_else(
    simulated: tuple[MarketDay, list[Planted], list[StoredAlert]],
) -> None:
    day, planted, alerts = simulated
    scores = score(planted, alerts)
    print(f"\nseed {SEED}: {day.placed:,} orders, {day.cancelled:,} cancels")
    print(table(scores))
    for line in misses(planted, alerts):
        print(line)
    assert [s.type for s in scores] == list(CATEGORIES), "an alert of a type not scored"
    for s in scores:
        assert s.planted >= 3, f"{s.type}: only {s.planted} cases planted"
        assert s.precision is not None and s.precision >= 0.9, f"{s.type}: {s}"
        assert s.recall is not None and s.recall >= 0.9, f"{s.type}: {s}"


def test_the_day_is_a_real_trading_day(
    simulated: tuple[MarketDay, list[Planted], list[StoredAlert]],
) -> None:
    day, _, _ = simulated
    assert 5_000 <= day.placed <= 12_000
    assert day.cancelled >= 500  # stale orders cancelled minutes later: benign cancels
    assert day.rejected == 0
    assert all(tape.volume > 0 for tape in day.tapes.values())
    groups: dict[str, set[str]] = {}
    for trader in day.traders.values():
        if trader.controller is not None:
            groups.setdefault(trader.controller, set()).add(trader.id)
    traded = {h for tape in day.tapes.values() for h in (*tape.bought, *tape.sold)}
    wash = {a for p in planted_of(simulated, "wash_trade") for a in p.accounts}
    benign = [g for g in groups.values() if len(g & traded) >= 2 and not g & wash]
    assert len(benign) >= 5, "related accounts that trade and are not planted: wash FP test"


def planted_of(
    simulated: tuple[MarketDay, list[Planted], list[StoredAlert]], kind: str
) -> list[Planted]:
    return [p for p in simulated[1] if p.type == kind]
