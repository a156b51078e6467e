"""The exchange's order gates and price rules: tick, quantity range, price band, close.

This module owns the rules an order must pass before it reaches a book, in the exchange's fixed
order (issue 4; RejectCode lists them in the same order): halt, session, tick, quantity range for
the mode, band around the previous close. `check_order` applies them in that order and reports the
first that fails. Account state comes before these gates, and T+1, position limits and available
units or funds come after them; those belong to order entry, which knows the accounts.

Rules (DOMAIN.md, "Trading"; MEE trading rules, trial, May 2021):
    - Prices are integer fen per tonne, quantities integer tonnes; nothing here touches a float.
    - Tick 0.01 CNY (`policy.tick_fen`), lot 1 t (`policy.lot_t`).
    - Listed agreement: 1..99,999 t per order (`listed_min_t`..`listed_max_t`), band +-10% of the
      previous close. Block agreement: >= 100,000 t (`block_min_t`), band +-30%.
    - Band limits = previous close x (1 +- band), rounded half-up to the tick, computed exactly in
      integers; a price equal to a limit is inside the band.
    - Close = the volume-weighted average price of the day's listed trades, rounded half-up to the
      fen (0.01 CNY); block and auction trades do not enter it; no listed trade: the previous close.

Choices where the rules are silent (written down so they are found):
    - The lot applies to every mode: a quantity must be a whole number of lots.
    - A lower band limit never goes below one tick (a band of 100% would otherwise allow 0.00).
    - One-way auction bids: at least `listed_min_t` and a whole number of lots; their upper bound is
      the announced quantity and their floor the reserve price, both checked by the auction itself,
      so no band applies to them here.
    - A price of zero or below is a malformed order, refused with `amount_must_be_positive` at the
      tick gate (parsing at the edge normally refuses it first).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cets.domain.errors import DomainError, RejectCode
from cets.domain.policy import Policy
from cets.domain.trading.calendar import Mode, TradingCalendar, Window
from cets.domain.units import format_fen, round_half_up_fen

_PERCENT = 100


def order_value_fen(price_fen: int, quantity_t: int) -> int:
    """The exact value of `quantity_t` tonnes at `price_fen` per tonne, in fen."""
    return price_fen * quantity_t


def band_limits(prev_close_fen: int, band_pct: int, tick_fen: int) -> tuple[int, int]:
    """(lowest, highest) allowed price: prev close x (1 -+ band%), half-up to the tick.

    Exact: prev x (100 -+ band) / (100 x tick) is rounded half-up in integers, then times the tick.
    """
    assert prev_close_fen > 0, f"previous close {prev_close_fen} fen, was expected > 0"
    assert 0 <= band_pct <= _PERCENT, f"band {band_pct}%, was expected 0..100"
    assert tick_fen >= 1, f"tick {tick_fen} fen, was expected >= 1"
    scale = _PERCENT * tick_fen
    low = round_half_up_fen(prev_close_fen * (_PERCENT - band_pct), scale) * tick_fen
    high = round_half_up_fen(prev_close_fen * (_PERCENT + band_pct), scale) * tick_fen
    return max(low, tick_fen), high


def check_tick(price_fen: int, tick_fen: int) -> None:
    """Refuse a price that is not positive or not a whole number of ticks."""
    assert tick_fen >= 1, f"tick {tick_fen} fen, was expected >= 1"
    if price_fen <= 0:
        raise DomainError(
            RejectCode.amount_must_be_positive,
            f"price {format_fen(price_fen)}, was expected > 0",
            field="price",
        )
    if price_fen % tick_fen:
        raise DomainError(
            RejectCode.price_not_on_tick,
            f"price {format_fen(price_fen)} is not a multiple of the tick {format_fen(tick_fen)}",
            field="price",
        )


def quantity_range(mode: Mode, policy: Policy) -> tuple[int, int | None]:
    """(minimum, maximum or None) tonnes per order of `mode`; see the module docstring."""
    mode = Mode(mode)
    if mode is Mode.listed:
        return policy.listed_min_t, policy.listed_max_t
    if mode is Mode.block:
        return policy.block_min_t, None
    return policy.listed_min_t, None


def check_quantity(quantity_t: int, mode: Mode, policy: Policy) -> None:
    """Refuse a quantity outside the range of `mode`, or not a whole number of lots."""
    assert policy.lot_t >= 1, f"lot {policy.lot_t} t, was expected >= 1"
    low, high = quantity_range(mode, policy)
    if quantity_t < low or (high is not None and quantity_t > high):
        expected = f"{low:,}..{high:,} t" if high is not None else f">= {low:,} t"
        raise DomainError(
            RejectCode.quantity_out_of_range,
            f"quantity {quantity_t:,} t outside the {mode} range {expected}",
            field="quantity",
        )
    if quantity_t % policy.lot_t:
        raise DomainError(
            RejectCode.quantity_out_of_range,
            f"quantity {quantity_t:,} t is not a multiple of the lot {policy.lot_t:,} t",
            field="quantity",
        )


def band_pct(mode: Mode, policy: Policy) -> int | None:
    """The band of `mode` in whole percent; None for auctions (their reserve price rules)."""
    mode = Mode(mode)
    if mode is Mode.listed:
        return policy.band_listed_pct
    if mode is Mode.block:
        return policy.band_block_pct
    return None


def check_band(price_fen: int, prev_close_fen: int, mode: Mode, policy: Policy) -> None:
    """Refuse a price outside the band of `mode` around the previous close (limits included)."""
    pct = band_pct(mode, policy)
    if pct is None:
        return
    low, high = band_limits(prev_close_fen, pct, policy.tick_fen)
    if not low <= price_fen <= high:
        raise DomainError(
            RejectCode.price_outside_band,
            f"price {format_fen(price_fen)} outside the band {format_fen(low)}..{format_fen(high)}"
            f" ({mode} +-{pct}% of the previous close {format_fen(prev_close_fen)})",
            field="price",
        )


def check_order(
    price_fen: int,
    quantity_t: int,
    mode: Mode,
    local_dt: datetime,
    prev_close_fen: int,
    calendar: TradingCalendar,
    policy: Policy,
    halted: bool,
    *,
    auction_window: Window | None = None,
    instrument: str = "the instrument",
) -> None:
    """Apply the exchange's gates in their fixed order; raise the first that fails.

    Order: halt, session, tick, quantity range, band. `auction_window` is the announced window of
    the auction a bid is for (required for `Mode.auction`, refused otherwise).
    """
    if halted:
        raise DomainError(
            RejectCode.instrument_halted,
            f"trading in {instrument} is halted; orders are rejected until it resumes",
            field="instrument",
        )
    calendar.check_session(local_dt, mode, window=auction_window)
    check_tick(price_fen, policy.tick_fen)
    check_quantity(quantity_t, mode, policy)
    check_band(price_fen, prev_close_fen, mode, policy)


def vwap_close(trades: Iterable[tuple[int, int]], prev_close_fen: int) -> int:
    """The day's close from its listed trades as (price fen, quantity t) pairs.

    MEE trading rules: close = sum(price x quantity) / sum(quantity), rounded half-up to the fen;
    the previous close when there is no trade. Pass listed trades only: block trades do not count.
    """
    amount = volume = 0
    for price_fen, quantity_t in trades:
        assert price_fen > 0 and quantity_t > 0, f"trade {quantity_t} t at {price_fen} fen"
        amount += price_fen * quantity_t
        volume += quantity_t
    if volume == 0:
        return prev_close_fen
    return round_half_up_fen(amount, volume)
