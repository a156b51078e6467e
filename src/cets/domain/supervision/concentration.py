"""Concentration (DOMAIN.md, "Supervision"): one holder's share of a day's volume, or of an
asset's holdings. Alert type `concentration`.

Rules (thresholds in `SupervisionRules`):

- **Volume.** For each instrument and day, the volume is the tonnes of its listed and block
  trades; a day under `volume_min_t` t is not judged (a few trades make any share large). A
  holder whose tonnes as buyer, or as seller, reach `volume_share_pct`% of that volume raises
  one alert for that side: part x 100 >= pct x volume, in integers. Each trade counts once in
  the volume and once on each side, so each side's shares add up to 100%; a trade with the
  same holder on both sides counts on both. Auction trades are left out: in a one-way auction
  the authority sells, so it would always hold the whole sell side, and bidders have the
  auction's own limits. The evidence is the holder's trades on that side, in the order they
  happened; the accounts are the holder alone (counterparties are in the trades); the orders
  are the holder's orders on that side.
- **Holdings.** A holder whose units reach `holdings_share_pct`% of the asset's units held by
  all holders in `Holdings` raises one alert. Which holders count is the caller's choice: leave
  out the authority's reserve and the system accounts (escrow, fees, clearing), otherwise the
  reserve dominates and everyone else's share is diluted. Holders with no units are ignored;
  units are never negative. There is no minimum number of holders: with three holders, each
  of them may well be over 30%. Alerts come largest holder first, then by holder id.

Severity, on the exact share: low from the threshold, medium from 2 x the threshold, high from
3 x (each capped at 100%; with the default 30%: 30%, 60%, 90%).

Shares are printed as percentages with two decimals, half-up, computed in integers; a share
that fires is at or above its threshold, so its printed value never falls below it.

Keys: `concentration:volume:<instrument>:<day>:<holder>:<buy|sell>` (day in ISO form) and
`concentration:holdings:<asset>:<holder>`. Volume alerts come in the order of the holder's first
trade on that side of that day. Running a detector again over the same input gives the same
alerts.

Cost: two passes over the trades (totals, then the evidence of the holders that fired), O(n);
holdings O(h log h) for the ordering.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Final

from cets.domain.supervision.alerts import Alert, AlertType, Severity
from cets.domain.supervision.events import Holdings, TradeEvent
from cets.domain.supervision.rules import SupervisionRules
from cets.domain.supervision.wording import count as _count
from cets.domain.supervision.wording import unique as _unique
from cets.domain.units import round_half_up_fen

_COUNTED_MODES: Final = frozenset({"listed", "block"})
_BUY: Final = "buy"
_SELL: Final = "sell"

_SideKey = tuple[str, date, str, str]  # instrument, day, holder, buy | sell


def detect_volume_concentration(
    trades: Sequence[TradeEvent], rules: SupervisionRules
) -> list[Alert]:
    """Alerts for holders with a large share of a day's volume as buyer or seller (module doc)."""
    share_pct, min_t = rules.volume_share_pct, rules.volume_min_t
    assert 1 <= share_pct <= 100, f"volume_share_pct {share_pct}, was expected 1..100"
    assert min_t >= 0, f"volume_min_t {min_t}, was expected >= 0"
    volume: dict[tuple[str, date], int] = {}
    sides: dict[_SideKey, int] = {}  # in the order of the holder's first trade on the side
    for trade in trades:
        if trade.mode not in _COUNTED_MODES:
            continue
        instrument, day, quantity = trade.instrument, trade.day, trade.quantity
        volume[instrument, day] = volume.get((instrument, day), 0) + quantity
        bought = (instrument, day, trade.buyer, _BUY)
        sides[bought] = sides.get(bought, 0) + quantity
        sold = (instrument, day, trade.seller, _SELL)
        sides[sold] = sides.get(sold, 0) + quantity
    fired: dict[_SideKey, list[TradeEvent]] = {}
    for key, tonnes in sides.items():
        day_volume = volume[key[0], key[1]]
        if day_volume >= min_t and tonnes * 100 >= share_pct * day_volume:
            fired[key] = []
    if fired:
        _collect_evidence(trades, fired)
    return [
        _volume_alert(key, evidence, volume[key[0], key[1]], rules)
        for key, evidence in fired.items()
    ]


def _collect_evidence(
    trades: Sequence[TradeEvent], fired: dict[_SideKey, list[TradeEvent]]
) -> None:
    for trade in trades:
        if trade.mode not in _COUNTED_MODES:
            continue
        bought = fired.get((trade.instrument, trade.day, trade.buyer, _BUY))
        if bought is not None:
            bought.append(trade)
        sold = fired.get((trade.instrument, trade.day, trade.seller, _SELL))
        if sold is not None:
            sold.append(trade)


def _volume_alert(
    key: _SideKey, evidence: list[TradeEvent], day_volume: int, rules: SupervisionRules
) -> Alert:
    instrument, day, holder, side = key
    tonnes = sum(t.quantity for t in evidence)
    verb = "bought" if side == _BUY else "sold"
    orders = (t.buy_order if side == _BUY else t.sell_order for t in evidence)
    return Alert(
        type=AlertType.concentration,
        severity=_severity(tonnes, day_volume, rules.volume_share_pct),
        key=f"concentration:volume:{instrument}:{day.isoformat()}:{holder}:{side}",
        instrument=instrument,
        accounts=(holder,),
        orders=_unique(orders),
        trades=tuple(t.id for t in evidence),
        explanation=(
            f"{holder} {verb} {tonnes:,} t of {instrument} on {day.isoformat()} in"
            f" {_count(len(evidence), 'trade')}: {_share(tonnes, day_volume)}% of the day's"
            f" {day_volume:,} t of listed and block trades, at or above the"
            f" {rules.volume_share_pct}% threshold"
        ),
    )


def detect_holdings_concentration(holdings: Holdings, rules: SupervisionRules) -> list[Alert]:
    """Alerts for holders with a large share of an asset's units (module doc). The caller leaves
    out the authority's reserve and the system accounts."""
    share_pct = rules.holdings_share_pct
    assert 1 <= share_pct <= 100, f"holdings_share_pct {share_pct}, was expected 1..100"
    for holder, units in holdings.by_holder.items():
        assert units >= 0, f"{holder} holds {units} units of {holdings.asset}, was expected >= 0"
    counted = {h: u for h, u in holdings.by_holder.items() if u > 0}
    total = sum(counted.values())
    large = sorted(
        ((h, u) for h, u in counted.items() if u * 100 >= share_pct * total),
        key=lambda held: (-held[1], held[0]),
    )
    asset = holdings.asset
    return [
        Alert(
            type=AlertType.concentration,
            severity=_severity(units, total, share_pct),
            key=f"concentration:holdings:{asset}:{holder}",
            instrument=asset,
            accounts=(holder,),
            orders=(),
            trades=(),
            explanation=(
                f"{holder} holds {units:,} t of {asset}: {_share(units, total)}% of the"
                f" {total:,} t held by the {_count(len(counted), 'holder')} counted, at or"
                f" above the {share_pct}% threshold"
            ),
        )
        for holder, units in large
    ]


def _severity(part: int, whole: int, threshold_pct: int) -> Severity:
    """Low from the threshold, medium from 2 x, high from 3 x, each capped at 100%."""
    if part * 100 >= min(3 * threshold_pct, 100) * whole:
        return Severity.high
    if part * 100 >= min(2 * threshold_pct, 100) * whole:
        return Severity.medium
    return Severity.low


def _share(part: int, whole: int) -> str:
    """`part` of `whole` as a percentage with two decimals, half-up: 700 of 1200 -> "58.33"."""
    hundredths = round_half_up_fen(part * 10_000, whole)
    return f"{hundredths // 100}.{hundredths % 100:02d}"
