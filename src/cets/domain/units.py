"""Value types of the carbon market: amounts as integers with a declared scale.

This module owns the three scales every other module relies on, how text becomes an amount,
how an amount becomes text, the one rounding rule, and the asset codes.

Scales:
    - quantities are whole tonnes (``int``, 1 = one tonne of CO2e);
    - money is fen (``int``, 1 = 0.01 CNY); it may be negative when it is a balance change;
    - prices are fen per tonne (``int``), so ``price * quantity`` is exact fen.

Invariants:
    - No float ever touches an amount. Text is parsed with a strict regex, never ``float()``;
      a Python ``float`` given as an amount is refused, and so is an ``int`` (yuan or fen?).
      ``decimal.Decimal`` appears only at the edges (parsing) and for rates.
    - A ``Quantity`` is never negative; a ``Price`` is always > 0.
    - Parsed amounts have at most 15 integer digits, so fen stay well within a signed 64-bit
      integer (the database column type): 10**15 yuan = 10**17 fen < 2**63 ~ 9.2 * 10**18.
    - Rounding happens in one place, ``round_half_up_fen``: exact integer division, half away
      from zero. Nothing else rounds.
    - Assets stay plain ``str`` at runtime (fast dict keys); ``parse_asset`` is the gate.

Expected refusals of user input raise ``AmountError`` / ``AssetError`` (both ``ValueError``) whose
attributes name the field, the offending value and the rule, so an API can map them to a
problem+json pointing at the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

MAX_INTEGER_DIGITS: Final = 15
_LIMIT: Final = 10**MAX_INTEGER_DIGITS  # tonnes, or yuan (fen / 100), must stay below this
_BPS_DENOMINATOR: Final = 10_000
_EXAMPLE: Final = '"60.00"'


class AmountRule(StrEnum):
    """The closed vocabulary of reasons an amount is refused (values are snake_case names)."""

    WRONG_TYPE = "wrong_type"
    EMPTY = "empty"
    NOT_A_DECIMAL_STRING = "not_a_decimal_string"
    NOT_AN_INTEGER = "not_an_integer"
    TOO_MANY_DECIMALS = "too_many_decimals"
    NEGATIVE_NOT_ALLOWED = "negative_not_allowed"
    ZERO_NOT_ALLOWED = "zero_not_allowed"
    EXPONENT_NOT_ALLOWED = "exponent_not_allowed"
    NOT_FINITE = "not_finite"
    PLUS_SIGN_NOT_ALLOWED = "plus_sign_not_allowed"
    SEPARATOR_NOT_ALLOWED = "separator_not_allowed"
    TOO_LARGE = "too_large"


class AmountError(ValueError):
    """An amount, price or quantity was refused; ``field``, ``value`` and ``rule`` say why."""

    def __init__(self, message: str, *, field: str, value: object, rule: AmountRule) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.rule = rule


class AssetError(ValueError):
    """An asset code was refused; ``field`` and ``value`` name it."""

    def __init__(self, message: str, *, field: str, value: object) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


# --- parsing and printing (plain ints, no objects: used on hot paths) -------------------------

# The accepted forms: optional '-', 1..15 digits, optionally '.' and 1..2 digits. ASCII only.
_FEN_RE: Final = re.compile(r"(-?)([0-9]{1,15})(?:\.([0-9]{1,2}))?", re.ASCII)
_TONNES_RE: Final = re.compile(r"(-?)([0-9]{1,15})", re.ASCII)
# Used only to explain a refusal precisely, after the strict forms above failed.
_LOOSE_DECIMAL_RE: Final = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?", re.ASCII)
_EXPONENT_RE: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+", re.ASCII)
_SEPARATOR_RE: Final = re.compile(r"[0-9][,_'\s][0-9]")
_NOT_FINITE: Final = frozenset({"nan", "snan", "inf", "infinity"})


_DETAILS: Final = {
    AmountRule.EMPTY: "empty, expected a number",
    AmountRule.NOT_A_DECIMAL_STRING: f"not a decimal string; write it like {_EXAMPLE}",
    AmountRule.TOO_MANY_DECIMALS: "more than two decimals (the scale is fen, 0.01 CNY)",
    AmountRule.NEGATIVE_NOT_ALLOWED: "negative, was expected >= 0",
    AmountRule.EXPONENT_NOT_ALLOWED: "exponent notation is not accepted",
    AmountRule.NOT_FINITE: "not a finite number",
    AmountRule.PLUS_SIGN_NOT_ALLOWED: "a leading '+' is not accepted",
    AmountRule.SEPARATOR_NOT_ALLOWED: "digit separators (',', '_', spaces) are not accepted",
    AmountRule.TOO_LARGE: (
        f"more than {MAX_INTEGER_DIGITS} integer digits (keeps amounts within a 64-bit integer)"
    ),
}


def _refuse(field: str, value: object, rule: AmountRule, detail: str = "") -> AmountError:
    message = f"{field} {value!r}: {detail or _DETAILS[rule]}"
    return AmountError(message, field=field, value=value, rule=rule)


def _wrong_type(field: str, value: object, hint: str) -> AmountError:
    if isinstance(value, float):
        why = "a float cannot hold an amount exactly"
    elif isinstance(value, int) and not isinstance(value, bool):
        why = "an int is ambiguous between yuan and fen"  # parse_tonnes accepts ints
    else:
        why = f"a {type(value).__name__} is not an amount"
    return _refuse(field, value, AmountRule.WRONG_TYPE, f"{why}; {hint}")


def _refuse_syntax(field: str, value: object, text: str) -> AmountError | None:
    """Explain the refusals common to decimal and whole-number text, or None if none applies."""
    if not text:
        return _refuse(field, value, AmountRule.EMPTY)
    if text.lstrip("+-").lower() in _NOT_FINITE:
        return _refuse(field, value, AmountRule.NOT_FINITE)
    if _EXPONENT_RE.fullmatch(text):
        return _refuse(field, value, AmountRule.EXPONENT_NOT_ALLOWED)
    if text.startswith("+"):
        return _refuse(field, value, AmountRule.PLUS_SIGN_NOT_ALLOWED)
    if _SEPARATOR_RE.search(text):
        return _refuse(field, value, AmountRule.SEPARATOR_NOT_ALLOWED)
    return None


def parse_fen(text: str | Decimal, *, field: str = "amount", allow_negative: bool = False) -> int:
    """Parse a yuan amount given as a decimal string (or ``Decimal``) into integer fen.

    Strings are judged as written: ``"60"``, ``"60.0"``, ``"60.00"``, ``"-1.00"`` (when
    ``allow_negative``) are accepted; surrounding whitespace is stripped. A ``Decimal`` is judged
    by value (``Decimal("6E+1")`` is 60.00), since it may come out of arithmetic.
    Raises ``AmountError`` naming ``field``, the value and the rule.
    """
    if isinstance(text, str):
        stripped = text.strip()
        match = _FEN_RE.fullmatch(stripped)
        if match is not None:
            sign, whole, cents = match.groups()
            if sign and not allow_negative:
                raise _refuse(field, text, AmountRule.NEGATIVE_NOT_ALLOWED)
            fen = int(whole) * 100 + (int(cents.ljust(2, "0")) if cents else 0)
            return -fen if sign else fen
        raise _explain_fen_text(field, text, stripped)
    if isinstance(text, Decimal):
        return _decimal_to_fen(text, field=field, allow_negative=allow_negative)
    raise _wrong_type(field, text, f"pass a string like {_EXAMPLE}")


def _explain_fen_text(field: str, value: str, text: str) -> AmountError:
    refusal = _refuse_syntax(field, value, text)
    if refusal is not None:
        return refusal
    loose = _LOOSE_DECIMAL_RE.fullmatch(text)
    if loose is None:
        return _refuse(field, value, AmountRule.NOT_A_DECIMAL_STRING)
    whole, cents = loose.groups()
    if cents is not None and len(cents) > 2:
        return _refuse(field, value, AmountRule.TOO_MANY_DECIMALS)
    assert len(whole) > MAX_INTEGER_DIGITS, f"{value!r} should have matched the strict form"
    return _refuse(field, value, AmountRule.TOO_LARGE)


def _decimal_to_fen(value: Decimal, *, field: str, allow_negative: bool) -> int:
    if not value.is_finite():
        raise _refuse(field, value, AmountRule.NOT_FINITE)
    if value.is_signed() and not allow_negative:
        raise _refuse(field, value, AmountRule.NEGATIVE_NOT_ALLOWED)
    if value.is_zero():
        return 0
    if value.adjusted() >= MAX_INTEGER_DIGITS:
        raise _refuse(field, value, AmountRule.TOO_LARGE)
    # Exact integer arithmetic on (sign, digits, exponent): Decimal's own context would round.
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    coefficient = int("".join(map(str, digits)))
    shift = exponent + 2  # from the written scale to fen
    fen: int  # annotated: typeshed types int ** int as Any (a negative power is a float)
    if shift >= 0:
        fen = coefficient * 10**shift
    elif -shift > len(digits) or coefficient % 10**-shift:
        # A nonzero remainder below one fen (the first test also bounds the power of ten).
        raise _refuse(field, value, AmountRule.TOO_MANY_DECIMALS)
    else:
        fen = coefficient // 10**-shift
    return -fen if sign else fen


def format_fen(fen: int) -> str:
    """Print integer fen as yuan with exactly two decimals: 123456 -> "1234.56", -5 -> "-0.05"."""
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{whole}.{cents:02d}"


def parse_tonnes(
    value: int | str,
    *,
    field: str = "quantity",
    allow_negative: bool = False,
    allow_zero: bool = True,
) -> int:
    """Parse whole tonnes from an ``int`` or a string of digits; raise ``AmountError`` if not.

    Refuses ``bool``, ``float`` (even ``1.0``), ``None``, ``"1.5"``, ``"1e3"``, ``""`` and more
    than 15 digits. Surrounding whitespace in a string is stripped.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _wrong_type(field, value, 'pass an int or a string like "1000"')
    if isinstance(value, int):
        if abs(value) >= _LIMIT:
            raise _refuse(field, value, AmountRule.TOO_LARGE)
        tonnes, negative = value, value < 0
    else:
        stripped = value.strip()
        match = _TONNES_RE.fullmatch(stripped)
        if match is None:
            raise _explain_tonnes_text(field, value, stripped)
        tonnes, negative = int(stripped), bool(match.group(1))
    if negative and not allow_negative:
        raise _refuse(field, value, AmountRule.NEGATIVE_NOT_ALLOWED)
    if tonnes == 0 and not allow_zero:
        raise _refuse(field, value, AmountRule.ZERO_NOT_ALLOWED, "zero, was expected >= 1")
    return tonnes


def _explain_tonnes_text(field: str, value: str, text: str) -> AmountError:
    refusal = _refuse_syntax(field, value, text)
    if refusal is not None:
        return refusal
    loose = _LOOSE_DECIMAL_RE.fullmatch(text)
    if loose is not None and loose.group(2) is not None:
        return _refuse(
            field, value, AmountRule.NOT_AN_INTEGER, "not whole tonnes; write digits like 1000"
        )
    if loose is not None:
        return _refuse(field, value, AmountRule.TOO_LARGE)
    return _refuse(
        field, value, AmountRule.NOT_AN_INTEGER, "not a whole number; write digits like 1000"
    )


# --- rounding --------------------------------------------------------------------------------


def round_half_up_fen(numerator: int, denominator: int) -> int:
    """Return ``numerator / denominator`` rounded to the nearest integer, halves away from zero.

    Exact (integer arithmetic only) and symmetric: ``f(-n, d) == -f(n, d)``, so 2.5 -> 3 and
    -2.5 -> -3. This is the market's one rounding rule, used for fees in basis points and for
    VWAP closing prices. A negative denominator is allowed; zero raises ``ZeroDivisionError``.
    """
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def fee_fen(value_fen: int, bps: int) -> int:
    """A fee of ``bps`` basis points (1 bp = 0.01 %) on ``value_fen``, rounded half up to fen."""
    assert bps >= 0, f"fee rate {bps} bps, was expected >= 0"
    return round_half_up_fen(value_fen * bps, _BPS_DENOMINATOR)


# --- value types -----------------------------------------------------------------------------


def _require_int(kind: str, value: object, unit: str) -> None:
    if type(value) is not int:
        raise AmountError(
            f"{kind} {value!r}, was expected an int of {unit}",
            field=kind,
            value=value,
            rule=AmountRule.WRONG_TYPE,
        )


@dataclass(frozen=True, slots=True, order=True)
class Quantity:
    """A number of whole tonnes, never negative."""

    tonnes: int

    def __post_init__(self) -> None:
        _require_int("quantity", self.tonnes, "whole tonnes")
        if self.tonnes < 0:
            raise AmountError(
                f"quantity {self.tonnes} t, was expected >= 0",
                field="quantity",
                value=self.tonnes,
                rule=AmountRule.NEGATIVE_NOT_ALLOWED,
            )

    @classmethod
    def parse(cls, value: int | str, *, field: str = "quantity") -> Quantity:
        return cls(parse_tonnes(value, field=field))

    def __add__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        return Quantity(self.tonnes + other.tonnes)

    def __sub__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        return Quantity(self.tonnes - other.tonnes)

    def __str__(self) -> str:
        return str(self.tonnes)


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount of CNY in fen; negative when it is a balance change."""

    fen: int

    def __post_init__(self) -> None:
        _require_int("money", self.fen, "fen")

    @classmethod
    def parse(
        cls, text: str | Decimal, *, field: str = "amount", allow_negative: bool = False
    ) -> Money:
        return cls(parse_fen(text, field=field, allow_negative=allow_negative))

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.fen + other.fen)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.fen - other.fen)

    def __str__(self) -> str:
        return format_fen(self.fen)


@dataclass(frozen=True, slots=True, order=True)
class Price:
    """Fen per tonne, always > 0 (a price of zero is refused)."""

    fen_per_t: int

    def __post_init__(self) -> None:
        _require_int("price", self.fen_per_t, "fen per tonne")
        if self.fen_per_t <= 0:
            raise AmountError(
                f"price {format_fen(self.fen_per_t)}, was expected > 0",
                field="price",
                value=self.fen_per_t,
                rule=(
                    AmountRule.ZERO_NOT_ALLOWED
                    if self.fen_per_t == 0
                    else AmountRule.NEGATIVE_NOT_ALLOWED
                ),
            )

    @classmethod
    def parse(cls, text: str | Decimal, *, field: str = "price") -> Price:
        fen_per_t = parse_fen(text, field=field)
        if fen_per_t == 0:
            raise _refuse(field, text, AmountRule.ZERO_NOT_ALLOWED, "zero, was expected > 0")
        return cls(fen_per_t)

    def times(self, quantity: Quantity) -> Money:
        """The exact value of ``quantity`` at this price, in fen."""
        return Money(self.fen_per_t * quantity.tonnes)

    def __str__(self) -> str:
        return format_fen(self.fen_per_t)


# --- assets ----------------------------------------------------------------------------------

CASH: Final = "CNY"
CCER: Final = "CCER"
VINTAGE_MIN: Final = 2013  # the first pilot compliance year
VINTAGE_MAX: Final = 2100
_CEA_RE: Final = re.compile(r"CEA-([0-9]{4})", re.ASCII)
_EXPECTED_ASSET: Final = "expected CEA-<vintage year>, CCER or CNY"


def parse_asset(text: str, *, field: str = "asset") -> str:
    """Validate an asset code (``CEA-<2013..2100>``, ``CCER``, ``CNY``) and return it stripped.

    Codes are case-sensitive. Raises ``AssetError`` naming the value.
    """
    if not isinstance(text, str):
        raise AssetError(f"{field} {text!r}: {_EXPECTED_ASSET}", field=field, value=text)
    code = text.strip()
    if code in (CASH, CCER):
        return code
    match = _CEA_RE.fullmatch(code)
    if match is None:
        raise AssetError(f"{field} {text!r}: {_EXPECTED_ASSET}", field=field, value=text)
    year = int(match.group(1))
    if not VINTAGE_MIN <= year <= VINTAGE_MAX:
        raise AssetError(
            f"{field} {text!r}: vintage {year}, was expected {VINTAGE_MIN}..{VINTAGE_MAX}",
            field=field,
            value=text,
        )
    return code


def cea(vintage_year: int) -> str:
    """The asset code of CEA allowances of ``vintage_year``, e.g. 2023 -> "CEA-2023"."""
    return parse_asset(f"CEA-{vintage_year}")


def is_cash(asset: str) -> bool:
    return asset == CASH


def is_unit(asset: str) -> bool:
    """True for emission units (CEA of a valid vintage, CCER); False for cash and anything else."""
    return asset == CCER or vintage(asset) is not None


def vintage(asset: str) -> int | None:
    """The vintage year of a CEA code; None for CCER, CNY or any text that is not a CEA code."""
    match = _CEA_RE.fullmatch(asset)
    if match is None:
        return None
    year = int(match.group(1))
    return year if VINTAGE_MIN <= year <= VINTAGE_MAX else None
