"""The order gates (tick, quantity, band, session, halt), their precedence, and the close."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cets.domain.errors import DomainError, RejectCode
from cets.domain.policy import Policy
from cets.domain.trading.calendar import SHANGHAI, Mode, TradingCalendar
from cets.domain.trading.rules import (
    band_limits,
    check_band,
    check_order,
    check_quantity,
    check_tick,
    order_value_fen,
    vwap_close,
)

POLICY = Policy()
CALENDAR = TradingCalendar(frozenset({date(2024, 4, 4)}))
MONDAY = date(2024, 3, 4)
PREV_CLOSE = 6000  # 60.00 CNY/t


def sh(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=SHANGHAI)


def refused(call: Callable[..., None], *args: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args)
    return caught.value


# --- band limits ---------------------------------------------------------------------------


def test_the_listed_band_is_ten_percent_around_the_previous_close() -> None:
    assert band_limits(6000, 10, 1) == (5400, 6600)


def test_the_block_band_is_thirty_percent_around_the_previous_close() -> None:
    assert band_limits(6000, 30, 1) == (4200, 7800)


def test_band_limits_round_half_up_to_the_fen() -> None:
    # 60.05 x 1.1 = 66.055 -> 66.06; 60.05 x 0.9 = 54.045 -> 54.05 (halves go up).
    assert band_limits(6005, 10, 1) == (5405, 6606)
    # 60.03 x 1.1 = 66.033 -> 66.03; 60.03 x 0.9 = 54.027 -> 54.03.
    assert band_limits(6003, 10, 1) == (5403, 6603)


def test_band_limits_round_half_up_to_a_coarser_tick() -> None:
    # tick 0.05: 60.25 x 1.1 = 66.275 = 1325.5 ticks -> 1326 ticks; x 0.9 = 1084.5 -> 1085 ticks.
    assert band_limits(6025, 10, 5) == (5425, 6630)


def test_the_lower_limit_never_goes_below_one_tick() -> None:
    assert band_limits(1, 100, 1) == (1, 2)


@given(
    prev_close=st.integers(min_value=1, max_value=10**9),
    band=st.integers(min_value=0, max_value=99),
    tick=st.sampled_from([1, 2, 5, 10, 100]),
)
def test_band_limits_equal_decimal_half_up_arithmetic(
    prev_close: int, band: int, tick: int
) -> None:
    def limit(factor: Decimal) -> int:
        ticks = (Decimal(prev_close) * factor / Decimal(tick)).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        return int(ticks) * tick

    low, high = band_limits(prev_close, band, tick)
    assert high == limit(Decimal(100 + band) / 100)
    assert low == max(limit(Decimal(100 - band) / 100), tick)
    assert low % tick == 0 and high % tick == 0


def test_a_price_exactly_at_either_limit_is_inside_the_band() -> None:
    check_band(5400, PREV_CLOSE, Mode.listed, POLICY)
    check_band(6600, PREV_CLOSE, Mode.listed, POLICY)
    check_band(4200, PREV_CLOSE, Mode.block, POLICY)
    check_band(7800, PREV_CLOSE, Mode.block, POLICY)


def test_one_fen_above_the_upper_limit_is_refused_with_the_band_in_the_message() -> None:
    error = refused(check_band, 6601, PREV_CLOSE, Mode.listed, POLICY)
    assert error.code is RejectCode.price_outside_band
    assert error.field == "price"
    assert "price 66.01 outside the band 54.00..66.00" in error.message


def test_one_fen_below_the_lower_limit_is_refused() -> None:
    error = refused(check_band, 5399, PREV_CLOSE, Mode.listed, POLICY)
    assert error.code is RejectCode.price_outside_band
    assert "price 53.99 outside the band 54.00..66.00" in error.message


def test_a_block_price_beyond_the_listed_band_is_inside_the_block_band() -> None:
    check_band(7000, PREV_CLOSE, Mode.block, POLICY)
    assert refused(check_band, 7801, PREV_CLOSE, Mode.block, POLICY).code is (
        RejectCode.price_outside_band
    )


def test_the_band_comes_from_the_policy() -> None:
    narrow = POLICY.with_overrides({"band_pct": {"listed": 5}})
    check_band(6300, PREV_CLOSE, Mode.listed, narrow)
    assert refused(check_band, 6301, PREV_CLOSE, Mode.listed, narrow).code is (
        RejectCode.price_outside_band
    )


def test_auction_bids_have_no_band_here() -> None:
    check_band(60_000, PREV_CLOSE, Mode.auction, POLICY)


# --- tick ----------------------------------------------------------------------------------


def test_any_whole_fen_is_on_the_default_tick() -> None:
    check_tick(6001, POLICY.tick_fen)


def test_a_price_off_a_coarser_tick_is_refused_with_the_tick_in_the_message() -> None:
    check_tick(6005, 5)
    error = refused(check_tick, 6003, 5)
    assert error.code is RejectCode.price_not_on_tick
    assert error.message == "price 60.03 is not a multiple of the tick 0.05"


@pytest.mark.parametrize("price", [0, -100])
def test_a_price_that_is_not_positive_is_refused(price: int) -> None:
    assert refused(check_tick, price, 1).code is RejectCode.amount_must_be_positive


# --- quantity ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "quantity", "accepted"),
    [
        (Mode.listed, 0, False),
        (Mode.listed, 1, True),
        (Mode.listed, 99_999, True),
        (Mode.listed, 100_000, False),
        (Mode.block, 99_999, False),
        (Mode.block, 100_000, True),
        (Mode.block, 10_000_000, True),
        (Mode.auction, 0, False),
        (Mode.auction, 1, True),
        (Mode.auction, 500_000, True),
    ],
)
def test_quantity_ranges_per_mode_at_their_boundaries(
    mode: Mode, quantity: int, accepted: bool
) -> None:
    if accepted:
        check_quantity(quantity, mode, POLICY)
    else:
        assert refused(check_quantity, quantity, mode, POLICY).code is (
            RejectCode.quantity_out_of_range
        )


def test_the_quantity_refusal_names_the_quantity_and_the_range() -> None:
    listed = refused(check_quantity, 100_000, Mode.listed, POLICY)
    assert listed.message == "quantity 100,000 t outside the listed range 1..99,999 t"
    assert listed.field == "quantity"
    block = refused(check_quantity, 99_999, Mode.block, POLICY)
    assert block.message == "quantity 99,999 t outside the block range >= 100,000 t"


def test_a_quantity_must_be_a_whole_number_of_lots_in_every_mode() -> None:
    lots = replace(POLICY, lot_t=100)
    check_quantity(200, Mode.listed, lots)
    error = refused(check_quantity, 150, Mode.listed, lots)
    assert error.code is RejectCode.quantity_out_of_range
    assert error.message == "quantity 150 t is not a multiple of the lot 100 t"
    check_quantity(100_100, Mode.block, lots)
    assert refused(check_quantity, 100_050, Mode.block, lots).code is (
        RejectCode.quantity_out_of_range
    )


def test_the_quantity_ranges_come_from_the_policy() -> None:
    policy = POLICY.with_overrides({"listed_max_t": 50_000, "block_min_t": 50_001})
    check_quantity(50_000, Mode.listed, policy)
    check_quantity(50_001, Mode.block, policy)
    assert refused(check_quantity, 50_001, Mode.listed, policy).code is (
        RejectCode.quantity_out_of_range
    )


# --- check_order: the gates in their fixed order ------------------------------------------

COARSE = replace(POLICY, tick_fen=5)
GOOD: dict[str, Any] = {
    "price_fen": 6000,
    "quantity_t": 1000,
    "mode": Mode.listed,
    "local_dt": sh(MONDAY, 10, 0),
    "prev_close_fen": PREV_CLOSE,
    "calendar": CALENDAR,
    "policy": COARSE,
    "halted": False,
}
# Each fix repairs one gate; applied in turn, the next gate in the precedence is reported.
BROKEN: dict[str, Any] = {
    "halted": True,
    "local_dt": sh(MONDAY, 12, 0),
    "price_fen": 7001,  # off the 0.05 tick; 7000 is on it but outside the band
    "quantity_t": 100_000,
}
FIXES: list[tuple[str, Any, RejectCode]] = [
    ("halted", False, RejectCode.instrument_halted),
    ("local_dt", sh(MONDAY, 10, 0), RejectCode.outside_trading_session),
    ("price_fen", 7000, RejectCode.price_not_on_tick),
    ("quantity_t", 1000, RejectCode.quantity_out_of_range),
    ("price_fen", 6000, RejectCode.price_outside_band),
]


def test_an_order_that_passes_every_gate_is_accepted() -> None:
    check_order(**GOOD)


def test_the_gates_report_the_first_failure_in_the_fixed_order() -> None:
    order = {**GOOD, **BROKEN}
    for key, fixed, expected in FIXES:
        with pytest.raises(DomainError) as caught:
            check_order(**order)
        assert caught.value.code is expected, key
        order[key] = fixed
    check_order(**order)


def test_the_fixed_order_is_the_order_of_the_reject_codes() -> None:
    codes = [code for _, _, code in FIXES]
    assert codes == sorted(codes, key=lambda code: code.precedence)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"halted": True}, RejectCode.instrument_halted),
        ({"local_dt": sh(MONDAY, 15, 0)}, RejectCode.outside_trading_session),
        ({"local_dt": sh(date(2024, 4, 4), 10, 0)}, RejectCode.outside_trading_session),
        ({"price_fen": 6001}, RejectCode.price_not_on_tick),
        ({"quantity_t": 0}, RejectCode.quantity_out_of_range),
        ({"price_fen": 6605}, RejectCode.price_outside_band),
    ],
)
def test_each_gate_alone_refuses_with_its_own_code(
    change: dict[str, Any], expected: RejectCode
) -> None:
    with pytest.raises(DomainError) as caught:
        check_order(**{**GOOD, **change})
    assert caught.value.code is expected


def test_a_halt_message_names_the_instrument() -> None:
    with pytest.raises(DomainError, match="trading in CEA-2023 is halted"):
        check_order(**{**GOOD, "halted": True}, instrument="CEA-2023")


def test_a_block_order_needs_the_afternoon_the_block_size_and_the_block_band() -> None:
    block = {**GOOD, "mode": Mode.block, "quantity_t": 100_000, "price_fen": 7800}
    with pytest.raises(DomainError) as caught:
        check_order(**block)
    assert caught.value.code is RejectCode.outside_trading_session
    check_order(**{**block, "local_dt": sh(MONDAY, 13, 0)})


def test_an_auction_bid_is_checked_against_the_announced_window() -> None:
    window = (sh(MONDAY, 10, 0), sh(MONDAY, 10, 30))
    bid = {**GOOD, "mode": Mode.auction, "price_fen": 9000}
    check_order(**bid, auction_window=window)
    with pytest.raises(DomainError) as caught:
        check_order(**{**bid, "local_dt": sh(MONDAY, 10, 30)}, auction_window=window)
    assert caught.value.code is RejectCode.outside_trading_session


# --- the close and order values -----------------------------------------------------------


def test_the_close_is_the_volume_weighted_average_of_the_listed_trades() -> None:
    # (60.00 x 100 + 61.00 x 300) / 400 = 60.75
    assert vwap_close([(6000, 100), (6100, 300)], PREV_CLOSE) == 6075


def test_the_close_rounds_half_up_to_the_fen() -> None:
    assert vwap_close([(6000, 1), (6001, 1)], PREV_CLOSE) == 6001  # 60.005 -> 60.01
    assert vwap_close([(6000, 2), (6001, 1)], PREV_CLOSE) == 6000  # 60.0033 -> 60.00
    assert vwap_close([(6000, 1), (6001, 2)], PREV_CLOSE) == 6001  # 60.0067 -> 60.01


def test_without_trades_the_close_is_the_previous_close() -> None:
    assert vwap_close([], PREV_CLOSE) == PREV_CLOSE


@given(st.lists(st.tuples(st.integers(1, 10**7), st.integers(1, 10**6)), min_size=1, max_size=50))
def test_the_close_is_the_exact_vwap_rounded_half_up(trades: list[tuple[int, int]]) -> None:
    exact = Fraction(sum(p * q for p, q in trades), sum(q for _, q in trades))
    close = vwap_close(trades, PREV_CLOSE)
    assert abs(close - exact) <= Fraction(1, 2)
    assert close - exact != Fraction(-1, 2)  # a half rounds up, never down
    assert min(p for p, _ in trades) <= close <= max(p for p, _ in trades)


def test_an_order_value_is_price_times_quantity_in_fen() -> None:
    assert order_value_fen(6050, 1600) == 9_680_000  # 60.50 x 1,600 t = 96,800.00
