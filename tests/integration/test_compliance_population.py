"""The seeded compliance population (`cets.sim.compliance_population`, what `bench/compliance.py`
measures) gets from the compliance service exactly the statuses and totals its seed says, and
audits clean: the benchmark's checks rest on this."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from cets.adapters.sql.store import SqlStore
from cets.service.clock import SettableClock
from cets.service.compliance import Compliance
from cets.sim.compliance_population import POLICY, SURRENDERING, YEAR, expected, plan, seed


def test_a_seeded_population_gets_the_statuses_and_totals_its_seed_says(tmp_path: Path) -> None:
    entities = plan(600, seed=7)
    want = expected(entities)
    assert len(want.counts) == 5  # every status occurs, so each rule is exercised
    path = tmp_path / "population.db"
    seed(path, entities)
    store = SqlStore.open(f"sqlite:///{path}")
    try:
        table = Compliance(store, SettableClock(SURRENDERING), POLICY).status_table(YEAR)
        lines = [r.line for r in table.rows]
        assert dict(Counter(x.status.value for x in lines)) == want.counts
        assert sum(x.obligation for x in lines) == want.obligation
        assert sum(x.surrendered for x in lines) == want.surrendered
        report = store.audit()
        assert report.ok, report.violations
    finally:
        store.close()
