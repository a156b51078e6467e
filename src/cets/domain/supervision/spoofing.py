"""Spoofing: large orders cancelled before they can trade, and a high order-to-trade ratio.

DOMAIN.md, "Supervision": spoofing shows a depth that is not meant to trade. This module owns
two rules over one day's order stream, each judged per holder (the order's account), instrument
and trading day, each giving at most one alert of type `spoofing` per such group, keyed
`spoofing:<instrument>:<day>:<holder>:<large|ratio>` (day in ISO form) so that a second run
over the same events yields the same alerts.

Rule "large" (large orders cancelled before they can trade). An order counts when all hold:
    - it never traded: `filled == 0` (an order cancelled after a partial fill did trade);
    - its holder cancelled it: `cancelled_us` is set and `reason` is not
      `self_trade_prevented` (the venue stopping an order is not the holder's choice);
    - it was cancelled within `spoof_cancel_s` seconds of being placed (inclusive);
    - it was large: `quantity >= spoof_min_t` t, or `quantity` >= `spoof_volume_pct` % of the
      instrument's listed volume that day (compared in integers: quantity x 100 >= pct x volume).
    The group's alert lists those orders. Severity medium; high when, while any of them rested
    (from its `placed_us` to its `cancelled_us`, both inclusive), the holder traded on the other
    side (sold while a large buy rested, bought while a large sell rested): the classic spoofing
    pattern of showing depth on one side to trade on the other. Those trades are listed as
    evidence too, in the order they happened.

Rule "ratio" (order-to-trade ratio). Orders placed / orders with any fill (`filled > 0`) above
`order_to_trade_ratio` (strictly: placed > ratio x traded, in integers), judged only with at
least `order_to_trade_min_orders` orders placed. No order traded counts as an infinite ratio.
Severity low (quoting and requoting is also what a market maker does: a pattern to watch);
medium above twice the limit, which includes a day on which no order traded. The alert lists
the orders, at most the first `EVIDENCE_LIMIT` (100) of them; when there are more, the
explanation says so and gives the counts.

Choices where the rules are silent (written down so they are found):
    - Only listed orders and listed trades are read. Block quotes and auction bids are not on
      the continuous book whose depth spoofing fakes, and "the listed volume that day" is the
      listed trades' volume (block trades do not enter it, as they do not enter the close).
    - With no listed volume that day the percentage test cannot apply (any order would be 20 %
      of nothing); only `spoof_min_t` makes an order large then.
    - Orders the venue rejected were never placed: the ratio does not count them.
    - An order stopped by self-trade prevention was placed and counts in the ratio, but it is
      not a holder's cancel for the "large" rule.
    - Evidence accounts are the holder alone: the counterparties of its other-side trades only
      took the other side of the market and are not accused.
    - Alerts come back in the order their groups first appear in the stream, "large" alerts
      before "ratio" alerts.

Cost: one pass over the trades (the day's listed volume), one over the orders, and one more over
the trades only when some large order was flagged, to index that holder's trades; looking up
the trades during each flagged order's rest is a binary search. O(n + k log n) overall.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from cets.domain.supervision.alerts import Alert, AlertType, Severity
from cets.domain.supervision.events import OrderEvent, TradeEvent
from cets.domain.supervision.rules import SupervisionRules
from cets.domain.supervision.wording import count as _count
from cets.domain.trading.orders import SELF_TRADE_PREVENTED
from cets.domain.units import format_fen, round_half_up_fen

EVIDENCE_LIMIT: Final = 100  # orders listed in a ratio alert
_DETAIL_LIMIT: Final = 5  # orders described one by one in an explanation
_US: Final = 1_000_000
_PERCENT: Final = 100
_LISTED: Final = "listed"

Group = tuple[str, date, str]  # instrument, day, holder


def detect_spoofing(
    orders: Sequence[OrderEvent], trades: Sequence[TradeEvent], rules: SupervisionRules
) -> list[Alert]:
    """Every spoofing alert over `orders` and `trades` (both in the order they happened)."""
    volume = _listed_volume(trades)
    alerts = _large_cancel_alerts(orders, trades, volume, rules)
    alerts.extend(_ratio_alerts(orders, rules))
    return alerts


# --- rule "large" ----------------------------------------------------------------------------


def _listed_volume(trades: Sequence[TradeEvent]) -> dict[tuple[str, date], int]:
    volume: dict[tuple[str, date], int] = {}
    for t in trades:
        if t.mode == _LISTED:
            key = (t.instrument, t.day)
            volume[key] = volume.get(key, 0) + t.quantity
    return volume


def _is_large(quantity_t: int, day_volume_t: int, rules: SupervisionRules) -> bool:
    if quantity_t >= rules.spoof_min_t:
        return True
    return day_volume_t > 0 and quantity_t * _PERCENT >= rules.spoof_volume_pct * day_volume_t


def _large_cancel_alerts(
    orders: Sequence[OrderEvent],
    trades: Sequence[TradeEvent],
    volume: dict[tuple[str, date], int],
    rules: SupervisionRules,
) -> list[Alert]:
    window_us = rules.spoof_cancel_s * _US
    flagged: dict[Group, list[OrderEvent]] = {}
    for o in orders:
        cancelled_us = o.cancelled_us
        if cancelled_us is None or o.filled or o.mode != _LISTED:
            continue
        if o.reason == SELF_TRADE_PREVENTED or cancelled_us - o.placed_us > window_us:
            continue
        if _is_large(o.quantity, volume.get((o.instrument, o.day), 0), rules):
            flagged.setdefault((o.instrument, o.day, o.account), []).append(o)
    if not flagged:
        return []
    index = _HolderTrades.of(trades, flagged.keys())
    return [
        _large_alert(group, found, index.while_resting(group, found), volume, rules)
        for group, found in flagged.items()
    ]


@dataclass(slots=True)
class _Timeline:
    """One holder's listed trades on one side, instrument and day: when, and where in the stream
    (both ascending, as the stream is in the order trades happened)."""

    times_us: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)

    def between(self, start_us: int, end_us: int) -> list[int]:
        low = bisect_left(self.times_us, start_us)
        return self.positions[low : bisect_right(self.times_us, end_us, lo=low)]


@dataclass(slots=True)
class _HolderTrades:
    """The listed trades of the flagged holders, by (instrument, day, holder, side they took)."""

    trades: Sequence[TradeEvent]
    by_side: dict[tuple[str, date, str, str], _Timeline]

    @classmethod
    def of(cls, trades: Sequence[TradeEvent], groups: Collection[Group]) -> _HolderTrades:
        wanted = set(groups)
        by_side: dict[tuple[str, date, str, str], _Timeline] = {}
        for position, t in enumerate(trades):
            if t.mode != _LISTED:
                continue
            instrument, day = t.instrument, t.day
            for holder, side in ((t.buyer, "buy"), (t.seller, "sell")):
                if (instrument, day, holder) not in wanted:
                    continue
                key = (instrument, day, holder, side)
                timeline = by_side.get(key)
                if timeline is None:
                    timeline = by_side[key] = _Timeline()
                timeline.times_us.append(t.at_us)
                timeline.positions.append(position)
        return cls(trades, by_side)

    def while_resting(self, group: Group, orders: list[OrderEvent]) -> list[TradeEvent]:
        """The holder's trades on the other side of any of `orders` while that order rested."""
        instrument, day, holder = group
        found: set[int] = set()
        for o in orders:
            other = "sell" if o.side == "buy" else "buy"
            timeline = self.by_side.get((instrument, day, holder, other))
            if timeline is not None and o.cancelled_us is not None:
                found.update(timeline.between(o.placed_us, o.cancelled_us))
        return [self.trades[position] for position in sorted(found)]


def _large_alert(
    group: Group,
    orders: list[OrderEvent],
    other_side: list[TradeEvent],
    volume: dict[tuple[str, date], int],
    rules: SupervisionRules,
) -> Alert:
    instrument, day, holder = group
    day_volume = volume.get((instrument, day), 0)
    large = f">= {rules.spoof_min_t:,} t"
    if day_volume:
        large += f", or >= {rules.spoof_volume_pct}% of the day's {day_volume:,} t listed volume"
    details = "; ".join(_describe_cancel(o) for o in orders[:_DETAIL_LIMIT])
    if len(orders) > _DETAIL_LIMIT:
        details += f"; and {len(orders) - _DETAIL_LIMIT} more"
    text = (
        f"{holder} placed {_count(len(orders), 'large order')} in {instrument} on "
        f"{day.isoformat()} and cancelled {'it' if len(orders) == 1 else 'each'} without a fill "
        f"within {rules.spoof_cancel_s} s (large: {large}): {details}. "
    )
    if other_side:
        text += (
            f"While they rested {holder} {_other_side_summary(orders, other_side)}: showing depth "
            f"on one side while trading on the other, the classic spoofing pattern."
        )
    else:
        text += f"{holder} did not trade on the other side while they rested."
    return Alert(
        type=AlertType.spoofing,
        severity=Severity.high if other_side else Severity.medium,
        key=f"spoofing:{instrument}:{day.isoformat()}:{holder}:large",
        instrument=instrument,
        accounts=(holder,),
        orders=tuple(o.id for o in orders),
        trades=tuple(t.id for t in other_side),
        explanation=text,
    )


def _describe_cancel(o: OrderEvent) -> str:
    assert o.cancelled_us is not None
    rest_us = o.cancelled_us - o.placed_us
    tenths = rest_us * 10 // _US
    return (
        f"{o.id} {o.side} {o.quantity:,} t at {format_fen(o.price)} cancelled after "
        f"{tenths // 10}.{tenths % 10} s"
    )


def _other_side_summary(orders: list[OrderEvent], trades: list[TradeEvent]) -> str:
    holder = orders[0].account
    bought = [t for t in trades if t.buyer == holder]
    sold = [t for t in trades if t.seller == holder]
    parts = [_trades_summary("bought", bought), _trades_summary("sold", sold)]
    return " and ".join(p for p in parts if p)


def _trades_summary(verb: str, trades: list[TradeEvent]) -> str:
    if not trades:
        return ""
    prices = sorted({t.price for t in trades})
    price = format_fen(prices[0])
    if len(prices) > 1:
        price += f"-{format_fen(prices[-1])}"
    tonnes = sum(t.quantity for t in trades)
    ids = ", ".join(t.id for t in trades)
    times = "once" if len(trades) == 1 else f"{len(trades)} times"
    return f"{verb} {times} ({tonnes:,} t at {price}: {ids})"


# --- rule "ratio" ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    placed: int = 0
    traded: int = 0
    first_orders: list[str] = field(default_factory=list)


def _ratio_alerts(orders: Sequence[OrderEvent], rules: SupervisionRules) -> list[Alert]:
    """Counts per group first (plain ints: most groups are a holder's one or two orders of a
    day), the evidence only for the groups that fire, in a second pass."""
    placed: dict[Group, int] = {}
    traded: dict[Group, int] = {}
    for o in orders:
        if o.mode != _LISTED or o.status == "rejected":
            continue
        key = (o.instrument, o.day, o.account)
        placed[key] = placed.get(key, 0) + 1
        if o.filled:
            traded[key] = traded.get(key, 0) + 1
    limit, least = rules.order_to_trade_ratio, rules.order_to_trade_min_orders
    flagged = {
        group: _Tally(n, traded.get(group, 0))
        for group, n in placed.items()
        if n >= least and n > limit * traded.get(group, 0)
    }
    if flagged:
        for o in orders:
            if o.mode != _LISTED or o.status == "rejected":
                continue
            tally = flagged.get((o.instrument, o.day, o.account))
            if tally is not None and len(tally.first_orders) < EVIDENCE_LIMIT:
                tally.first_orders.append(o.id)
    return [_ratio_alert(group, tally, rules) for group, tally in flagged.items()]


def _ratio_alert(group: Group, tally: _Tally, rules: SupervisionRules) -> Alert:
    instrument, day, holder = group
    limit = rules.order_to_trade_ratio
    if tally.traded:
        tenths = round_half_up_fen(tally.placed * 10, tally.traded)
        outcome = (
            f"{tally.traded} of them traded: {tenths // 10}.{tenths % 10} orders for each order "
            f"that traded"
        )
    else:
        outcome = "none of them traded"
    text = (
        f"{holder} placed {_count(tally.placed, 'order')} in {instrument} on {day.isoformat()} "
        f"and {outcome}, above the limit of {limit} orders per order that trades (judged from "
        f"{rules.order_to_trade_min_orders} orders a day)."
    )
    if tally.placed > len(tally.first_orders):
        text += (
            f" Too many to list: the evidence gives the first {len(tally.first_orders)} of the "
            f"{tally.placed} orders."
        )
    return Alert(
        type=AlertType.spoofing,
        severity=Severity.medium if tally.placed > 2 * limit * tally.traded else Severity.low,
        key=f"spoofing:{instrument}:{day.isoformat()}:{holder}:ratio",
        instrument=instrument,
        accounts=(holder,),
        orders=tuple(tally.first_orders),
        trades=(),
        explanation=text,
    )
