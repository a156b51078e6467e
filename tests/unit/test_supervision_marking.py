"""Marking the close: one holder's trades in the last minutes that move the closing VWAP."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from cets.domain.supervision.alerts import AlertType, Severity
from cets.domain.supervision.events import DayContext, TradeEvent
from cets.domain.supervision.marking import detect_marking_the_close
from cets.domain.supervision.rules import SupervisionRules

DAY = date(2024, 3, 4)
CEA = "CEA-2023"
RULES = SupervisionRules()  # the last 10 minutes, 100 bp
SHANGHAI = timezone(timedelta(hours=8))
CLOSE_US = int(datetime(2024, 3, 4, 15, 0, tzinfo=SHANGHAI).timestamp()) * 1_000_000
S = 1_000_000  # one second in microseconds
CONTEXT = DayContext(CEA, DAY, prev_close=6000, band_low=5400, band_high=6600, close_us=CLOSE_US)
DAYS = {(CEA, DAY): CONTEXT}


def trade(
    id: str,
    buyer: str,
    seller: str,
    quantity: int,
    price: int,
    before_close_s: int,
    mode: str = "listed",
) -> TradeEvent:
    """A trade `before_close_s` seconds before the close, its orders named after its id."""
    return TradeEvent(
        id=id,
        instrument=CEA,
        buyer=buyer,
        seller=seller,
        price=price,
        quantity=quantity,
        at_us=CLOSE_US - before_close_s * S,
        day=DAY,
        buy_order=f"{id}-b",
        sell_order=f"{id}-s",
        mode=mode,
    )


MORNING = trade("T0", "E1", "E2", 1_000, 6000, 4 * 3600)  # the day so far: 1,000 t at 60.00
# E4 buys 900 t from E5 at rising prices in the last 10 minutes: 60.00 -> 60.83.
MARKED = [
    MORNING,
    trade("T1", "E4", "E5", 300, 6150, 500),
    trade("T2", "E4", "E5", 300, 6175, 300),
    trade("T3", "E4", "E5", 300, 6200, 60),
]


def test_a_holder_buying_up_the_close_is_alerted_with_its_trades_and_orders() -> None:
    [alert] = detect_marking_the_close(MARKED, DAYS, RULES)

    assert alert.type is AlertType.marking_the_close
    assert alert.severity is Severity.low
    assert alert.key == "marking_the_close:CEA-2023:2024-03-04:E4"
    assert alert.instrument == CEA
    assert alert.accounts == ("E4",)
    assert alert.trades == ("T1", "T2", "T3")
    assert alert.orders == ("T1-b", "T2-b", "T3-b")
    assert alert.explanation == (
        "E4 bought 3 times in the last 10 minutes of CEA-2023's 2024-03-04 session (900 t at "
        "61.50-62.00), moving the close from 60.00 to 60.83 (+138 bp; alert at >= 100 bp)."
    )


def test_the_seller_to_a_holder_buying_up_the_close_is_not_accused() -> None:
    # E5 sold the same 900 t: without its trades the close is also 60.00, but a seller does not
    # push a price up.
    alerts = detect_marking_the_close(MARKED, DAYS, RULES)

    assert [a.accounts for a in alerts] == [("E4",)]


def test_a_holder_selling_down_the_close_is_alerted() -> None:
    trades = [MORNING, trade("T1", "E8", "E7", 900, 5800, 120)]

    [alert] = detect_marking_the_close(trades, DAYS, RULES)

    assert alert.accounts == ("E7",)
    assert alert.orders == ("T1-s",)
    assert alert.explanation == (
        "E7 sold once in the last 10 minutes of CEA-2023's 2024-03-04 session (900 t at 58.00), "
        "moving the close from 60.00 to 59.05 (-158 bp; alert at >= 100 bp)."
    )


def test_late_trades_that_do_not_move_the_close_are_not_alerted() -> None:
    trades = [
        MORNING,
        trade("T1", "E4", "E5", 5_000, 6000, 60),
        trade("T2", "E4", "E5", 10, 6300, 30),
    ]

    assert detect_marking_the_close(trades, DAYS, RULES) == []  # 5,010 t at 60.00 and 63.00


def test_a_large_late_move_spread_over_many_holders_is_not_one_holders_doing() -> None:
    late = [trade(f"T{i}", f"B{i}", f"S{i}", 100, 6200, 500 - i) for i in range(1, 10)]

    # Together +158 bp (60.00 -> 60.95); each buyer alone moves the close by 10 bp.
    assert detect_marking_the_close([MORNING, *late], DAYS, RULES) == []


def test_late_block_and_auction_trades_neither_enter_the_close_nor_count() -> None:
    late_blocks = [
        trade("K1", "E4", "E5", 200_000, 6600, 60, mode="block"),
        trade("A1", "E4", "E6", 50_000, 6500, 30, mode="auction"),
    ]

    assert detect_marking_the_close([MORNING, *late_blocks], DAYS, RULES) == []
    [alert] = detect_marking_the_close([*MARKED, *late_blocks], DAYS, RULES)
    assert alert.trades == ("T1", "T2", "T3")
    assert "moving the close from 60.00 to 60.83 (+138 bp" in alert.explanation


def test_the_window_starts_exactly_close_window_s_before_the_close() -> None:
    at_start = trade("T1", "E4", "E5", 300, 6260, 600)  # 62.60: exactly +100 bp
    just_before = at_start._replace(at_us=at_start.at_us - 1)

    assert len(detect_marking_the_close([MORNING, at_start], DAYS, RULES)) == 1
    assert detect_marking_the_close([MORNING, just_before], DAYS, RULES) == []
    wider = replace(RULES, close_window_s=601)
    assert len(detect_marking_the_close([MORNING, just_before], DAYS, wider)) == 1


def test_a_move_of_exactly_the_threshold_fires_and_the_threshold_is_configurable() -> None:
    trades = [MORNING, trade("T1", "E4", "E5", 300, 6260, 60)]  # 60.00 -> 60.60

    [alert] = detect_marking_the_close(trades, DAYS, RULES)

    assert "(+100 bp;" in alert.explanation
    assert detect_marking_the_close(trades, DAYS, replace(RULES, close_move_bps=101)) == []


def test_a_holder_whose_trades_are_the_whole_day_is_compared_with_the_previous_close() -> None:
    trades = [trade("T1", "E4", "E5", 100, 6100, 60)]

    [alert] = detect_marking_the_close(trades, DAYS, RULES)

    assert alert.accounts == ("E4",)
    assert "moving the close from 60.00 to 61.00 (+167 bp" in alert.explanation


def test_a_holder_buying_and_selling_at_a_high_price_paints_the_close() -> None:
    trades = [
        MORNING,
        trade("T1", "E4", "E5", 300, 6260, 90),
        trade("T2", "E6", "E4", 300, 6260, 60),
    ]

    [alert] = detect_marking_the_close(trades, DAYS, RULES)  # E6 alone moves it 63 bp

    assert alert.accounts == ("E4",)
    assert alert.trades == ("T1", "T2")
    assert alert.orders == ("T1-b", "T2-s")
    assert alert.explanation.startswith("E4 bought once and sold once in the last 10 minutes")
    assert "from 60.00 to 60.98 (+163 bp" in alert.explanation


@pytest.mark.parametrize(
    ("price", "severity"),
    [(6230, Severity.low), (6240, Severity.medium), (6470, Severity.medium), (6480, Severity.high)],
)
def test_severity_follows_the_size_of_the_move(price: int, severity: Severity) -> None:
    # 1,000 t at `price` against the morning's 1,000 t at 60.00: the move is (price - 60.00) / 2.
    trades = [MORNING, trade("T1", "E4", "E5", 1_000, price, 60)]

    [alert] = detect_marking_the_close(trades, DAYS, RULES)

    assert alert.severity is severity


def test_a_day_without_its_context_is_not_judged() -> None:
    other_day = [t._replace(day=date(2024, 3, 5)) for t in MARKED]

    assert detect_marking_the_close(other_day, DAYS, RULES) == []
    assert len(detect_marking_the_close([*other_day, *MARKED], DAYS, RULES)) == 1


def test_each_instrument_and_day_is_judged_on_its_own_trades() -> None:
    ccer = [t._replace(instrument="CCER") for t in MARKED]
    days = {**DAYS, ("CCER", DAY): replace(CONTEXT, instrument="CCER")}

    keys = [a.key for a in detect_marking_the_close([*MARKED, *ccer], days, RULES)]

    assert keys == [
        "marking_the_close:CEA-2023:2024-03-04:E4",
        "marking_the_close:CCER:2024-03-04:E4",
    ]


def test_running_the_detector_again_finds_the_same_alerts() -> None:
    trades = [*MARKED, trade("T9", "E8", "E7", 900, 5800, 20)]

    first = detect_marking_the_close(trades, DAYS, RULES)

    assert [a.accounts for a in first] == [("E4",), ("E7",)]
    assert detect_marking_the_close(trades, DAYS, RULES) == first
