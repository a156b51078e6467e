"""Wash trades: trades that move units and money without changing who really holds them.

DOMAIN.md, "Supervision": wash trades between related accounts (same actual controller). This
module owns two rules over the trade stream, both judged per instrument and trading day, both
giving alerts of type `wash_trade` that list the trades behind them in the order they happened.

Rule "related accounts". A trade whose buyer and seller have the same actual controller
(`controllers[holder]`) is a wash trade, whatever its size (rules.py: "any one fires"): the
units and the money stay in one hand.
    - A holder missing from `controllers`, or mapped to None, has no known controller: it is
      related to no one through None.
    - A trade whose buyer is its seller (self-trade prevention should make it impossible) is a
      wash trade by definition; its controller is the holder's, or the holder itself if none is
      known.
    - One alert per (instrument, day, controller, pair of accounts), listing every such trade.
      Severity high when the group holds at least `RELATED_HIGH_TRADES` (3) trades or at least
      `RELATED_HIGH_T` (10,000 t, the size of a large order in `spoof_min_t`); medium otherwise.
    - Key `wash_trade:<instrument>:<day>:<controller>:<a>:<b>`, accounts sorted, day ISO.

Rule "round trips", between accounts not related as above: A sells to B, and B sells back to A
    - within `round_trip_window_s` seconds of the first trade (inclusive), on the same day,
    - a quantity within `round_trip_quantity_pct` % of the first (|q2 - q1| x 100 <= pct x q1,
      in integers).
    A return trade is matched with the earliest open first trade of the pair that fits; each
    trade belongs to at most one round trip (a trade that closes a round trip does not open
    another, so A->B, B->A, A->B is one round trip, not two).
    - One alert per (instrument, day, pair of accounts), listing the trades of every round trip
      found. Severity by the round trips' count and volume (both legs): high from
      `ROUND_TRIP_HIGH_COUNT` (3) round trips or `ROUND_TRIP_HIGH_T` (20,000 t, about 10,000 t
      each way); medium from `ROUND_TRIP_MEDIUM_COUNT` (2) or `ROUND_TRIP_MEDIUM_T` (2,000 t);
      low otherwise (one small round trip may be a change of mind: a pattern to watch).
    - Key `wash_trade:<instrument>:<day>:round_trip:<a>:<b>`, accounts sorted, day ISO.

Choices where the rules are silent (written down so they are found):
    - Every mode is read (listed, block, auction): a block trade between two accounts of one
      controller is as much a wash trade as a listed one.
    - Trades between related accounts are not looked at again for round trips: each trade is in
      at most one alert.
    - The controller is named in the related-account alert's key and explanation, not in its
      `accounts` (a controller is not an account).
    - Alerts come back related-account alerts first (in the order of each group's first trade),
      then round trips (in the order each pair's first round trip closed). The same trades
      always give the same alerts.
    - Times in explanations are Asia/Shanghai wall-clock times, to the minute.

Cost: one pass over the trades, O(n) dict, list and deque operations. Trades that may still be
sold back wait in a list per (instrument, day, seller, buyer), oldest first; one deque of all of
them, in time order, drops each as it leaves the window, so only the window's trades are held.
A trade looks only at its own pair's open trades in the other direction and takes the first
that fits; it scans past those whose quantity does not fit, so the worst case adds, per trade,
the open trades of that one pair within the window (1,000,000 trades between only two accounts,
17,000 a day in each instrument, took 3.5 s).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Final

from cets.domain.supervision.alerts import Alert, AlertType, Severity
from cets.domain.supervision.events import TradeEvent
from cets.domain.supervision.rules import SupervisionRules
from cets.domain.supervision.wording import clock as _clock
from cets.domain.supervision.wording import count as _count
from cets.domain.supervision.wording import ids_told as _ids
from cets.domain.supervision.wording import span as _span
from cets.domain.supervision.wording import times as _times

RELATED_HIGH_TRADES: Final = 3
RELATED_HIGH_T: Final = 10_000
ROUND_TRIP_HIGH_COUNT: Final = 3
ROUND_TRIP_HIGH_T: Final = 20_000
ROUND_TRIP_MEDIUM_COUNT: Final = 2
ROUND_TRIP_MEDIUM_T: Final = 2_000
ROUND_TRIPS_TOLD: Final = 5  # round trips spelled out in an explanation; the rest are counted

_US: Final = 1_000_000
_NO_LIMIT: Final = 1 << 62  # above any quantity: with pct >= 100 no first trade is too large

_RelatedKey = tuple[str, date, str, str, str]  # instrument, day, controller, a, b (a <= b)
_PairKey = tuple[str, date, str, str]  # instrument, day, then two accounts
_Leg = tuple[int, int, TradeEvent]  # an open trade: quantity, position in the stream, trade
_RoundTrip = tuple[int, TradeEvent, int, TradeEvent]  # (position, trade) of each leg


def detect_wash_trades(
    trades: Sequence[TradeEvent],
    controllers: Mapping[str, str | None],
    rules: SupervisionRules,
) -> list[Alert]:
    """The wash-trade alerts over `trades` (in the order they happened); see the module doc."""
    assert rules.round_trip_window_s >= 0, f"round_trip_window_s {rules.round_trip_window_s}"
    assert rules.round_trip_quantity_pct >= 0, (
        f"round_trip_quantity_pct {rules.round_trip_quantity_pct}"
    )
    related: dict[_RelatedKey, list[TradeEvent]] = {}
    legs = _OpenLegs(rules.round_trip_window_s * _US, rules.round_trip_quantity_pct)
    round_trips: dict[_PairKey, list[_RoundTrip]] = {}  # keyed (.., a, b), a <= b
    for position, t in enumerate(trades):
        buyer, seller = t.buyer, t.seller
        low, high = (buyer, seller) if buyer <= seller else (seller, buyer)
        controller = controllers.get(buyer)
        if buyer == seller or (controller is not None and controller == controllers.get(seller)):
            key = (t.instrument, t.day, controller or buyer, low, high)
            group = related.get(key)
            if group is None:
                related[key] = group = []
            group.append(t)
            continue
        first = legs.sold_back(position, t)
        if first is not None:
            pair = (t.instrument, t.day, low, high)
            found = round_trips.get(pair)
            if found is None:
                round_trips[pair] = found = []
            found.append((first[1], first[2], position, t))
    alerts = [_related_alert(key, group) for key, group in related.items()]
    alerts.extend(_round_trip_alert(pair, found, rules) for pair, found in round_trips.items())
    return alerts


class _OpenLegs:
    """Trades that a later trade may still sell back, per (instrument, day, seller, buyer),
    oldest first; those older than the window of the latest trade seen are dropped."""

    def __init__(self, window_us: int, pct: int) -> None:
        self.window_us = window_us
        self.pct = pct
        self.by_pair: dict[_PairKey, list[_Leg]] = {}
        self.expiry: deque[tuple[int, int, _PairKey]] = deque()  # (at_us, position, key)

    def sold_back(self, position: int, t: TradeEvent) -> _Leg | None:
        """The open leg that `t` sells back (and closes), or None, and then `t` stays open."""
        self._expire(t.at_us - self.window_us)
        # Open trades in which this trade's buyer sold to its seller: this may be the way back.
        back_key = (t.instrument, t.day, t.buyer, t.seller)
        back = self.by_pair.get(back_key)
        if back is not None:
            # |q - q1| x 100 <= pct x q1, solved for q1 once rather than tested per leg.
            quantity, pct = t.quantity, self.pct
            low = -(-100 * quantity // (100 + pct))
            high = 100 * quantity // (100 - pct) if pct < 100 else _NO_LIMIT
            for index, leg in enumerate(back):
                if low <= leg[0] <= high:
                    del back[index]
                    if not back:
                        del self.by_pair[back_key]
                    return leg
        own_key = (t.instrument, t.day, t.seller, t.buyer)
        own = self.by_pair.get(own_key)
        if own is None:
            self.by_pair[own_key] = [(t.quantity, position, t)]
        else:
            own.append((t.quantity, position, t))
        self.expiry.append((t.at_us, position, own_key))
        return None

    def _expire(self, oldest_us: int) -> None:
        """Drop the legs opened before `oldest_us`: no later trade can sell them back. Each is
        the oldest of its pair's open legs, unless a round trip closed it already."""
        expiry, by_pair = self.expiry, self.by_pair
        while expiry and expiry[0][0] < oldest_us:
            _, position, key = expiry.popleft()
            legs = by_pair.get(key)
            if legs and legs[0][1] == position:
                del legs[0]
                if not legs:
                    del by_pair[key]


# --- explanations ------------------------------------------------------------------------------


def _related_alert(key: _RelatedKey, group: list[TradeEvent]) -> Alert:
    instrument, day, controller, low, high = key
    tonnes = sum(t.quantity for t in group)
    severity = (
        Severity.high
        if len(group) >= RELATED_HIGH_TRADES or tonnes >= RELATED_HIGH_T
        else Severity.medium
    )
    who = (
        f"{low} traded with itself"
        if low == high
        else f"{low} and {high} (both controlled by {controller}) traded"
    )
    explanation = (
        f"{who} {_times(len(group))} in {instrument} on {day.isoformat()}: {tonnes:,} t "
        f"{_span(group[0].at_us, group[-1].at_us)} ({_ids([t.id for t in group])}); "
        f"the units and the money stayed with one controller"
    )
    return Alert(
        type=AlertType.wash_trade,
        severity=severity,
        key=f"wash_trade:{instrument}:{day.isoformat()}:{controller}:{low}:{high}",
        instrument=instrument,
        accounts=(low,) if low == high else (low, high),
        orders=_orders(group),
        trades=tuple(t.id for t in group),
        explanation=explanation,
    )


def _round_trip_alert(pair: _PairKey, found: list[_RoundTrip], rules: SupervisionRules) -> Alert:
    instrument, day, low, high = pair
    legs = sorted([(p1, t1) for p1, t1, _, _ in found] + [(p2, t2) for _, _, p2, t2 in found])
    trades = [t for _, t in legs]
    tonnes = sum(t.quantity for t in trades)
    count = len(found)
    if count >= ROUND_TRIP_HIGH_COUNT or tonnes >= ROUND_TRIP_HIGH_T:
        severity = Severity.high
    elif count >= ROUND_TRIP_MEDIUM_COUNT or tonnes >= ROUND_TRIP_MEDIUM_T:
        severity = Severity.medium
    else:
        severity = Severity.low
    told = "; ".join(
        f"{t1.seller} sold {t1.quantity:,} t to {t1.buyer} at {_clock(t1.at_us)} ({t1.id}), "
        f"{t2.seller} sold {t2.quantity:,} t back at {_clock(t2.at_us)} ({t2.id})"
        for _, t1, _, t2 in found[:ROUND_TRIPS_TOLD]
    )
    if count > ROUND_TRIPS_TOLD:
        told += f"; and {count - ROUND_TRIPS_TOLD} more"
    explanation = (
        f"{low} and {high} (no common controller known) made {_count(count, 'round trip')} "
        f"in {instrument} on {day.isoformat()}, each sold back within "
        f"{_window_text(rules.round_trip_window_s)} at a quantity within "
        f"{rules.round_trip_quantity_pct}% of the first: {told}; {tonnes:,} t in all "
        f"{_span(trades[0].at_us, trades[-1].at_us)}"
    )
    return Alert(
        type=AlertType.wash_trade,
        severity=severity,
        key=f"wash_trade:{instrument}:{day.isoformat()}:round_trip:{low}:{high}",
        instrument=instrument,
        accounts=(low, high),
        orders=_orders(trades),
        trades=tuple(t.id for t in trades),
        explanation=explanation,
    )


def _orders(trades: list[TradeEvent]) -> tuple[str, ...]:
    """The orders behind `trades` (buy order, then sell order of each), once each, known only."""
    ids = (o for t in trades for o in (t.buy_order, t.sell_order) if o)
    return tuple(dict.fromkeys(ids))


def _window_text(seconds: int) -> str:
    if seconds % 60:
        return f"{seconds} s"
    return f"{seconds // 60} min"
