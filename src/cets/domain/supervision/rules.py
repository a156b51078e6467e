"""The detectors' thresholds: configuration, with the defaults below (DOMAIN.md: "Thresholds in
configuration"). Percentages are whole percent or basis points as the names say; times in
seconds; quantities in tonnes. Where no rule gives a number, the default is a careful first
choice, written down here so it is found.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SupervisionRules:
    # wash_trade: trades between accounts with the same actual controller (any one fires), and
    # round trips: A sells to B and B sells back to A within the window, quantities within 10%.
    round_trip_window_s: int = 30 * 60
    round_trip_quantity_pct: int = 10
    # self_trade_attempts: this many orders of one holder stopped by self-trade prevention in a day.
    self_trade_attempts: int = 3
    # spoofing: a large order (>= this many tonnes, or this % of the day's listed volume) cancelled
    # without any fill within this many seconds; or a holder's order-to-trade ratio over the day
    # above this (orders placed / orders with a fill), with at least this many orders.
    spoof_min_t: int = 10_000
    spoof_volume_pct: int = 20
    spoof_cancel_s: int = 60
    order_to_trade_ratio: int = 20
    order_to_trade_min_orders: int = 50
    # marking_the_close: trades in the last minutes before the close that move the day's VWAP
    # by at least this many basis points, one holder's doing.
    close_window_s: int = 10 * 60
    close_move_bps: int = 100
    # price_spike: a trade at a band limit; or a price that jumps this many basis points from the
    # previous trade of the day.
    spike_bps: int = 300
    # concentration: one holder's share of a day's volume (either side), or of an asset's units.
    volume_share_pct: int = 30
    volume_min_t: int = 1_000  # days with less volume are not judged
    holdings_share_pct: int = 30
    holdings_min_holders: int = 10  # fewer holders of an asset: holdings are not judged
