"""The outcome object of a scenario run (SCENARIOS.md, "Outcome"): steps, orders, trades,
holdings, funds, market, compliance, alerts and the audit, read back from the store."""

from __future__ import annotations

from typing import Any

from cets.adapters.sql.store import SqlStore
from cets.domain.ledger.model import Account
from cets.domain.registry.holders import SYSTEM_HOLDERS
from cets.domain.units import CASH, format_fen
from cets.service.clock import from_us
from cets.service.queries import positions

SYSTEM_IDS = frozenset(h.id for h in SYSTEM_HOLDERS)


def _orders(store: SqlStore) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for o in store.venue_orders():
        entry: dict[str, Any] = {
            "status": o.status,
            "filled": o.filled,
            "remaining": o.quantity - o.filled - o.cancelled,
        }
        if o.reason:
            entry["reason"] = o.reason
        out[o.id] = entry
    return out


def _trades(store: SqlStore) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "instrument": t.instrument,
            "mode": t.mode,
            "buy_order": t.buy_order,
            "sell_order": t.sell_order,
            "buyer": t.buyer,
            "seller": t.seller,
            "quantity": t.quantity,
            "price": format_fen(t.price),
            "buyer_fee": format_fen(t.buyer_fee),
            "seller_fee": format_fen(t.seller_fee),
            "at": from_us(t.at_us).replace(tzinfo=None).isoformat(),
        }
        for t in store.venue_trades()
    ]


def _market(store: SqlStore) -> dict[str, Any]:
    return {
        symbol: {
            bar.day.isoformat(): {
                "open": format_fen(bar.open_fen or bar.close_fen),
                "high": format_fen(bar.high_fen or bar.close_fen),
                "low": format_fen(bar.low_fen or bar.close_fen),
                "close": format_fen(bar.close_fen),
                "volume": bar.volume_t,
                "amount": format_fen(bar.amount_fen),
                "block_volume": bar.block_volume_t,
                "block_amount": format_fen(bar.block_amount_fen),
            }
            for bar in store.daily_bars(symbol)
        }
        for symbol in store.venue_instruments()
    }


def _settlement(store: SqlStore) -> dict[str, Any]:
    """Each settlement run: its kind, status, trades, what it corrects, its breaks (kinds and
    refs) and how many objections it got."""
    out: dict[str, Any] = {}
    for run in reversed(store.settlement_runs(limit=10_000)):
        entry: dict[str, Any] = {"kind": run.kind, "status": run.status, "trades": run.trades}
        if run.corrects:
            entry["corrects"] = run.corrects
        entry["breaks"] = [
            {"kind": b.kind, "ref": b.ref, "expected": b.expected, "actual": b.actual}
            for b in store.settlement_breaks(run)
        ]
        entry["objections"] = len(store.settlement_objections(run.id))
        out[run.id] = entry
    return out


def _system(accounts: list[Account]) -> dict[str, Any]:
    """The system's own accounts (issuance, reserve, fees, clearing, transit, banks...) by holder,
    purpose and asset: with the holders' accounts they show conservation (each asset sums to 0)."""
    out: dict[str, Any] = {}
    for a in sorted(accounts, key=lambda a: (a.holder, a.purpose, a.asset)):
        if a.holder in SYSTEM_IDS:
            balance = format_fen(a.balance) if a.asset == CASH else a.balance
            out.setdefault(a.holder, {}).setdefault(a.purpose, {})[a.asset] = balance
    return out


def outcome(
    store: SqlStore,
    steps: list[dict[str, Any]],
    compliance: dict[str, Any],
    alerts: list[dict[str, Any]],
) -> dict[str, Any]:
    """The outcome object of SCENARIOS.md (`compliance`: see `scenario_compliance.section`;
    `alerts`: `scenario_supervision.alerts_section`)."""
    accounts = store.all_accounts()
    units, funds = positions(store.holders(), accounts, store.open_holds())
    report = store.audit()
    violations = [v.as_dict() for v in report.violations]
    if report.chain_break is not None:
        violations.insert(0, {"rule": "journal_chain", "message": str(report.chain_break)})
    return {
        "steps": steps,
        "orders": _orders(store),
        "trades": _trades(store),
        "holdings": {
            holder: {
                asset: {
                    "total": p.total,
                    "available": p.available,
                    "frozen": p.frozen,
                    "pledged": p.pledged,
                    "in_orders": p.in_orders,
                    "pending_offset": p.pending_offset,
                }
                for asset, p in assets.items()
            }
            for holder, assets in units.items()
        },
        "funds": {
            holder: {
                "total": format_fen(p.total),
                "available": format_fen(p.available),
                "in_orders": format_fen(p.in_orders),
            }
            for holder, p in funds.items()
        },
        "market": _market(store),
        "settlement": _settlement(store),
        "system": _system(accounts),
        "compliance": compliance,
        "alerts": alerts,
        "audit": {"ok": report.ok, "violations": violations},
    }
