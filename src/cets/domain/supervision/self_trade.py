"""Self-trade attempts: a holder's orders that would have traded with its own orders.

DOMAIN.md, "Trading": self-trade prevention cancels the newer of two orders of one holder that
would match. One such stop is a slip; many in a day look like an attempt to trade with oneself
(a wash trade the venue caught). This module owns that rule.

Rule, per holder (the order's account), instrument and trading day:
    - an order counts when self-trade prevention stopped it: `reason == "self_trade_prevented"`
      (`SELF_TRADE_PREVENTED`), whatever its status, side or mode;
    - at least `rules.self_trade_attempts` (default 3) such orders give one alert of type
      `self_trade_attempts`, listing the holder and those orders in the order they happened;
    - severity by the count n against the threshold k: low for k <= n < 2k (a pattern to
      watch: the venue stopped every attempt, so nothing reached the market), medium from 2k,
      high from 3k (a holder that keeps trying);
    - key `self_trade_attempts:<instrument>:<day>:<holder>` (day ISO), so a second run over the
      same orders gives the same alerts.

Choices where the rules are silent (written down so they are found):
    - Orders are counted per trading day (`day`), not over a sliding 24 hours: attempts spread
      over two days do not add up.
    - An order id seen twice counts once (an order is one attempt however often it is reported).
    - Alerts come back in the order each group's first stopped order happened.
    - Times in explanations are Asia/Shanghai wall-clock times of placing, to the minute.

Cost: one pass over the orders; only stopped orders are kept. O(n).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from cets.domain.supervision.alerts import Alert, AlertType, Severity
from cets.domain.supervision.events import OrderEvent
from cets.domain.supervision.rules import SupervisionRules
from cets.domain.supervision.wording import ids_told as _ids
from cets.domain.supervision.wording import span as _span
from cets.domain.trading.orders import SELF_TRADE_PREVENTED

_Group = tuple[str, str, date]  # holder, instrument, day


def detect_self_trade_attempts(
    orders: Sequence[OrderEvent], rules: SupervisionRules
) -> list[Alert]:
    """The self-trade-attempt alerts over `orders` (in the order they happened)."""
    threshold = rules.self_trade_attempts
    assert threshold >= 1, f"self_trade_attempts {threshold}, was expected >= 1"
    stopped: dict[_Group, dict[str, OrderEvent]] = {}
    for o in orders:
        if o.reason != SELF_TRADE_PREVENTED:
            continue
        group = (o.account, o.instrument, o.day)
        found = stopped.get(group)
        if found is None:
            stopped[group] = found = {}
        found.setdefault(o.id, o)
    return [
        _alert(group, list(found.values()), threshold)
        for group, found in stopped.items()
        if len(found) >= threshold
    ]


def _severity(count: int, threshold: int) -> Severity:
    if count >= 3 * threshold:
        return Severity.high
    if count >= 2 * threshold:
        return Severity.medium
    return Severity.low


def _alert(group: _Group, stopped: list[OrderEvent], threshold: int) -> Alert:
    holder, instrument, day = group
    buys = sum(1 for o in stopped if o.side == "buy")
    sells = len(stopped) - buys
    tonnes = sum(o.quantity for o in stopped)
    explanation = (
        f"{holder} had {len(stopped)} orders stopped by self-trade prevention in {instrument} "
        f"on {day.isoformat()} (the threshold is {threshold}): {buys} buy and {sells} sell, "
        f"{tonnes:,} t placed {_span(stopped[0].placed_us, stopped[-1].placed_us)} "
        f"({_ids([o.id for o in stopped])}); each would have traded with {holder}'s own "
        f"order on the other side"
    )
    return Alert(
        type=AlertType.self_trade_attempts,
        severity=_severity(len(stopped), threshold),
        key=f"self_trade_attempts:{instrument}:{day.isoformat()}:{holder}",
        instrument=instrument,
        accounts=(holder,),
        orders=tuple(o.id for o in stopped),
        trades=(),
        explanation=explanation,
    )
