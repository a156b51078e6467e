"""Every detector over one stretch of history, and which of their alerts can be told yet.

`detect_all` runs the detectors over the orders and trades of some trading days (in the order
they happened), the days' bands, the holders' actual controllers and the holdings now. Used in
two ways by the service:

- **batch**, over closed days of history: every alert;
- **live**, over a day still trading: the alerts a trade or an order can prove as it happens
  (wash trades, self-trade attempts, large orders cancelled before they can trade, prices at
  the band limits or jumping). The rules that judge a whole day (marking the close, the
  order-to-trade ratio, a holder's share of the day's volume) wait for the day's close: a share
  of a day half gone is not the day's share. So do the parts of a rule measured against the
  day: an order is "large" for spoofing by its own size (`spoof_min_t`) while the day trades,
  and by its share of the day's volume (`spoof_volume_pct`) only once the day is closed.
  The service names the day still trading (none once its 15:00 close has passed), and its
  events are judged with those rules left out.

Holdings concentration is judged only in a market of at least `holdings_min_holders` holders:
in a market of three, each holds a third, and that says nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TypeVar

from cets.domain.supervision.alerts import Alert, AlertType
from cets.domain.supervision.concentration import (
    detect_holdings_concentration,
    detect_volume_concentration,
)
from cets.domain.supervision.events import DayContext, Holdings, OrderEvent, TradeEvent
from cets.domain.supervision.marking import detect_marking_the_close
from cets.domain.supervision.price import detect_price_spikes
from cets.domain.supervision.rules import SupervisionRules
from cets.domain.supervision.self_trade import detect_self_trade_attempts
from cets.domain.supervision.spoofing import detect_spoofing
from cets.domain.supervision.wash import detect_wash_trades


@dataclass(frozen=True, slots=True)
class History:
    orders: Sequence[OrderEvent]
    trades: Sequence[TradeEvent]
    days: Mapping[tuple[str, date], DayContext]
    controllers: Mapping[str, str | None]
    holdings: Sequence[Holdings] = field(default_factory=tuple)


Detector = Callable[[History, SupervisionRules], list[Alert]]

DETECTORS: dict[str, Detector] = {
    "wash_trade": lambda h, r: detect_wash_trades(h.trades, h.controllers, r),
    "self_trade_attempts": lambda h, r: detect_self_trade_attempts(h.orders, r),
    "spoofing": lambda h, r: detect_spoofing(h.orders, h.trades, r),
    "marking_the_close": lambda h, r: detect_marking_the_close(h.trades, h.days, r),
    "price_spike": lambda h, r: detect_price_spikes(h.trades, h.days, r),
    "volume_concentration": lambda h, r: detect_volume_concentration(h.trades, r),
    "holdings_concentration": lambda h, r: _holdings(h.holdings, r),
}


def _holdings(holdings: Sequence[Holdings], rules: SupervisionRules) -> list[Alert]:
    alerts = []
    for asset in holdings:
        if len(asset.by_holder) >= rules.holdings_min_holders:
            alerts.extend(detect_holdings_concentration(asset, rules))
    return alerts


def alert_day(alert: Alert) -> date | None:
    """The trading day an alert is about (its key names it), None for one about holdings."""
    for part in alert.key.split(":"):
        if len(part) == 10 and part[4] == "-" and part[7] == "-":
            try:
                return date.fromisoformat(part)
            except ValueError:
                continue
    return None


def judges_whole_day(alert: Alert) -> bool:
    """Whether the alert's rule judges a whole trading day (so waits for its close)."""
    return (
        alert.type == AlertType.marking_the_close
        or (alert.type == AlertType.concentration and ":volume:" in alert.key)
        or (alert.type == AlertType.spoofing and alert.key.endswith(":ratio"))
    )


def detect_all(
    history: History, rules: SupervisionRules, trading_day: date | None = None
) -> list[Alert]:
    """Every alert the detectors find in `history`, in the order of `DETECTORS`. The events of
    `trading_day` (a day still trading: the last of the history, its events the last) are
    judged without the rules that need the whole day."""
    if trading_day is None:
        return _run(history, rules)
    orders, live_orders = _split(history.orders, trading_day)
    trades, live_trades = _split(history.trades, trading_day)
    if not live_orders and not live_trades:
        return _run(history, rules)
    done = replace(history, orders=orders, trades=trades)
    trading = replace(history, orders=live_orders, trades=live_trades, holdings=())
    so_far = replace(rules, spoof_volume_pct=_NEVER)
    live = [a for a in _run(trading, so_far) if not judges_whole_day(a)]
    return _run(done, rules) + live


_NEVER = 1 << 40  # a percentage no order reaches


def _run(history: History, rules: SupervisionRules) -> list[Alert]:
    return [a for detect in DETECTORS.values() for a in detect(history, rules)]


_E = TypeVar("_E", OrderEvent, TradeEvent)


def _split(events: Sequence[_E], day: date) -> tuple[Sequence[_E], Sequence[_E]]:
    """The events before `day` and those of `day` (and after), events being in time order."""
    i = len(events)
    while i and events[i - 1].day >= day:
        i -= 1
    return events[:i], events[i:]
