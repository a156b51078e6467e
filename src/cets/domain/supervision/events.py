"""What the detectors read: orders and trades as plain values, with what supervision needs beyond
the venue's rows (each holder's actual controller, when an order was cancelled, the day's band).

Times are microseconds since the Unix epoch (UTC), as everywhere in CETS; prices are fen per
tonne, quantities whole tonnes. Events of one stream are in the order they happened (`at_us`,
then the venue's sequence), which the detectors rely on and never re-sort.

Orders and trades are named tuples, not dataclasses: a batch scan makes millions of them, and a
tuple is made in half the time (measured, `bench/supervision_store.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple


class OrderEvent(NamedTuple):
    """An order as placed, and what became of it.

    `status` is the venue's (open, partially_filled, filled, cancelled, expired, rejected);
    `reason` says why it stopped (`self_trade_prevented` for an order self-trade prevention
    cancelled). `cancelled_us` is when the holder (or the venue) cancelled it, None if it was
    not cancelled.
    """

    id: str
    instrument: str
    account: str
    side: str  # buy | sell
    price: int
    quantity: int
    placed_us: int
    day: date
    filled: int = 0
    status: str = "open"
    reason: str | None = None
    cancelled_us: int | None = None
    mode: str = "listed"


class TradeEvent(NamedTuple):
    """A trade as made."""

    id: str
    instrument: str
    buyer: str
    seller: str
    price: int
    quantity: int
    at_us: int
    day: date
    buy_order: str = ""
    sell_order: str = ""
    mode: str = "listed"  # listed | block | auction


@dataclass(frozen=True, slots=True)
class DayContext:
    """What is known of an instrument's trading day: the previous close and the band around it
    (the price limits), and when the day's continuous trading closes."""

    instrument: str
    day: date
    prev_close: int
    band_low: int
    band_high: int
    close_us: int  # the end of the day's last listed session (15:00 local)


@dataclass(frozen=True, slots=True)
class Holdings:
    """Units of one asset held per holder at a moment (for concentration of holdings)."""

    asset: str
    by_holder: dict[str, int]
