"""Price spikes: listed trades pinned at a band limit, and listed trades that jump."""

from __future__ import annotations

from datetime import date

from cets.domain.supervision.alerts import Alert, AlertType, Severity
from cets.domain.supervision.events import DayContext, TradeEvent
from cets.domain.supervision.price import detect_price_spikes
from cets.domain.supervision.rules import SupervisionRules

CEA = "CEA-2023"
MONDAY = date(2024, 3, 4)
TUESDAY = date(2024, 3, 5)
RULES = SupervisionRules()  # spike_bps 300


def context(day: date = MONDAY, prev_close: int = 6000, instrument: str = CEA) -> DayContext:
    """A +-10% band around `prev_close`, half-up to the tick."""
    return DayContext(
        instrument=instrument,
        day=day,
        prev_close=prev_close,
        band_low=(prev_close * 90 + 50) // 100,
        band_high=(prev_close * 110 + 50) // 100,
        close_us=0,
    )


DAYS = {(CEA, MONDAY): context(MONDAY), (CEA, TUESDAY): context(TUESDAY, prev_close=6600)}


def trade(
    id: str,
    price: int,
    buyer: str = "B",
    seller: str = "S",
    *,
    quantity: int = 100,
    day: date = MONDAY,
    mode: str = "listed",
    instrument: str = CEA,
) -> TradeEvent:
    n = int(id.lstrip("TX"))
    return TradeEvent(
        id=id,
        instrument=instrument,
        buyer=buyer,
        seller=seller,
        price=price,
        quantity=quantity,
        at_us=n,
        day=day,
        buy_order=f"O{id}b",
        sell_order=f"O{id}s",
        mode=mode,
    )


def keys(alerts: list[Alert]) -> list[str]:
    return [a.key for a in alerts]


# --- pinned at the band ----------------------------------------------------------------------


def test_trades_at_the_upper_limit_raise_one_alert_naming_the_trades_and_the_buyers() -> None:
    trades = [
        trade("T1", 6500),
        trade("T2", 6600, "E4", "E1"),
        trade("T3", 6599),
        trade("T4", 6600, "E5", "E2"),
        trade("T5", 6600, "E4", "E3", quantity=300),
    ]
    [alert] = detect_price_spikes(trades, DAYS, RULES)
    assert alert == Alert(
        type=AlertType.price_spike,
        severity=Severity.medium,
        key="price_spike:CEA-2023:2024-03-04:upper",
        instrument=CEA,
        accounts=("E4", "E1", "E5", "E2", "E3"),
        orders=("OT2b", "OT2s", "OT4b", "OT4s", "OT5b", "OT5s"),
        trades=("T2", "T4", "T5"),
        explanation=(
            "3 trades of CEA-2023 on 2024-03-04 at the upper band limit 66.00 (previous close"
            " 60.00, +10.00%), 500 t: buyers E4, E5 (against sellers E1, E2, E3; a trade does"
            " not say which side crossed)"
        ),
    )


def test_trades_at_the_lower_limit_name_the_sellers_first() -> None:
    trades = [trade("T1", 5450), trade("T2", 5400, "E1", "E7"), trade("T3", 5400, "E2", "E7")]
    [alert] = detect_price_spikes(trades, DAYS, RULES)
    assert alert.key == "price_spike:CEA-2023:2024-03-04:lower"
    assert alert.trades == ("T2", "T3")
    assert alert.accounts == ("E1", "E7", "E2")
    assert alert.explanation == (
        "2 trades of CEA-2023 on 2024-03-04 at the lower band limit 54.00 (previous close"
        " 60.00, -10.00%), 200 t: sellers E7 (against buyers E1, E2; a trade does not say"
        " which side crossed)"
    )


def test_trades_just_inside_the_band_raise_nothing() -> None:
    trades = [trade("T1", 6590), trade("T2", 6599), trade("T3", 6599)]
    assert detect_price_spikes(trades, DAYS, RULES) == []
    assert detect_price_spikes([trade("T1", 5410), trade("T2", 5401)], DAYS, RULES) == []


def test_each_day_is_judged_by_its_own_band() -> None:
    # 66.00 is Monday's upper limit but well inside Tuesday's band (previous close 66.00).
    trades = [trade("T1", 6600, day=TUESDAY), trade("T2", 6600, day=TUESDAY)]
    assert detect_price_spikes(trades, DAYS, RULES) == []
    [alert] = detect_price_spikes([trade("T3", 7260, day=TUESDAY)], DAYS, RULES)
    assert alert.key == "price_spike:CEA-2023:2024-03-05:upper"


def test_a_day_without_a_known_band_is_not_judged_at_the_band() -> None:
    assert detect_price_spikes([trade("T1", 6600)], {}, RULES) == []


def test_a_block_trade_at_the_listed_limit_is_not_pinned() -> None:
    # Block trades have their own +-30% band; the listed band does not apply to them.
    assert detect_price_spikes([trade("T1", 6600, mode="block")], DAYS, RULES) == []
    assert detect_price_spikes([trade("T1", 5400, mode="auction")], DAYS, RULES) == []


def test_a_trade_beyond_the_limit_is_high_and_says_the_venue_should_have_refused_it() -> None:
    trades = [trade("T1", 6550), trade("T2", 6600), trade("T3", 6650)]
    spikes = detect_price_spikes(trades, DAYS, RULES)
    [alert] = [a for a in spikes if a.key.endswith(":upper")]
    assert alert.severity == Severity.high
    assert alert.trades == ("T2", "T3")
    assert alert.explanation.endswith(
        "; 1 of them beyond the limit, up to 66.50, which the venue should have refused"
    )


# --- jumps -----------------------------------------------------------------------------------


def test_a_jump_from_the_previous_listed_trade_names_both_trades() -> None:
    trades = [trade("T1", 6000, "E1", "E2"), trade("T2", 6200, "E4", "E1"), trade("T3", 6210)]
    [alert] = detect_price_spikes(trades, DAYS, RULES)
    assert alert == Alert(
        type=AlertType.price_spike,
        severity=Severity.low,
        key="price_spike:CEA-2023:2024-03-04:jump",
        instrument=CEA,
        accounts=("E4", "E1"),
        orders=("OT2b", "OT2s"),
        trades=("T1", "T2"),
        explanation=(
            "1 price jump of CEA-2023 on 2024-03-04, each at least 3.00% from the listed trade"
            " before it (largest 3.33%): T2 at 62.00 after T1 at 60.00 (+3.33%; buyer E4,"
            " seller E1)"
        ),
    )


def test_jumps_of_one_day_make_one_alert_with_each_jump_after_the_trade_before_it() -> None:
    trades = [
        trade("T1", 6000),
        trade("T2", 6200),  # +3.33%
        trade("T3", 5800),  # -6.45%
        trade("T4", 5810),
        trade("T5", 5820),
        trade("T6", 6000),  # +3.09%
    ]
    [alert] = detect_price_spikes(trades, DAYS, RULES)
    assert alert.trades == ("T1", "T2", "T3", "T5", "T6")
    assert alert.orders == ("OT2b", "OT2s", "OT3b", "OT3s", "OT6b", "OT6s")
    assert alert.severity == Severity.medium  # the largest move, 6.45%, is >= 2 x 3%
    assert "3 price jumps" in alert.explanation
    assert "(largest 6.45%)" in alert.explanation
    assert "T3 at 58.00 after T2 at 62.00 (-6.45%;" in alert.explanation


def test_a_move_of_exactly_the_threshold_is_a_jump_and_one_fen_less_is_not() -> None:
    assert keys(detect_price_spikes([trade("T1", 6000), trade("T2", 6180)], DAYS, RULES)) == [
        "price_spike:CEA-2023:2024-03-04:jump"
    ]
    assert detect_price_spikes([trade("T1", 6000), trade("T2", 6179)], DAYS, RULES) == []
    assert keys(detect_price_spikes([trade("T1", 6000), trade("T2", 5820)], DAYS, RULES)) == [
        "price_spike:CEA-2023:2024-03-04:jump"
    ]
    assert detect_price_spikes([trade("T1", 6000), trade("T2", 5821)], DAYS, RULES) == []


def test_a_big_move_made_of_small_steps_is_not_a_jump() -> None:
    # 60.00 to 65.50 (+9.17%) in steps of 0.50 (each under 0.84%), never at the limit.
    trades = [trade(f"T{i}", 6000 + 50 * i) for i in range(12)]
    assert detect_price_spikes(trades, DAYS, RULES) == []


def test_a_block_trade_neither_jumps_nor_serves_as_the_previous_trade() -> None:
    trades = [
        trade("T1", 6000),
        trade("T2", 7000, mode="block"),
        trade("T3", 6010),
        trade("T4", 5000, mode="auction"),
        trade("T5", 6020),
    ]
    assert detect_price_spikes(trades, DAYS, RULES) == []


def test_the_first_trade_of_a_day_is_not_compared_with_another_day_or_instrument() -> None:
    trades = [
        trade("T1", 6000),
        trade("T2", 9000, instrument="CCER"),  # another instrument, interleaved
        trade("T3", 6010),
        trade("T4", 6500, day=TUESDAY),  # the next day opens 8% higher
    ]
    assert detect_price_spikes(trades, DAYS, RULES) == []


def test_severity_follows_the_largest_move() -> None:
    def severity(price: int) -> Severity:
        [alert] = detect_price_spikes([trade("T1", 6000), trade("T2", price)], {}, RULES)
        return alert.severity

    assert severity(6359) == Severity.low  # +5.98%
    assert severity(6360) == Severity.medium  # +6.00%
    assert severity(6540) == Severity.high  # +9.00%


def test_the_spike_threshold_is_taken_from_the_rules() -> None:
    trades = [trade("T1", 6000), trade("T2", 6090)]  # +1.50%
    assert detect_price_spikes(trades, DAYS, RULES) == []
    [alert] = detect_price_spikes(trades, DAYS, SupervisionRules(spike_bps=150))
    assert alert.trades == ("T1", "T2")
    assert "each at least 1.50% from" in alert.explanation


def test_a_jump_to_the_limit_raises_the_limit_alert_then_the_jump_alert() -> None:
    trades = [trade("T1", 6000), trade("T2", 6600)]
    assert keys(detect_price_spikes(trades, DAYS, RULES)) == [
        "price_spike:CEA-2023:2024-03-04:upper",
        "price_spike:CEA-2023:2024-03-04:jump",
    ]


def test_a_long_run_of_jumps_spells_out_ten_and_keeps_all_as_evidence() -> None:
    trades = [trade(f"T{i}", 6000 if i % 2 else 6200) for i in range(1, 15)]
    [alert] = detect_price_spikes(trades, {}, RULES)
    assert alert.trades == tuple(f"T{i}" for i in range(1, 15))
    assert alert.explanation.endswith("; and 3 more in the evidence")


def test_running_the_detector_twice_gives_the_same_alerts() -> None:
    trades = [
        trade("T1", 6000),
        trade("T2", 6600, "E4", "E1"),
        trade("T3", 5400, "E5", "E2"),
        trade("T4", 6000, day=TUESDAY),
        trade("T5", 6300, day=TUESDAY),
    ]
    first = detect_price_spikes(trades, DAYS, RULES)
    assert keys(first) == [
        "price_spike:CEA-2023:2024-03-04:upper",
        "price_spike:CEA-2023:2024-03-04:jump",
        "price_spike:CEA-2023:2024-03-04:lower",
        "price_spike:CEA-2023:2024-03-05:jump",
    ]
    assert detect_price_spikes(trades, DAYS, RULES) == first
