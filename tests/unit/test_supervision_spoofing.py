"""Spoofing: large orders cancelled before they can trade, and the order-to-trade ratio."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

from cets.domain.supervision.alerts import AlertType, Severity
from cets.domain.supervision.events import OrderEvent, TradeEvent
from cets.domain.supervision.rules import SupervisionRules
from cets.domain.supervision.spoofing import detect_spoofing

DAY = date(2024, 3, 4)
CEA = "CEA-2023"
RULES = SupervisionRules()
SHANGHAI = timezone(timedelta(hours=8))
OPEN_US = int(datetime(2024, 3, 4, 10, 0, tzinfo=SHANGHAI).timestamp()) * 1_000_000
S = 1_000_000  # one second in microseconds


def order(
    id: str,
    account: str,
    side: str,
    quantity: int,
    placed_s: int,
    cancelled_s: int | None = None,
    *,
    filled: int = 0,
    reason: str | None = None,
    status: str | None = None,
    mode: str = "listed",
) -> OrderEvent:
    if status is None:
        status = "cancelled" if cancelled_s is not None else ("filled" if filled else "open")
    return OrderEvent(
        id=id,
        instrument=CEA,
        account=account,
        side=side,
        price=6150,
        quantity=quantity,
        placed_us=OPEN_US + placed_s * S,
        day=DAY,
        filled=filled,
        status=status,
        reason=reason,
        cancelled_us=None if cancelled_s is None else OPEN_US + cancelled_s * S,
        mode=mode,
    )


def trade(
    id: str, buyer: str, seller: str, quantity: int, price: int, at_s: int, mode: str = "listed"
) -> TradeEvent:
    return TradeEvent(
        id=id,
        instrument=CEA,
        buyer=buyer,
        seller=seller,
        price=price,
        quantity=quantity,
        at_us=OPEN_US + at_s * S,
        day=DAY,
        mode=mode,
    )


# The day's listed volume is 1,900 t; E4 shows 20,000 t and 15,000 t to buy, cancels both within
# seconds, and sells while each rests.
TRADES = [
    trade("T0", "E1", "E2", 1_000, 6000, 1),
    trade("T1", "E9", "E4", 500, 6160, 105),  # E4 sells while O1 rests
    trade("T2", "E4", "E8", 100, 6140, 106),  # E4 buys: same side as its large orders
    trade("T4", "E9", "E4", 200, 6170, 122),  # E4 sells while O3 rests
    trade("T3", "E9", "E4", 100, 6170, 130),  # after O3 was cancelled
]
SPOOF_ORDERS = [
    order("O1", "E4", "buy", 20_000, 100, 112),
    order("O2", "E7", "buy", 100, 101, 102),  # small and fast: not large
    order("O3", "E4", "buy", 15_000, 120, 125),
]


def test_large_orders_cancelled_fast_while_the_holder_sells_are_one_high_alert() -> None:
    [alert] = detect_spoofing(SPOOF_ORDERS, TRADES, RULES)

    assert alert.type is AlertType.spoofing
    assert alert.severity is Severity.high
    assert alert.key == "spoofing:CEA-2023:2024-03-04:E4:large"
    assert alert.instrument == CEA
    assert alert.accounts == ("E4",)
    assert alert.orders == ("O1", "O3")
    assert alert.trades == ("T1", "T4")
    assert alert.explanation == (
        "E4 placed 2 large orders in CEA-2023 on 2024-03-04 and cancelled each without a fill "
        "within 60 s (large: >= 10,000 t, or >= 20% of the day's 1,900 t listed volume): "
        "O1 buy 20,000 t at 61.50 cancelled after 12.0 s; O3 buy 15,000 t at 61.50 cancelled "
        "after 5.0 s. While they rested E4 sold 2 times (700 t at 61.60-61.70: T1, T4): showing "
        "depth on one side while trading on the other, the classic spoofing pattern."
    )


def test_large_fast_cancels_without_trades_on_the_other_side_are_a_medium_alert() -> None:
    [alert] = detect_spoofing([order("O1", "E4", "sell", 20_000, 100, 110)], TRADES[:1], RULES)

    assert alert.severity is Severity.medium
    assert alert.orders == ("O1",)
    assert alert.trades == ()
    assert "cancelled it without a fill" in alert.explanation
    assert "E4 did not trade on the other side while they rested." in alert.explanation


def test_a_large_order_cancelled_after_a_long_rest_is_not_spoofing() -> None:
    rested = [order("O1", "E4", "buy", 20_000, 100, 161)]  # 61 s > 60 s

    assert detect_spoofing(rested, TRADES, RULES) == []


def test_the_cancel_window_is_inclusive_and_configurable() -> None:
    at_limit = [order("O1", "E4", "buy", 20_000, 100, 160)]  # exactly 60 s

    assert len(detect_spoofing(at_limit, TRADES, RULES)) == 1
    assert detect_spoofing(at_limit, TRADES, replace(RULES, spoof_cancel_s=59)) == []


def test_a_large_order_cancelled_after_a_partial_fill_is_not_spoofing() -> None:
    partly = [order("O1", "E4", "buy", 20_000, 100, 105, filled=10)]

    assert detect_spoofing(partly, TRADES, RULES) == []


def test_small_fast_cancels_are_not_spoofing() -> None:
    small = [order(f"O{i}", "E4", "buy", 300, 100 + i, 101 + i) for i in range(10)]

    assert detect_spoofing(small, TRADES, RULES) == []  # 300 t < 20% of 1,900 t


def test_an_order_is_large_by_its_share_of_the_days_listed_volume() -> None:
    share = [order("O1", "E4", "buy", 380, 100, 101), order("O2", "E5", "buy", 379, 100, 101)]

    [alert] = detect_spoofing(share, TRADES, RULES)  # 380 t = 20% of 1,900 t; 379 t is less

    assert alert.orders == ("O1",)
    assert detect_spoofing(share, TRADES, replace(RULES, spoof_volume_pct=21)) == []


def test_block_trades_do_not_count_in_the_days_listed_volume() -> None:
    with_block = [*TRADES, trade("B1", "E1", "E2", 200_000, 6000, 50, mode="block")]
    share = [order("O1", "E4", "buy", 380, 100, 101)]

    assert [a.orders for a in detect_spoofing(share, with_block, RULES)] == [("O1",)]


def test_without_listed_volume_only_the_size_in_tonnes_makes_an_order_large() -> None:
    fast = [order("O1", "E4", "buy", 9_999, 100, 101), order("O2", "E5", "buy", 10_000, 100, 101)]

    assert [a.orders for a in detect_spoofing(fast, [], RULES)] == [("O2",)]
    assert detect_spoofing(fast, [], replace(RULES, spoof_min_t=10_001)) == []


def test_a_self_trade_prevention_stop_is_not_the_holders_cancel() -> None:
    stopped = [order("O1", "E4", "buy", 20_000, 100, 100, reason="self_trade_prevented")]

    assert detect_spoofing(stopped, TRADES, RULES) == []


def test_block_quotes_are_not_read() -> None:
    block = [order("Q1", "E4", "sell", 200_000, 100, 101, mode="block")]

    assert detect_spoofing(block, TRADES, RULES) == []


def test_only_trades_on_the_other_side_while_the_order_rested_are_evidence() -> None:
    sell = [order("O1", "E4", "sell", 20_000, 100, 112)]  # T2 (E4 buys at 106 s) is the only one

    [alert] = detect_spoofing(sell, TRADES, RULES)

    assert alert.trades == ("T2",)
    assert "While they rested E4 bought once (100 t at 61.40: T2)" in alert.explanation


def test_trades_at_the_instants_an_order_was_placed_and_cancelled_count_as_while_it_rested() -> (
    None
):
    edges = [
        trade("T5", "E9", "E4", 10, 6150, 199),
        trade("T6", "E9", "E4", 20, 6150, 200),  # as O1 is placed
        trade("T7", "E9", "E4", 30, 6150, 210),  # as O1 is cancelled
        trade("T8", "E9", "E4", 40, 6150, 211),
    ]

    [alert] = detect_spoofing([order("O1", "E4", "buy", 20_000, 200, 210)], edges, RULES)

    assert alert.trades == ("T6", "T7")


def test_each_holder_instrument_and_day_is_its_own_alert() -> None:
    other_day = order("O9", "E4", "buy", 20_000, 100, 101)._replace(day=date(2024, 3, 5))
    orders = [*SPOOF_ORDERS, order("O8", "E5", "sell", 12_000, 100, 101), other_day]

    keys = [a.key for a in detect_spoofing(orders, TRADES, RULES)]

    assert keys == [
        "spoofing:CEA-2023:2024-03-04:E4:large",
        "spoofing:CEA-2023:2024-03-04:E5:large",
        "spoofing:CEA-2023:2024-03-05:E4:large",
    ]


def test_running_the_detector_again_finds_the_same_alerts() -> None:
    many = [order(f"R{i}", "E6", "sell", 10, 200 + i, 201 + i) for i in range(60)]
    orders = [*SPOOF_ORDERS, *many]

    first = detect_spoofing(orders, TRADES, RULES)

    assert [a.key for a in first] == [
        "spoofing:CEA-2023:2024-03-04:E4:large",
        "spoofing:CEA-2023:2024-03-04:E6:ratio",
    ]
    assert detect_spoofing(orders, TRADES, RULES) == first


# --- order-to-trade ratio --------------------------------------------------------------------


def quotes(account: str, placed: int, traded: int) -> list[OrderEvent]:
    """`placed` small orders of `account`, the first `traded` of them filled."""
    return [
        order(f"{account}-{i}", account, "buy", 10, 200 + i, filled=10 if i < traded else 0)
        for i in range(placed)
    ]


def test_many_orders_of_which_few_trade_are_a_ratio_alert() -> None:
    orders = quotes("E4", 60, 2)  # 30 orders per order that trades > 20

    [alert] = detect_spoofing(orders, TRADES, RULES)

    assert alert.key == "spoofing:CEA-2023:2024-03-04:E4:ratio"
    assert alert.severity is Severity.low
    assert alert.accounts == ("E4",)
    assert alert.orders == tuple(o.id for o in orders)
    assert alert.trades == ()
    assert alert.explanation == (
        "E4 placed 60 orders in CEA-2023 on 2024-03-04 and 2 of them traded: 30.0 orders for "
        "each order that traded, above the limit of 20 orders per order that trades (judged "
        "from 50 orders a day)."
    )


def test_many_orders_that_mostly_trade_are_not_a_ratio_alert() -> None:
    assert detect_spoofing(quotes("E4", 500, 400), TRADES, RULES) == []


def test_the_ratio_must_exceed_the_limit() -> None:
    assert detect_spoofing(quotes("E4", 100, 5), TRADES, RULES) == []  # exactly 20
    assert len(detect_spoofing(quotes("E4", 101, 5), TRADES, RULES)) == 1
    assert (
        detect_spoofing(quotes("E4", 101, 5), TRADES, replace(RULES, order_to_trade_ratio=21)) == []
    )


def test_the_ratio_is_judged_only_from_the_minimum_number_of_orders() -> None:
    assert detect_spoofing(quotes("E4", 49, 0), TRADES, RULES) == []

    [alert] = detect_spoofing(quotes("E4", 50, 0), TRADES, RULES)

    assert alert.severity is Severity.medium  # nothing traded: beyond twice the limit
    assert "and none of them traded" in alert.explanation
    fewer = replace(RULES, order_to_trade_min_orders=51)
    assert detect_spoofing(quotes("E4", 50, 0), TRADES, fewer) == []


def test_the_ratio_severity_rises_above_twice_the_limit() -> None:
    [at_twice] = detect_spoofing(quotes("E4", 80, 2), TRADES, RULES)  # 40 = 2 x 20
    [above] = detect_spoofing(quotes("E4", 82, 2), TRADES, RULES)  # 41

    assert at_twice.severity is Severity.low
    assert above.severity is Severity.medium


def test_a_ratio_alert_over_many_orders_lists_the_first_hundred_and_says_so() -> None:
    orders = quotes("E4", 150, 1)

    [alert] = detect_spoofing(orders, TRADES, RULES)

    assert alert.orders == tuple(o.id for o in orders[:100])
    assert alert.explanation.endswith(
        "Too many to list: the evidence gives the first 100 of the 150 orders."
    )


def test_rejected_orders_do_not_count_in_the_ratio() -> None:
    rejected = [
        o._replace(id=f"X{i}", status="rejected") for i, o in enumerate(quotes("E4", 30, 0))
    ]
    orders = [*quotes("E4", 30, 0), *rejected]  # 30 placed, 30 refused

    assert detect_spoofing(orders, TRADES, RULES) == []
