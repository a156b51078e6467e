"""Amounts are integers with a declared scale; text that is not exactly an amount is refused."""

from __future__ import annotations

import dataclasses
import re
from decimal import ROUND_HALF_UP, Context, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cets.domain.units import (
    CASH,
    CCER,
    AmountError,
    AmountRule,
    AssetError,
    Money,
    Price,
    Quantity,
    cea,
    fee_fen,
    format_fen,
    is_cash,
    is_unit,
    parse_asset,
    parse_fen,
    parse_tonnes,
    round_half_up_fen,
    vintage,
)

# --- parse_fen: what is accepted ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("60", 6000),
        ("60.0", 6000),
        ("60.00", 6000),
        ("0.01", 1),
        ("0", 0),
        ("  60.5\n", 6050),
        ("999999999999999.99", 99_999_999_999_999_999),
    ],
)
def test_plain_decimal_strings_become_exact_fen(text: str, fen: int) -> None:
    assert parse_fen(text) == fen


def test_negative_amounts_are_accepted_only_when_allowed() -> None:
    assert parse_fen("-1.00", allow_negative=True) == -100
    assert parse_fen("-0.05", allow_negative=True) == -5


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("60", "60.00"), ("60.5", "60.50"), ("0.01", "0.01"), ("-0.5", "-0.50"), ("007.10", "7.10")],
)
def test_parsed_amounts_print_in_canonical_form(text: str, canonical: str) -> None:
    assert format_fen(parse_fen(text, allow_negative=True)) == canonical


@pytest.mark.parametrize(
    ("fen", "text"),
    [(123456, "1234.56"), (-5, "-0.05"), (0, "0.00"), (100, "1.00"), (-150, "-1.50")],
)
def test_fen_print_as_yuan_with_two_decimals(fen: int, text: str) -> None:
    assert format_fen(fen) == text


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        (Decimal("60.00"), 6000),
        (Decimal("60.000"), 6000),
        (Decimal("6E+1"), 6000),
        (Decimal("0.01"), 1),
        (Decimal("0E-10"), 0),
    ],
)
def test_decimals_are_judged_by_value(value: Decimal, fen: int) -> None:
    assert parse_fen(value) == fen


# --- parse_fen: every refusal names the field, the value and the rule ---------------------


def _refusal(value: object, rule: AmountRule, **kwargs: object) -> AmountError:
    with pytest.raises(AmountError) as caught:
        parse_fen(value, **kwargs)  # type: ignore[arg-type]
    error = caught.value
    field = kwargs.get("field", "amount")
    assert error.rule == rule
    assert error.field == field
    assert error.value is value
    assert str(field) in str(error)
    assert repr(value) in str(error)
    return error


def test_more_than_two_decimals_is_refused_naming_the_value() -> None:
    error = _refusal("60.001", AmountRule.TOO_MANY_DECIMALS)
    assert str(error).startswith("amount '60.001': more than two decimals")


def test_a_decimal_with_a_sub_fen_remainder_is_refused() -> None:
    _refusal(Decimal("60.001"), AmountRule.TOO_MANY_DECIMALS)
    _refusal(Decimal("1.00000000000000000000000000000001"), AmountRule.TOO_MANY_DECIMALS)
    _refusal(Decimal("1E-40"), AmountRule.TOO_MANY_DECIMALS)


@pytest.mark.parametrize("value", ["-1.00", "-0.00", " -5", Decimal("-1"), Decimal("-0")])
def test_negative_amounts_are_refused_by_default(value: object) -> None:
    error = _refusal(value, AmountRule.NEGATIVE_NOT_ALLOWED)
    assert "was expected >= 0" in str(error)


def test_a_float_is_refused_even_when_it_is_whole() -> None:
    error = _refusal(60.0, AmountRule.WRONG_TYPE)
    assert 'pass a string like "60.00"' in str(error)


def test_an_int_is_refused_because_yuan_and_fen_would_be_confused() -> None:
    error = _refusal(60, AmountRule.WRONG_TYPE)
    assert "yuan" in str(error)
    assert '"60.00"' in str(error)


@pytest.mark.parametrize("value", [None, True, b"60.00", [60]])
def test_other_types_are_refused(value: object) -> None:
    _refusal(value, AmountRule.WRONG_TYPE)


@pytest.mark.parametrize(
    "value", ["NaN", "nan", "-Infinity", "inf", "+inf", "sNaN", Decimal("NaN"), Decimal("-Inf")]
)
def test_non_finite_values_are_refused(value: object) -> None:
    _refusal(value, AmountRule.NOT_FINITE, allow_negative=True)


@pytest.mark.parametrize("text", ["6e1", "1E2", "1.5e-3", "-2E+3", ".5e1"])
def test_exponent_notation_is_refused(text: str) -> None:
    _refusal(text, AmountRule.EXPONENT_NOT_ALLOWED, allow_negative=True)


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_empty_or_blank_strings_are_refused(text: str) -> None:
    _refusal(text, AmountRule.EMPTY)


def test_a_leading_plus_is_refused() -> None:
    _refusal("+60.00", AmountRule.PLUS_SIGN_NOT_ALLOWED)


@pytest.mark.parametrize("text", ["1,000.00", "1_000", "1 000.00", "1'000", "60,5"])
def test_thousands_separators_are_refused(text: str) -> None:
    _refusal(text, AmountRule.SEPARATOR_NOT_ALLOWED)


@pytest.mark.parametrize("text", ["1000000000000000", "1000000000000000.00", "-1234567890123456"])
def test_more_than_fifteen_integer_digits_is_refused_as_too_large(text: str) -> None:
    error = _refusal(text, AmountRule.TOO_LARGE, allow_negative=True)
    assert "64-bit" in str(error)


def test_a_decimal_beyond_fifteen_integer_digits_is_refused() -> None:
    _refusal(Decimal("1E+15"), AmountRule.TOO_LARGE)


@pytest.mark.parametrize(
    "text", ["abc", ".5", "5.", "--5", "60 CNY", "¥60", "６０", "0x10", "60.-1", "1.2.3"]
)
def test_anything_else_is_not_a_decimal_string(text: str) -> None:
    _refusal(text, AmountRule.NOT_A_DECIMAL_STRING, allow_negative=True)


def test_the_field_name_is_carried_into_the_refusal() -> None:
    error = _refusal("60.001", AmountRule.TOO_MANY_DECIMALS, field="limit_price")
    assert str(error).startswith("limit_price '60.001'")


def test_amount_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="amount"):
        parse_fen("x")


# --- parse_tonnes -------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "tonnes"), [(1000, 1000), ("1000", 1000), (" 7 ", 7), (0, 0)])
def test_whole_tonnes_are_accepted_as_int_or_digits(value: int | str, tonnes: int) -> None:
    assert parse_tonnes(value) == tonnes


def _tonnes_refusal(value: object, rule: AmountRule, **kwargs: object) -> AmountError:
    with pytest.raises(AmountError) as caught:
        parse_tonnes(value, **kwargs)  # type: ignore[arg-type]
    error = caught.value
    field = kwargs.get("field", "quantity")
    assert error.rule == rule
    assert error.field == field
    assert f"{field} {value!r}" in str(error)
    return error


@pytest.mark.parametrize("value", [True, False, 1.0, 1.5, None, Decimal("1")])
def test_quantities_of_the_wrong_type_are_refused(value: object) -> None:
    _tonnes_refusal(value, AmountRule.WRONG_TYPE)


@pytest.mark.parametrize("text", ["1.5", "1.0", "abc", "1000t"])
def test_quantities_that_are_not_whole_numbers_are_refused(text: str) -> None:
    _tonnes_refusal(text, AmountRule.NOT_AN_INTEGER)


def test_quantity_refusals_use_the_shared_text_rules() -> None:
    _tonnes_refusal("", AmountRule.EMPTY)
    _tonnes_refusal("1e3", AmountRule.EXPONENT_NOT_ALLOWED)
    _tonnes_refusal("+5", AmountRule.PLUS_SIGN_NOT_ALLOWED)
    _tonnes_refusal("1,000", AmountRule.SEPARATOR_NOT_ALLOWED)
    _tonnes_refusal("inf", AmountRule.NOT_FINITE)
    _tonnes_refusal("1000000000000000", AmountRule.TOO_LARGE)
    _tonnes_refusal(10**15, AmountRule.TOO_LARGE)


def test_negative_quantities_are_refused_unless_allowed() -> None:
    error = _tonnes_refusal(-5, AmountRule.NEGATIVE_NOT_ALLOWED)
    assert "was expected >= 0" in str(error)
    _tonnes_refusal("-5", AmountRule.NEGATIVE_NOT_ALLOWED)
    assert parse_tonnes("-5", allow_negative=True) == -5
    assert parse_tonnes(-5, allow_negative=True) == -5


def test_zero_tonnes_is_refused_when_not_allowed() -> None:
    error = _tonnes_refusal(0, AmountRule.ZERO_NOT_ALLOWED, allow_zero=False, field="order_qty")
    assert "was expected >= 1" in str(error)


# --- Quantity -----------------------------------------------------------------------------


def test_quantities_add_subtract_compare_and_print() -> None:
    assert Quantity(600) + Quantity(400) == Quantity(1000)
    assert Quantity(1000) - Quantity(1) == Quantity(999)
    assert Quantity(1) < Quantity(2)
    assert str(Quantity(1000)) == "1000"
    assert Quantity.parse("25") == Quantity(25)


def test_a_negative_quantity_cannot_exist() -> None:
    with pytest.raises(ValueError, match="quantity -5 t, was expected >= 0"):
        Quantity(-5)


def test_subtracting_more_than_is_there_is_refused() -> None:
    with pytest.raises(ValueError, match="quantity -2 t, was expected >= 0"):
        Quantity(3) - Quantity(5)


@pytest.mark.parametrize("value", [True, 1.0, "5"])
def test_a_quantity_must_be_an_int(value: object) -> None:
    with pytest.raises(ValueError, match=re.escape(f"quantity {value!r}")):
        Quantity(value)  # type: ignore[arg-type]


def test_quantities_are_immutable() -> None:
    quantity = Quantity(5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        quantity.tonnes = 6  # type: ignore[misc]


def test_quantities_do_not_mix_with_money() -> None:
    with pytest.raises(TypeError):
        Quantity(1) + Money(1)  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = Quantity(1) < Money(1)  # type: ignore[operator]


# --- Money --------------------------------------------------------------------------------


def test_money_parses_prints_adds_and_compares() -> None:
    assert Money.parse("60") == Money(6000)
    assert str(Money(6000)) == "60.00"
    assert str(Money(-50)) == "-0.50"
    assert Money(100) + Money(-150) == Money(-50)
    assert Money(100) - Money(150) == Money(-50)
    assert Money(-1) < Money(0) < Money(1)


def test_money_parse_refuses_negatives_unless_allowed() -> None:
    with pytest.raises(AmountError, match=r"refund '-1\.00'"):
        Money.parse("-1.00", field="refund")
    assert Money.parse("-1.00", allow_negative=True) == Money(-100)


def test_money_must_be_int_fen() -> None:
    with pytest.raises(ValueError, match=r"money 1\.5"):
        Money(1.5)  # type: ignore[arg-type]


# --- Price --------------------------------------------------------------------------------


def test_a_price_times_a_quantity_is_exact_fen() -> None:
    assert Price.parse("60.01").times(Quantity(1000)) == Money(6_001_000)
    assert Price(1).times(Quantity(3)) == Money(3)
    # A float would be off here: 0.1 + 0.2 != 0.3.
    assert Price.parse("0.10").times(Quantity(3)) == Money.parse("0.30")
    big = Price.parse("999999.99").times(Quantity(10**12))
    assert big == Money(99_999_999 * 10**12)


def test_a_price_prints_with_two_decimals() -> None:
    assert str(Price.parse("60")) == "60.00"
    assert Price(100) < Price(101)


@pytest.mark.parametrize("text", ["0", "0.00"])
def test_a_zero_price_is_refused(text: str) -> None:
    with pytest.raises(AmountError) as caught:
        Price.parse(text)
    assert caught.value.rule == AmountRule.ZERO_NOT_ALLOWED
    assert f"price {text!r}" in str(caught.value)
    assert "was expected > 0" in str(caught.value)


def test_a_price_cannot_be_built_zero_or_negative() -> None:
    with pytest.raises(ValueError, match=r"price 0\.00, was expected > 0"):
        Price(0)
    with pytest.raises(AmountError, match=r"price -0\.05, was expected > 0") as caught:
        Price(-5)
    assert caught.value.rule == AmountRule.NEGATIVE_NOT_ALLOWED


def test_a_negative_price_text_is_refused_naming_the_field() -> None:
    with pytest.raises(AmountError, match=r"limit '-60\.00'"):
        Price.parse("-60.00", field="limit")


# --- rounding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "rounded"),
    [
        (5, 2, 3),
        (-5, 2, -3),
        (3, 2, 2),
        (-3, 2, -2),
        (1, 2, 1),
        (-1, 2, -1),
        (7, 3, 2),
        (-7, 3, -2),
        (8, 3, 3),
        (-8, 3, -3),
        (0, 7, 0),
        (10, 5, 2),
        (5, -2, -3),
        (-5, -2, 3),
        (14999, 10_000, 1),
        (15000, 10_000, 2),
    ],
)
def test_division_rounds_half_away_from_zero(
    numerator: int, denominator: int, rounded: int
) -> None:
    assert round_half_up_fen(numerator, denominator) == rounded


def test_division_by_zero_is_a_programmer_error() -> None:
    with pytest.raises(ZeroDivisionError):
        round_half_up_fen(1, 0)


def test_fees_in_basis_points_round_half_up_to_fen() -> None:
    assert fee_fen(6_000_000, 5) == 3000  # 0.05 % of 60 000.00 = 30.00
    assert fee_fen(1000, 5) == 1  # 0.5 fen -> 1 fen
    assert fee_fen(999, 5) == 0  # 0.4995 fen -> 0
    assert fee_fen(-1000, 5) == -1  # a refund rounds symmetrically
    assert fee_fen(123_456, 0) == 0


@given(
    numerator=st.integers(min_value=-(10**30), max_value=10**30),
    denominator=st.integers(min_value=1, max_value=10**12),
)
def test_rounding_agrees_with_decimal_round_half_up(numerator: int, denominator: int) -> None:
    # Precision far above the digits involved, so the quotient is exact enough to decide halves.
    context = Context(prec=100)
    quotient = context.divide(Decimal(numerator), Decimal(denominator))
    expected = int(quotient.quantize(Decimal(1), rounding=ROUND_HALF_UP, context=context))
    assert round_half_up_fen(numerator, denominator) == expected


@given(numerator=st.integers(), denominator=st.integers().filter(lambda d: d != 0))
def test_rounding_is_symmetric(numerator: int, denominator: int) -> None:
    assert round_half_up_fen(-numerator, denominator) == -round_half_up_fen(numerator, denominator)


# --- properties of parsing and printing ---------------------------------------------------

_FEN = st.integers(min_value=-(10**17) + 1, max_value=10**17 - 1)


@given(_FEN)
def test_any_fen_amount_survives_printing_and_parsing(fen: int) -> None:
    assert parse_fen(format_fen(fen), allow_negative=True) == fen


@given(_FEN)
def test_a_decimal_of_any_fen_amount_parses_to_the_same_fen(fen: int) -> None:
    assert parse_fen(Decimal(fen).scaleb(-2), allow_negative=True) == fen


@given(st.text(max_size=20))
def test_arbitrary_text_parses_or_is_refused_with_an_amount_error(text: str) -> None:
    try:
        fen = parse_fen(text, allow_negative=True)
    except AmountError as error:
        assert error.field == "amount"
        assert repr(text) in str(error)
    else:
        assert format_fen(fen) == format_fen(parse_fen(format_fen(fen), allow_negative=True))


# --- assets -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["CEA-2013", "CEA-2023", "CEA-2100", "CCER", "CNY", " CNY "])
def test_valid_asset_codes_are_accepted(code: str) -> None:
    assert parse_asset(code) == code.strip()


@pytest.mark.parametrize(
    "code", ["CEA-23", "cea-2023", "CEA2023", "CEA-2012", "CEA-2101", "USD", "", "CEA-２０２３"]
)
def test_invalid_asset_codes_are_refused_naming_the_value(code: str) -> None:
    with pytest.raises(AssetError) as caught:
        parse_asset(code)
    assert f"asset {code!r}" in str(caught.value)
    assert caught.value.field == "asset"
    assert caught.value.value == code


def test_a_malformed_asset_refusal_says_what_is_expected() -> None:
    with pytest.raises(
        ValueError, match="asset 'CEA-23': expected CEA-<vintage year>, CCER or CNY"
    ):
        parse_asset("CEA-23")


def test_an_asset_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(AssetError, match="asset 2023"):
        parse_asset(2023)  # type: ignore[arg-type]


def test_cash_units_and_vintages_are_told_apart() -> None:
    assert CASH == "CNY"
    assert CCER == "CCER"
    assert is_cash("CNY")
    assert not is_cash("CEA-2023")
    assert is_unit("CEA-2023")
    assert is_unit("CCER")
    assert not is_unit("CNY")
    assert not is_unit("CEA-1999")
    assert not is_unit("garbage")
    assert vintage("CEA-2024") == 2024
    assert vintage("CCER") is None
    assert vintage("CNY") is None


def test_a_cea_code_is_built_from_its_vintage() -> None:
    assert cea(2023) == "CEA-2023"
    with pytest.raises(AssetError, match="vintage 1999"):
        cea(1999)
