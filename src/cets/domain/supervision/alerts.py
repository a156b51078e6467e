"""An alert: what a detector found, the evidence that proves it, and how grave it is.

Alert `type` names are fixed (the issue's contract; add more, never rename): `wash_trade`,
`self_trade_attempts`, `spoofing`, `marking_the_close`, `price_spike`, `concentration`,
`large_holder`. Every alert lists the accounts, orders and trades behind it (ids, in the order
they happened) and explains itself in plain words with the figures that made it fire.
`key` identifies what the alert is about (type, instrument, day, accounts...), so running a
detector again over the same events finds the same alerts and a store can keep each once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class AlertType(StrEnum):
    wash_trade = "wash_trade"
    self_trade_attempts = "self_trade_attempts"
    spoofing = "spoofing"
    marking_the_close = "marking_the_close"
    price_spike = "price_spike"
    concentration = "concentration"
    large_holder = "large_holder"


class Severity(IntEnum):
    """How urgently a supervisor should look: low (a pattern to watch), medium, high (a clear
    manipulation pattern or a large market effect)."""

    low = 1
    medium = 2
    high = 3


@dataclass(frozen=True, slots=True)
class Alert:
    type: AlertType
    severity: Severity
    key: str
    instrument: str | None
    accounts: tuple[str, ...]
    orders: tuple[str, ...]
    trades: tuple[str, ...]
    explanation: str
