"""Wash trades: trades between accounts of one controller, and round trips between two accounts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from cets.domain.supervision.alerts import AlertType, Severity
from cets.domain.supervision.events import TradeEvent
from cets.domain.supervision.rules import SupervisionRules
from cets.domain.supervision.wash import detect_wash_trades
from cets.domain.trading.calendar import SHANGHAI

MONDAY = date(2024, 3, 4)
TUESDAY = date(2024, 3, 5)
RULES = SupervisionRules()
# E2 and E3 belong to group G1; E4 to G2; E5 and E6 have no known controller; E7 is not listed.
CONTROLLERS: dict[str, str | None] = {"E2": "G1", "E3": "G1", "E4": "G2", "E5": None, "E6": None}


def us(hh: int, mm: int, ss: int = 0, day: date = MONDAY) -> int:
    local = datetime.combine(day, time(hh, mm, ss), tzinfo=SHANGHAI)
    return (local - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def trade(
    id: str,
    seller: str,
    buyer: str,
    quantity: int,
    at: tuple[int, int] | tuple[int, int, int],
    *,
    day: date = MONDAY,
    instrument: str = "CEA-2023",
) -> TradeEvent:
    return TradeEvent(
        id=id,
        instrument=instrument,
        buyer=buyer,
        seller=seller,
        price=6_000,
        quantity=quantity,
        at_us=us(*at, day=day),
        day=day,
        buy_order=f"B-{id}",
        sell_order=f"S-{id}",
    )


# --- related accounts ------------------------------------------------------------------------


def test_trades_between_accounts_of_one_controller_are_one_alert_with_those_trades() -> None:
    trades = [
        trade("T1", "E2", "E3", 500, (9, 31)),
        trade("T2", "E4", "E2", 700, (9, 35)),  # E2 with an unrelated holder
        trade("T3", "E3", "E2", 400, (9, 50)),
        trade("T4", "E5", "E6", 100, (9, 55)),
        trade("T5", "E2", "E3", 600, (10, 2)),
    ]

    [alert] = detect_wash_trades(trades, CONTROLLERS, RULES)

    assert alert.type is AlertType.wash_trade
    assert alert.severity is Severity.high  # 3 trades
    assert alert.key == "wash_trade:CEA-2023:2024-03-04:G1:E2:E3"
    assert alert.instrument == "CEA-2023"
    assert alert.accounts == ("E2", "E3")
    assert alert.trades == ("T1", "T3", "T5")
    assert alert.orders == ("B-T1", "S-T1", "B-T3", "S-T3", "B-T5", "S-T5")
    assert alert.explanation.startswith(
        "E2 and E3 (both controlled by G1) traded 3 times in CEA-2023 on 2024-03-04: "
        "1,500 t between 09:31 and 10:02"
    )


def test_one_small_trade_between_related_accounts_is_a_medium_alert() -> None:
    [alert] = detect_wash_trades([trade("T1", "E3", "E2", 500, (9, 31))], CONTROLLERS, RULES)

    assert alert.severity is Severity.medium
    assert alert.trades == ("T1",)
    assert "traded once in CEA-2023 on 2024-03-04: 500 t at 09:31" in alert.explanation


def test_one_large_trade_between_related_accounts_is_a_high_alert() -> None:
    [alert] = detect_wash_trades([trade("T1", "E3", "E2", 10_000, (13, 5))], CONTROLLERS, RULES)

    assert alert.severity is Severity.high


def test_related_accounts_that_trade_only_with_third_parties_raise_no_alert() -> None:
    trades = [
        trade("T1", "E2", "E4", 500, (9, 31)),
        trade("T2", "E4", "E3", 500, (9, 32)),
        trade("T3", "E3", "E5", 300, (9, 40)),
        trade("T4", "E7", "E2", 300, (9, 41)),
    ]

    assert detect_wash_trades(trades, CONTROLLERS, RULES) == []


def test_accounts_without_a_known_controller_are_not_related_through_none() -> None:
    trades = [
        trade("T1", "E5", "E6", 500, (9, 31)),  # both mapped to None
        trade("T2", "E7", "E8", 500, (9, 32)),  # both missing from the map
        trade("T3", "E5", "E7", 500, (9, 33)),
    ]

    assert detect_wash_trades(trades, CONTROLLERS, RULES) == []


def test_a_trade_of_a_holder_with_itself_is_a_wash_trade() -> None:
    [alert] = detect_wash_trades([trade("T1", "E7", "E7", 200, (9, 31))], CONTROLLERS, RULES)

    assert alert.key == "wash_trade:CEA-2023:2024-03-04:E7:E7:E7"
    assert alert.accounts == ("E7",)
    assert alert.trades == ("T1",)


def test_related_trades_are_judged_per_instrument_and_day() -> None:
    trades = [
        trade("T1", "E2", "E3", 500, (9, 31)),
        trade("T2", "E2", "E3", 500, (9, 32), instrument="CEA-2024"),
        trade("T3", "E3", "E2", 500, (9, 33), day=TUESDAY),
    ]

    alerts = detect_wash_trades(trades, CONTROLLERS, RULES)

    assert [(a.key, a.trades) for a in alerts] == [
        ("wash_trade:CEA-2023:2024-03-04:G1:E2:E3", ("T1",)),
        ("wash_trade:CEA-2024:2024-03-04:G1:E2:E3", ("T2",)),
        ("wash_trade:CEA-2023:2024-03-05:G1:E2:E3", ("T3",)),
    ]


# --- round trips -----------------------------------------------------------------------------


def test_a_sale_sold_back_within_the_window_at_a_like_quantity_is_a_round_trip() -> None:
    trades = [
        trade("T1", "E5", "E6", 500, (9, 31)),
        trade("T2", "E5", "E4", 480, (9, 35)),  # same seller, another buyer
        trade("T3", "E6", "E5", 480, (9, 40)),
    ]

    [alert] = detect_wash_trades(trades, CONTROLLERS, RULES)

    assert alert.type is AlertType.wash_trade
    assert alert.severity is Severity.low
    assert alert.key == "wash_trade:CEA-2023:2024-03-04:round_trip:E5:E6"
    assert alert.accounts == ("E5", "E6")
    assert alert.trades == ("T1", "T3")
    assert alert.orders == ("B-T1", "S-T1", "B-T3", "S-T3")
    assert "E5 and E6 (no common controller known) made 1 round trip in CEA-2023" in (
        alert.explanation
    )
    assert "E5 sold 500 t to E6 at 09:31 (T1), E6 sold 480 t back at 09:40 (T3)" in (
        alert.explanation
    )
    assert "980 t in all between 09:31 and 09:40" in alert.explanation


def test_a_sells_to_b_and_b_sells_to_c_is_not_a_round_trip() -> None:
    trades = [trade("T1", "E5", "E6", 500, (9, 31)), trade("T2", "E6", "E7", 500, (9, 32))]

    assert detect_wash_trades(trades, CONTROLLERS, RULES) == []


def test_a_round_trip_outside_the_window_is_not_reported() -> None:
    trades = [trade("T1", "E5", "E6", 500, (9, 31)), trade("T2", "E6", "E5", 500, (10, 1, 1))]

    assert detect_wash_trades(trades, CONTROLLERS, RULES) == []


def test_a_round_trip_at_the_end_of_the_window_is_reported() -> None:
    trades = [trade("T1", "E5", "E6", 500, (9, 31)), trade("T2", "E6", "E5", 500, (10, 1))]

    [alert] = detect_wash_trades(trades, CONTROLLERS, RULES)

    assert alert.trades == ("T1", "T2")


def test_a_round_trip_with_a_very_different_quantity_is_not_reported() -> None:
    trades = [trade("T1", "E5", "E6", 500, (9, 31)), trade("T2", "E6", "E5", 300, (9, 32))]

    assert detect_wash_trades(trades, CONTROLLERS, RULES) == []


def test_the_quantity_tolerance_is_a_share_of_the_first_trade_edges_included() -> None:
    def round_trips(first_t: int, back_t: int) -> int:
        trades = [
            trade("T1", "E5", "E6", first_t, (9, 31)),
            trade("T2", "E6", "E5", back_t, (9, 32)),
        ]
        return len(detect_wash_trades(trades, CONTROLLERS, RULES))

    assert [round_trips(100, back_t) for back_t in (89, 90, 110, 111)] == [0, 1, 1, 0]
    assert round_trips(10, 11) == 1
    assert round_trips(10, 12) == 0  # 20 % more than the first trade
    assert round_trips(111, 100) == 1  # 11 t less, within 10 % of 111 t
    assert round_trips(112, 100) == 0  # 12 t less, beyond 10 % of 112 t


def test_a_sale_sold_back_the_next_day_is_not_a_round_trip() -> None:
    trades = [
        trade("T1", "E5", "E6", 500, (14, 59)),
        trade("T2", "E6", "E5", 500, (9, 30), day=TUESDAY),
    ]

    assert detect_wash_trades(trades, CONTROLLERS, RULES) == []


def test_three_round_trips_of_one_pair_are_one_high_alert_listing_every_leg() -> None:
    trades = [
        trade("T1", "E5", "E6", 500, (9, 31)),
        trade("T2", "E6", "E5", 520, (9, 33)),
        trade("T3", "E4", "E5", 900, (9, 34)),  # a third party: not evidence
        trade("T4", "E6", "E5", 1_000, (9, 40)),  # E6 starts the second one
        trade("T5", "E5", "E6", 950, (9, 45)),
        trade("T6", "E5", "E6", 200, (10, 0)),
        trade("T7", "E6", "E5", 200, (10, 2)),
    ]

    [alert] = detect_wash_trades(trades, CONTROLLERS, RULES)

    assert alert.severity is Severity.high
    assert alert.trades == ("T1", "T2", "T4", "T5", "T6", "T7")
    assert "made 3 round trips" in alert.explanation
    assert "3,370 t in all between 09:31 and 10:02" in alert.explanation


def test_each_trade_belongs_to_at_most_one_round_trip() -> None:
    trades = [
        trade("T1", "E5", "E6", 500, (9, 31)),
        trade("T2", "E6", "E5", 500, (9, 32)),
        trade("T3", "E5", "E6", 500, (9, 33)),  # opens a new one, T2 is spent
    ]

    [alert] = detect_wash_trades(trades, CONTROLLERS, RULES)

    assert alert.trades == ("T1", "T2")
    assert "made 1 round trip" in alert.explanation


def test_a_return_trade_matches_the_earliest_sale_of_a_like_quantity() -> None:
    trades = [
        trade("T1", "E5", "E6", 100, (9, 31)),
        trade("T2", "E5", "E6", 500, (9, 32)),
        trade("T3", "E5", "E6", 500, (9, 33)),
        trade("T4", "E6", "E5", 500, (9, 34)),
    ]

    [alert] = detect_wash_trades(trades, CONTROLLERS, RULES)

    assert alert.trades == ("T2", "T4")


def test_round_trips_of_large_volume_are_high_even_when_few() -> None:
    trades = [trade("T1", "E5", "E6", 10_000, (9, 31)), trade("T2", "E6", "E5", 10_000, (9, 40))]

    [alert] = detect_wash_trades(trades, CONTROLLERS, RULES)

    assert alert.severity is Severity.high


def test_two_round_trips_are_a_medium_alert() -> None:
    trades = [
        trade("T1", "E5", "E6", 100, (9, 31)),
        trade("T2", "E6", "E5", 100, (9, 32)),
        trade("T3", "E5", "E6", 100, (9, 33)),
        trade("T4", "E6", "E5", 100, (9, 34)),
    ]

    [alert] = detect_wash_trades(trades, CONTROLLERS, RULES)

    assert alert.severity is Severity.medium


def test_round_trips_between_related_accounts_are_reported_once_as_related() -> None:
    trades = [trade("T1", "E2", "E3", 500, (9, 31)), trade("T2", "E3", "E2", 500, (9, 32))]

    [alert] = detect_wash_trades(trades, CONTROLLERS, RULES)

    assert alert.key == "wash_trade:CEA-2023:2024-03-04:G1:E2:E3"
    assert alert.trades == ("T1", "T2")


# --- idempotence and thresholds --------------------------------------------------------------


def test_a_second_run_over_the_same_trades_gives_equal_alerts() -> None:
    trades = [
        trade("T1", "E2", "E3", 500, (9, 31)),
        trade("T2", "E5", "E6", 500, (9, 32)),
        trade("T3", "E6", "E5", 500, (9, 33)),
    ]

    first = detect_wash_trades(trades, CONTROLLERS, RULES)

    assert len(first) == 2
    assert detect_wash_trades(trades, CONTROLLERS, RULES) == first


def test_the_round_trip_window_comes_from_the_rules() -> None:
    trades = [trade("T1", "E5", "E6", 500, (9, 31)), trade("T2", "E6", "E5", 500, (9, 33))]

    assert len(detect_wash_trades(trades, CONTROLLERS, RULES)) == 1
    assert detect_wash_trades(trades, CONTROLLERS, replace(RULES, round_trip_window_s=60)) == []


def test_the_round_trip_quantity_tolerance_comes_from_the_rules() -> None:
    trades = [trade("T1", "E5", "E6", 500, (9, 31)), trade("T2", "E6", "E5", 480, (9, 33))]
    strict = replace(RULES, round_trip_quantity_pct=3)
    loose = replace(RULES, round_trip_quantity_pct=50)

    assert len(detect_wash_trades(trades, CONTROLLERS, RULES)) == 1
    assert detect_wash_trades(trades, CONTROLLERS, strict) == []
    wider = [trade("T1", "E5", "E6", 500, (9, 31)), trade("T2", "E6", "E5", 300, (9, 33))]
    assert detect_wash_trades(wider, CONTROLLERS, RULES) == []
    assert len(detect_wash_trades(wider, CONTROLLERS, loose)) == 1
