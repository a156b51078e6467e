"""Concentration: one holder's share of a day's volume (as buyer or seller), or of holdings."""

from __future__ import annotations

from datetime import date
from itertools import count

from cets.domain.supervision.alerts import Alert, AlertType, Severity
from cets.domain.supervision.concentration import (
    detect_holdings_concentration,
    detect_volume_concentration,
)
from cets.domain.supervision.events import Holdings, TradeEvent
from cets.domain.supervision.rules import SupervisionRules

CEA = "CEA-2023"
MONDAY = date(2024, 3, 4)
TUESDAY = date(2024, 3, 5)
RULES = SupervisionRules()  # volume: 30% of days >= 1,000 t; holdings: 30%
_ids = count(1000)


def trade(
    id: str,
    buyer: str,
    seller: str,
    quantity: int,
    *,
    day: date = MONDAY,
    mode: str = "listed",
    instrument: str = CEA,
) -> TradeEvent:
    return TradeEvent(
        id=id,
        instrument=instrument,
        buyer=buyer,
        seller=seller,
        price=6000,
        quantity=quantity,
        at_us=next(_ids),
        day=day,
        buy_order=f"O{id}b",
        sell_order=f"O{id}s",
        mode=mode,
    )


def filler(tonnes: int, *, day: date = MONDAY, instrument: str = CEA) -> list[TradeEvent]:
    """`tonnes` traded in lots of up to 100 t, each between a buyer and a seller of its own."""
    lots = [100] * (tonnes // 100) + ([tonnes % 100] if tonnes % 100 else [])
    trades = []
    for lot in lots:
        n = next(_ids)
        trades.append(trade(f"F{n}", f"FB{n}", f"FS{n}", lot, day=day, instrument=instrument))
    return trades


def buys(holder: str, tonnes: int, *lots: int) -> list[TradeEvent]:
    """`holder` buys `tonnes` in the given lots (the rest in one lot), each from a new seller."""
    sizes = [*lots, tonnes - sum(lots)] if lots else [tonnes]
    return [trade(f"{holder}-{next(_ids)}", holder, f"S{next(_ids)}", q) for q in sizes if q]


def keys(alerts: list[Alert]) -> list[str]:
    return [a.key for a in alerts]


# --- volume ----------------------------------------------------------------------------------


def test_a_dominant_buyer_raises_one_alert_naming_its_trades() -> None:
    trades = [
        trade("T1", "E4", "S1", 300),
        trade("T2", "B2", "S2", 250),
        trade("T3", "E4", "S3", 200, mode="block"),
        trade("T4", "B3", "S4", 250),
        trade("T5", "E4", "S5", 200),
    ]
    assert detect_volume_concentration(trades, RULES) == [
        Alert(
            type=AlertType.concentration,
            severity=Severity.low,
            key="concentration:volume:CEA-2023:2024-03-04:E4:buy",
            instrument=CEA,
            accounts=("E4",),
            orders=("OT1b", "OT3b", "OT5b"),
            trades=("T1", "T3", "T5"),
            explanation=(
                "E4 bought 700 t of CEA-2023 on 2024-03-04 in 3 trades: 58.33% of the day's"
                " 1,200 t of listed and block trades, at or above the 30% threshold"
            ),
        )
    ]


def test_a_dominant_seller_raises_an_alert_for_the_sell_side() -> None:
    trades = [*filler(600), trade("T1", "B1", "E7", 250), trade("T2", "B2", "E7", 150)]
    [alert] = detect_volume_concentration(trades, RULES)
    assert alert.key == "concentration:volume:CEA-2023:2024-03-04:E7:sell"
    assert alert.trades == ("T1", "T2")
    assert alert.orders == ("OT1s", "OT2s")
    assert alert.explanation.startswith("E7 sold 400 t of CEA-2023 on 2024-03-04 in 2 trades:")


def test_a_dominant_holder_on_a_thin_day_is_not_judged() -> None:
    thin = [*filler(499), *buys("E4", 500, 100, 100, 100, 100)]  # 999 t, E4 bought 50.05%
    assert detect_volume_concentration(thin, RULES) == []
    enough = [*thin, *filler(1)]  # 1,000 t: judged
    assert keys(detect_volume_concentration(enough, RULES)) == [
        "concentration:volume:CEA-2023:2024-03-04:E4:buy"
    ]


def test_a_holder_just_under_the_share_raises_nothing_and_at_the_share_fires() -> None:
    under = [*filler(701), *buys("E4", 299, 100, 100)]  # 299 of 1,000 t
    assert detect_volume_concentration(under, RULES) == []
    at = [*filler(700), *buys("E4", 300, 100, 100)]  # 300 of 1,000 t
    [alert] = detect_volume_concentration(at, RULES)
    assert alert.key == "concentration:volume:CEA-2023:2024-03-04:E4:buy"
    assert "30.00% of the day's 1,000 t" in alert.explanation


def test_block_trades_count_in_the_day_s_volume() -> None:
    trades = [*filler(500), trade("T1", "E4", "S1", 600, mode="block")]
    [buyer, seller] = detect_volume_concentration(trades, RULES)
    assert (buyer.key, seller.key) == (
        "concentration:volume:CEA-2023:2024-03-04:E4:buy",
        "concentration:volume:CEA-2023:2024-03-04:S1:sell",
    )
    assert "54.55% of the day's 1,100 t" in buyer.explanation


def test_auction_trades_are_left_out() -> None:
    # The authority sells the whole auction; the listed day is spread over many holders.
    auction = [trade(f"A{i}", "E4", "AUTHORITY", 1000, mode="auction") for i in range(3)]
    assert detect_volume_concentration([*auction, *filler(1000)], RULES) == []


def test_shares_are_per_instrument_and_day() -> None:
    trades = [
        *filler(800),
        *buys("E4", 200),
        *filler(800, day=TUESDAY),
        trade("T1", "E4", "S1", 200, day=TUESDAY),
        *filler(800, instrument="CCER"),
        trade("T2", "E4", "S2", 200, instrument="CCER"),
    ]
    assert detect_volume_concentration(trades, RULES) == []  # 20% each time, 60% over all


def test_volume_severity_grows_with_the_share() -> None:
    def severity(tonnes: int) -> Severity:
        [alert] = detect_volume_concentration(
            [*filler(1000 - tonnes), *buys("E4", tonnes, *[100] * (tonnes // 100))], RULES
        )
        return alert.severity

    assert severity(599) == Severity.low
    assert severity(600) == Severity.medium
    assert severity(899) == Severity.medium
    assert severity(900) == Severity.high


def test_volume_thresholds_are_taken_from_the_rules() -> None:
    trades = [*filler(600), *buys("E4", 400, 100, 100, 100)]  # 40% of 1,000 t
    assert len(detect_volume_concentration(trades, RULES)) == 1
    assert detect_volume_concentration(trades, SupervisionRules(volume_share_pct=41)) == []
    assert detect_volume_concentration(trades, SupervisionRules(volume_min_t=1001)) == []
    low = SupervisionRules(volume_share_pct=10, volume_min_t=0)
    assert len(detect_volume_concentration(filler(30), low)) == 2  # one 30 t trade, both sides


def test_running_the_volume_detector_twice_gives_the_same_alerts() -> None:
    trades = [
        trade("T1", "E4", "E7", 400),
        *filler(600),
        trade("T2", "E5", "E7", 300, day=TUESDAY),
        trade("T3", "E5", "E8", 700, day=TUESDAY),
    ]
    first = detect_volume_concentration(trades, RULES)
    # In the order of each holder's first trade on that side of that day.
    assert keys(first) == [
        "concentration:volume:CEA-2023:2024-03-04:E4:buy",
        "concentration:volume:CEA-2023:2024-03-04:E7:sell",
        "concentration:volume:CEA-2023:2024-03-05:E5:buy",
        "concentration:volume:CEA-2023:2024-03-05:E7:sell",
        "concentration:volume:CEA-2023:2024-03-05:E8:sell",
    ]
    assert [a.severity for a in first][2] == Severity.high  # E5 bought the whole day
    assert detect_volume_concentration(trades, RULES) == first


# --- holdings --------------------------------------------------------------------------------


def test_a_large_holder_raises_an_alert_with_its_share_of_all_holdings() -> None:
    holdings = Holdings(CEA, {"E2": 250_000, "E1": 400_000, "E3": 200_000, "E4": 150_000, "E5": 0})
    assert detect_holdings_concentration(holdings, RULES) == [
        Alert(
            type=AlertType.concentration,
            severity=Severity.low,
            key="concentration:holdings:CEA-2023:E1",
            instrument=CEA,
            accounts=("E1",),
            orders=(),
            trades=(),
            explanation=(
                "E1 holds 400,000 t of CEA-2023: 40.00% of the 1,000,000 t held by the 4"
                " holders counted, at or above the 30% threshold"
            ),
        )
    ]


def test_a_large_holder_just_under_the_share_raises_nothing() -> None:
    under = Holdings(CEA, {"E1": 299_999, "E2": 250_000, "E3": 250_000, "E4": 200_001})
    assert detect_holdings_concentration(under, RULES) == []
    at = Holdings(CEA, {"E1": 300_000, "E2": 250_000, "E3": 250_000, "E4": 200_000})
    assert keys(detect_holdings_concentration(at, RULES)) == ["concentration:holdings:CEA-2023:E1"]


def test_large_holders_come_largest_first_then_by_id() -> None:
    holdings = Holdings(CEA, {"E9": 35, "E2": 30, "E1": 35})
    assert keys(detect_holdings_concentration(holdings, RULES)) == [
        "concentration:holdings:CEA-2023:E1",
        "concentration:holdings:CEA-2023:E9",
        "concentration:holdings:CEA-2023:E2",
    ]


def test_holdings_severity_and_threshold_follow_the_rules() -> None:
    def alerts(units: int, rules: SupervisionRules = RULES) -> list[Alert]:
        others = {f"F{i}": 1 for i in range(100 - units)}
        return detect_holdings_concentration(Holdings(CEA, {"E1": units, **others}), rules)

    assert [a.severity for a in alerts(59)] == [Severity.low]
    assert [a.severity for a in alerts(60)] == [Severity.medium]
    assert [a.severity for a in alerts(90)] == [Severity.high]
    assert alerts(40, SupervisionRules(holdings_share_pct=41)) == []
    assert len(alerts(41, SupervisionRules(holdings_share_pct=41))) == 1


def test_no_units_held_raises_nothing() -> None:
    assert detect_holdings_concentration(Holdings(CEA, {}), RULES) == []
    assert detect_holdings_concentration(Holdings(CEA, {"E1": 0}), RULES) == []


def test_running_the_holdings_detector_twice_gives_the_same_alerts() -> None:
    holdings = Holdings(CEA, {"E1": 500, "E2": 400, "E3": 100})
    first = detect_holdings_concentration(holdings, RULES)
    assert keys(first) == [
        "concentration:holdings:CEA-2023:E1",
        "concentration:holdings:CEA-2023:E2",
    ]
    assert detect_holdings_concentration(holdings, RULES) == first
