"""The outcome's `alerts` section (SCENARIOS.md: `{"type": "wash_trade", "accounts": [...],
"trades": [...]}`), and what supervision adds to it.

Alerts come in the order they were raised, each with its `id`, `type`, `severity` (low, medium,
high), `state` (open, investigating, closed) and `resolution` once closed, the `instrument` and
`day` it is about, its evidence (`accounts`, `orders`, `trades`), the plain-language
`explanation`, and the `measures` taken on it (kind and account). The large-holder reports are
not a section of their own: each is a `large_holder` alert, with the report's id in `report`.
"""

from __future__ import annotations

from typing import Any

from cets.domain.supervision.records import StoredAlert
from cets.service.supervision import Supervision


def alert_fields(stored: StoredAlert) -> dict[str, Any]:
    """An alert as the outcome and `cets supervision` show it."""
    a = stored.alert
    return {
        "id": stored.id,
        "type": a.type.value,
        "severity": a.severity.name,
        "state": stored.state,
        "resolution": stored.resolution,
        "instrument": a.instrument,
        "day": None if stored.day is None else stored.day.isoformat(),
        "accounts": list(a.accounts),
        "orders": list(a.orders),
        "trades": list(a.trades),
        "explanation": a.explanation,
    }


def alerts_section(supervision: Supervision) -> list[dict[str, Any]]:
    reports = {r.alert: r.id for r in supervision.large_holder_reports()}
    out = []
    for stored in supervision.alerts():
        found = supervision.alert(stored.id)
        assert found is not None
        entry = alert_fields(stored)
        if entry["resolution"] is None:
            del entry["resolution"]
        entry["measures"] = [
            {"measure": x.measure, "account": x.account} for x in found[1] if x.action == "measure"
        ]
        if stored.id in reports:
            entry["report"] = reports[stored.id]
        out.append(entry)
    return out
