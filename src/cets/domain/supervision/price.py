"""Price spikes against the band (DOMAIN.md, "Supervision"): listed trades pinned at a band
limit, and listed trades that jump away from the trade before them. Alert type `price_spike`.

Rules (thresholds in `SupervisionRules`):

- **Pinned at the band.** A listed trade at its day's upper limit (`DayContext.band_high`) or
  lower limit (`band_low`), the limits being previous close x (1 +- band), half-up to the tick
  (DOMAIN.md, "Trading"). One alert per instrument, day and limit, with every such trade as
  evidence. A trade alone does not say which side crossed the spread, so both sides are listed
  as accounts; the explanation names first the side that took the limit price (buyers at the
  upper limit, sellers at the lower one), then their counterparties. A trade beyond a limit,
  which the venue refuses, is a data or venue fault: it is counted with that limit and the
  explanation says so. Severity: medium (the market reached its limit: a supervisor looks);
  high if a trade went beyond the limit. An instrument-day missing from `days` is not judged
  at the band: there is no band to judge it by.
- **Jumps.** A listed trade whose price moved at least `spike_bps` basis points from the
  previous listed trade of the same instrument and day, measured on the previous price:
  |p - p_prev| x 10,000 >= spike_bps x p_prev, in integers. Each step is judged alone, so a
  large move made of small steps is not a jump (the band catches where it ends). The day's
  first trade is not compared with the previous close: an opening gap is bounded by the band.
  One alert per instrument and day; the evidence lists each jumping trade after the one before
  it, the accounts and orders are those of the jumping trades. Severity by the largest move:
  low from `spike_bps`, medium from 2 x, high from 3 x (with the default 300 bps: 3%, 6%, 9%,
  the last nearly the whole +-10% band).
- Only `mode == "listed"` trades are judged or serve as the previous trade. Block trades have
  their own band (+-30%) and negotiated prices, auction trades their own pricing; neither enters
  the close (DOMAIN.md), and a block trade between two listed trades does not break their
  comparison.

Keys: `price_spike:<instrument>:<day>:<upper|lower|jump>`, the day in ISO form. Alerts come in
the order of the trade that first raised them (a trade both at a limit and jumping raises the
limit's alert first); evidence keeps the order the trades happened. Running the detector again
over the same trades gives the same alerts.

Cost: one pass over the trades, O(n); memory O(instrument-days + flagged trades).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Final

from cets.domain.supervision.alerts import Alert, AlertType, Severity
from cets.domain.supervision.events import DayContext, TradeEvent
from cets.domain.supervision.rules import SupervisionRules
from cets.domain.supervision.wording import count as _count
from cets.domain.supervision.wording import unique as _unique
from cets.domain.units import format_fen, round_half_up_fen

_LISTED: Final = "listed"
_UPPER: Final = "upper"
_LOWER: Final = "lower"
_JUMP: Final = "jump"
_BPS: Final = 10_000
_JUMPS_SPELLED_OUT: Final = 10  # the explanation names this many jumps; the evidence has all

_GroupKey = tuple[str, date, str]  # instrument, day, upper | lower | jump


def detect_price_spikes(
    trades: Sequence[TradeEvent],
    days: Mapping[tuple[str, date], DayContext],
    rules: SupervisionRules,
) -> list[Alert]:
    """Alerts for listed trades at a band limit and for listed trades that jump (module doc)."""
    spike_bps = rules.spike_bps
    assert spike_bps >= 1, f"spike_bps {spike_bps}, was expected >= 1"
    pinned: dict[_GroupKey, list[TradeEvent]] = {}
    jumps: dict[_GroupKey, list[tuple[TradeEvent, TradeEvent]]] = {}
    raised: dict[_GroupKey, None] = {}  # every group, in the order its first trade came
    last: dict[tuple[str, date], TradeEvent] = {}
    for trade in trades:
        if trade.mode != _LISTED:
            continue
        day_key = (trade.instrument, trade.day)
        context = days.get(day_key)
        if context is not None:
            limit = _limit_reached(trade.price, context)
            if limit is not None:
                key = (trade.instrument, trade.day, limit)
                pinned.setdefault(key, []).append(trade)
                raised.setdefault(key)
        previous = last.get(day_key)
        last[day_key] = trade
        if previous is not None and (
            abs(trade.price - previous.price) * _BPS >= spike_bps * previous.price
        ):
            key = (trade.instrument, trade.day, _JUMP)
            jumps.setdefault(key, []).append((previous, trade))
            raised.setdefault(key)
    return [
        _jump_alert(key, jumps[key], spike_bps)
        if key[2] == _JUMP
        else _pinned_alert(key, pinned[key], days[key[0], key[1]])
        for key in raised
    ]


def _limit_reached(price: int, context: DayContext) -> str | None:
    if price >= context.band_high:
        return _UPPER
    if price <= context.band_low:
        return _LOWER
    return None


def _pinned_alert(key: _GroupKey, hits: list[TradeEvent], context: DayContext) -> Alert:
    instrument, day, limit = key
    assert context.prev_close > 0, f"previous close {context.prev_close}, was expected > 0"
    upper = limit == _UPPER
    limit_fen = context.band_high if upper else context.band_low
    buyers = "buyers " + ", ".join(_unique(t.buyer for t in hits))
    sellers = "sellers " + ", ".join(_unique(t.seller for t in hits))
    took, against = (buyers, sellers) if upper else (sellers, buyers)
    beyond = [t.price for t in hits if (t.price > limit_fen if upper else t.price < limit_fen)]
    explanation = (
        f"{_count(len(hits), 'trade')} of {instrument} on {day.isoformat()} at the {limit} band"
        f" limit {format_fen(limit_fen)} (previous close {format_fen(context.prev_close)},"
        f" {_signed_pct(limit_fen - context.prev_close, context.prev_close)}),"
        f" {sum(t.quantity for t in hits):,} t: {took} (against {against};"
        " a trade does not say which side crossed)"
    )
    if beyond:
        extreme = max(beyond) if upper else min(beyond)
        explanation += (
            f"; {len(beyond)} of them beyond the limit, up to {format_fen(extreme)},"
            " which the venue should have refused"
        )
    return Alert(
        type=AlertType.price_spike,
        severity=Severity.high if beyond else Severity.medium,
        key=f"price_spike:{instrument}:{day.isoformat()}:{limit}",
        instrument=instrument,
        accounts=_unique(a for t in hits for a in (t.buyer, t.seller)),
        orders=_unique(o for t in hits for o in (t.buy_order, t.sell_order)),
        trades=tuple(t.id for t in hits),
        explanation=explanation,
    )


def _jump_alert(
    key: _GroupKey, pairs: list[tuple[TradeEvent, TradeEvent]], spike_bps: int
) -> Alert:
    instrument, day, _ = key
    for previous, _trade in pairs:
        assert previous.price > 0, f"trade {previous.id} price {previous.price}, was expected > 0"
    severity = max(_jump_severity(p.price, t.price, spike_bps) for p, t in pairs)
    largest = max(abs(_move_bps(p.price, t.price)) for p, t in pairs)
    spelled = "; ".join(
        f"{t.id} at {format_fen(t.price)} after {p.id} at {format_fen(p.price)}"
        f" ({_signed_pct(t.price - p.price, p.price)}; buyer {t.buyer}, seller {t.seller})"
        for p, t in pairs[:_JUMPS_SPELLED_OUT]
    )
    if len(pairs) > _JUMPS_SPELLED_OUT:
        spelled += f"; and {len(pairs) - _JUMPS_SPELLED_OUT} more in the evidence"
    jumping = [t for _, t in pairs]
    return Alert(
        type=AlertType.price_spike,
        severity=severity,
        key=f"price_spike:{instrument}:{day.isoformat()}:{_JUMP}",
        instrument=instrument,
        accounts=_unique(a for t in jumping for a in (t.buyer, t.seller)),
        orders=_unique(o for t in jumping for o in (t.buy_order, t.sell_order)),
        trades=_unique(i for p, t in pairs for i in (p.id, t.id)),
        explanation=(
            f"{_count(len(pairs), 'price jump')} of {instrument} on {day.isoformat()}, each at"
            f" least {_pct(spike_bps)}% from the listed trade before it (largest"
            f" {_pct(largest)}%): {spelled}"
        ),
    )


def _jump_severity(previous: int, price: int, spike_bps: int) -> Severity:
    move = abs(price - previous) * _BPS
    if move >= 3 * spike_bps * previous:
        return Severity.high
    if move >= 2 * spike_bps * previous:
        return Severity.medium
    return Severity.low


def _move_bps(previous: int, price: int) -> int:
    """The move from `previous` to `price` in basis points of `previous`, half-up."""
    return round_half_up_fen((price - previous) * _BPS, previous)


def _signed_pct(change: int, base: int) -> str:
    bps = round_half_up_fen(change * _BPS, base)
    return f"{'-' if bps < 0 else '+'}{_pct(abs(bps))}%"


def _pct(bps: int) -> str:
    """Basis points as a percentage with two decimals: 333 -> "3.33"."""
    return f"{bps // 100}.{bps % 100:02d}"
