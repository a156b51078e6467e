"""Allocation by the benchmark method (DOMAIN.md, "Allocation and compliance").

allowance = sum over an entity's output lines of output x benchmark x correction factors.
Pre-allocation is `pre_allocation_pct` of the allowance computed on the previous year's output;
the final allocation is the allowance on the verified output of the year, raised by the gap cap
to at least (100 - gap_cap_pct)% of verified emissions when the cap is on; the true-up moves the
difference (a top-up, or a recovery when negative).

Rounding (the rules say "whole tonnes" and no more): each entity's allowance is computed exactly
(outputs are whole units, benchmarks and factors decimals) and rounded half-up to the tonne once,
after summing its lines, so splitting a plant into lines never gains or loses a tonne. Shares
(pre-allocation, relief) round down: the registry never hands out a tonne the rule does not give.
The gap cap's floor rounds up: the entity gets at least the share the rule promises.

Deductions (an earlier shortfall, units borrowed under the relief rule) come off the allocation
of the year they are charged to and never make it negative; what is left over is charged to the
next allocation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


class PlanError(ValueError):
    """A plan line that cannot be used; names the field and the rule."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class PlanLine:
    """One output line of an entity's allocation plan for `year`.

    `benchmark` is tonnes of allowance per unit of output (e.g. tCO2/MWh), `factors` the
    correction factors it is multiplied by (regional, load, heating...). `previous_output` is the
    output of the year before (the pre-allocation basis); `verified_output` the year's own, once
    verified (the true-up basis).
    """

    year: int
    holder: str
    line: str
    benchmark: Decimal
    factors: tuple[Decimal, ...]
    previous_output: int
    verified_output: int | None = None


def decimal_rate(text: object, *, field: str) -> Decimal:
    """A benchmark or a factor as written (text or int, never a float): a finite decimal >= 0."""
    if isinstance(text, bool) or not isinstance(text, str | int | Decimal):
        raise PlanError(field, f"{text!r}, was expected a decimal number written as text")
    try:
        value = Decimal(str(text).strip())
    except ArithmeticError:
        raise PlanError(field, f"{text!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise PlanError(field, f"{text!r}, was expected a number >= 0")
    return value


def _line_value(line: PlanLine, output: int) -> Decimal:
    value = Decimal(output) * line.benchmark
    for factor in line.factors:
        value *= factor
    return value


def allowance(lines: Iterable[PlanLine], *, verified: bool) -> int:
    """An entity's allowance on its lines' previous (or verified) output, half-up to the tonne."""
    total = Decimal(0)
    for line in lines:
        output = line.verified_output if verified else line.previous_output
        assert output is not None, f"line {line.line} has no verified output"
        total += _line_value(line, output)
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def share(quantity: int, pct: int) -> int:
    """`pct`% of `quantity`, rounded down."""
    return quantity * pct // 100


def gap_capped(final: int, emissions: int | None, gap_cap_pct: int | None) -> int:
    """The final allocation raised to at least (100 - gap cap)% of verified emissions."""
    if gap_cap_pct is None or emissions is None:
        return final
    floor = -(-emissions * (100 - gap_cap_pct) // 100)  # rounded up
    return max(final, floor)


def relief_limit(
    emissions: int, allocation: int, *, gap_pct: int, borrow_pct: int
) -> tuple[bool, int]:
    """(eligible, most that may be borrowed): an entity whose gap (emissions - allocation) is at
    least `gap_pct`% of its emissions may borrow up to `borrow_pct`% of the gap."""
    gap = emissions - allocation
    if emissions <= 0 or gap <= 0 or gap * 100 < emissions * gap_pct:
        return False, 0
    return True, share(gap, borrow_pct)


def charge(allocation: int, owed: int) -> int:
    """What of `owed` (deductions outstanding) an allocation of `allocation` can bear."""
    return max(0, min(allocation, owed))
