"""Self-trade attempts: a holder's orders stopped by self-trade prevention, counted per day."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from cets.domain.supervision.alerts import AlertType, Severity
from cets.domain.supervision.events import OrderEvent
from cets.domain.supervision.rules import SupervisionRules
from cets.domain.supervision.self_trade import detect_self_trade_attempts
from cets.domain.trading.calendar import SHANGHAI

MONDAY = date(2024, 3, 4)
TUESDAY = date(2024, 3, 5)
RULES = SupervisionRules()  # self_trade_attempts = 3


def us(hh: int, mm: int, day: date = MONDAY) -> int:
    local = datetime.combine(day, time(hh, mm), tzinfo=SHANGHAI)
    return (local - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def order(
    id: str,
    account: str,
    at: tuple[int, int],
    *,
    side: str = "buy",
    quantity: int = 100,
    reason: str | None = "self_trade_prevented",
    day: date = MONDAY,
    instrument: str = "CEA-2023",
) -> OrderEvent:
    placed_us = us(*at, day=day)
    return OrderEvent(
        id=id,
        instrument=instrument,
        account=account,
        side=side,
        price=6_000,
        quantity=quantity,
        placed_us=placed_us,
        day=day,
        status="cancelled" if reason else "open",
        reason=reason,
        cancelled_us=placed_us if reason else None,
    )


def stopped(account: str, count: int, *, day: date = MONDAY, prefix: str = "O") -> list[OrderEvent]:
    return [order(f"{prefix}{i}", account, (9, 31 + i), day=day) for i in range(1, count + 1)]


def test_three_stopped_orders_of_one_holder_in_a_day_are_one_alert_with_those_orders() -> None:
    orders = [
        order("O1", "E2", (9, 31), side="buy", quantity=500),
        order("O2", "E3", (9, 32)),  # another holder
        order("O3", "E2", (9, 40), reason=None),  # an ordinary order
        order("O4", "E2", (9, 45), side="sell", quantity=400),
        order("O5", "E2", (9, 50), reason="cancelled_by_holder"),
        order("O6", "E2", (10, 2), side="buy", quantity=600),
    ]

    [alert] = detect_self_trade_attempts(orders, RULES)

    assert alert.type is AlertType.self_trade_attempts
    assert alert.severity is Severity.low
    assert alert.key == "self_trade_attempts:CEA-2023:2024-03-04:E2"
    assert alert.instrument == "CEA-2023"
    assert alert.accounts == ("E2",)
    assert alert.orders == ("O1", "O4", "O6")
    assert alert.trades == ()
    assert alert.explanation.startswith(
        "E2 had 3 orders stopped by self-trade prevention in CEA-2023 on 2024-03-04 "
        "(the threshold is 3): 2 buy and 1 sell, 1,500 t placed between 09:31 and 10:02 "
        "(O1, O4, O6)"
    )


def test_stopped_orders_below_the_threshold_raise_no_alert() -> None:
    assert detect_self_trade_attempts(stopped("E2", 2), RULES) == []


def test_stopped_orders_spread_over_two_days_raise_no_alert() -> None:
    orders = stopped("E2", 2) + stopped("E2", 2, day=TUESDAY, prefix="P")

    assert detect_self_trade_attempts(orders, RULES) == []


def test_stopped_orders_in_two_instruments_are_counted_apart() -> None:
    orders = [
        order("O1", "E2", (9, 31)),
        order("O2", "E2", (9, 32), instrument="CEA-2024"),
        order("O3", "E2", (9, 33)),
        order("O4", "E2", (9, 34), instrument="CEA-2024"),
    ]

    assert detect_self_trade_attempts(orders, RULES) == []


def test_orders_cancelled_for_other_reasons_are_not_counted() -> None:
    orders = [
        order("O1", "E2", (9, 31), reason="cancelled_by_holder"),
        order("O2", "E2", (9, 32), reason="expired"),
        order("O3", "E2", (9, 33)),
        order("O4", "E2", (9, 34)),
    ]

    assert detect_self_trade_attempts(orders, RULES) == []


def test_an_order_reported_twice_counts_once() -> None:
    first, second = stopped("E2", 2)

    assert detect_self_trade_attempts([first, second, first], RULES) == []


def test_severity_grows_with_the_count_against_the_threshold() -> None:
    severities = [
        detect_self_trade_attempts(stopped("E2", n), RULES)[0].severity for n in (3, 5, 6, 8, 9)
    ]

    assert severities == [
        Severity.low,
        Severity.low,
        Severity.medium,
        Severity.medium,
        Severity.high,
    ]


def test_each_holder_and_day_gets_its_own_alert_in_the_order_they_began() -> None:
    orders = (
        stopped("E3", 3, prefix="Q") + stopped("E2", 3) + stopped("E2", 3, day=TUESDAY, prefix="P")
    )

    alerts = detect_self_trade_attempts(orders, RULES)

    assert [(a.key, a.orders) for a in alerts] == [
        ("self_trade_attempts:CEA-2023:2024-03-04:E3", ("Q1", "Q2", "Q3")),
        ("self_trade_attempts:CEA-2023:2024-03-04:E2", ("O1", "O2", "O3")),
        ("self_trade_attempts:CEA-2023:2024-03-05:E2", ("P1", "P2", "P3")),
    ]


def test_a_second_run_over_the_same_orders_gives_equal_alerts() -> None:
    orders = stopped("E2", 4) + stopped("E3", 3, prefix="Q")

    first = detect_self_trade_attempts(orders, RULES)

    assert len(first) == 2
    assert detect_self_trade_attempts(orders, RULES) == first


def test_the_threshold_comes_from_the_rules() -> None:
    orders = stopped("E2", 2)

    assert detect_self_trade_attempts(orders, RULES) == []
    [alert] = detect_self_trade_attempts(orders, replace(RULES, self_trade_attempts=2))
    assert alert.orders == ("O1", "O2")
    assert detect_self_trade_attempts(stopped("E2", 3), replace(RULES, self_trade_attempts=4)) == []
