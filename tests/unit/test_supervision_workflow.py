"""The pure parts of supervision's workflow and large-holder reports: which state may follow
which, what a measure does to an alert, the reporting threshold, crossings and the daily
history, and which alerts wait for the day's close."""

from __future__ import annotations

from datetime import date

import pytest

from cets.domain.errors import DomainError, RejectCode
from cets.domain.supervision.alerts import Alert, AlertType, Severity
from cets.domain.supervision.detect import alert_day, judges_whole_day
from cets.domain.supervision.large_holder import (
    Movement,
    crossings,
    daily_history,
    large_holder_alert,
    reporting_threshold,
)
from cets.domain.supervision.workflow import (
    AlertState,
    Measure,
    Resolution,
    after_measure,
    move,
    parse_choice,
)

D1, D2, D3 = date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)


def test_an_alert_goes_forward_only() -> None:
    assert move("AL1", "open", AlertState.investigating) == AlertState.investigating
    assert move("AL1", "open", AlertState.closed) == AlertState.closed  # a plain false positive
    assert move("AL1", "investigating", AlertState.closed) == AlertState.closed
    for current, wanted in [
        ("investigating", AlertState.investigating),
        ("investigating", AlertState.open),
        ("closed", AlertState.investigating),
        ("closed", AlertState.closed),
    ]:
        with pytest.raises(DomainError) as refused:
            move("AL1", current, wanted)
        assert refused.value.code == RejectCode.alert_state_does_not_allow
        assert "AL1" in refused.value.message and current in refused.value.message


def test_a_measure_takes_an_open_alert_up_and_is_refused_on_a_closed_one() -> None:
    assert after_measure("AL1", "open") == AlertState.investigating
    assert after_measure("AL1", "investigating") == AlertState.investigating
    with pytest.raises(DomainError) as refused:
        after_measure("AL1", "closed")
    assert refused.value.code == RejectCode.alert_state_does_not_allow


def test_choices_are_named_in_the_refusal() -> None:
    assert parse_choice(Measure, "freeze", "measure") == Measure.freeze
    assert parse_choice(Resolution, "no_violation", "resolution") == Resolution.no_violation
    with pytest.raises(DomainError) as refused:
        parse_choice(Measure, "jail", "measure")
    assert refused.value.code == RejectCode.invalid_field and refused.value.field == "measure"
    assert "risk_warning_letter" in refused.value.message


def test_the_threshold_is_a_share_of_the_limit_rounded_up() -> None:
    assert reporting_threshold(10_000, 80) == 8_000
    assert reporting_threshold(10_001, 80) == 8_001  # 8,000.8 rounds up
    assert reporting_threshold(0, 80) == 1


def _m(ordinal: int, change: int, day: date = D1) -> Movement:
    return Movement(ordinal, f"t{ordinal}", "transfer", 1_709_517_600_000_000, day, change)


def test_every_upward_crossing_is_found_oldest_first() -> None:
    # Positions: 0 -> 5,000 -> 8,000 (cross) -> 7,000 -> 9,000 (cross) -> 9,500.
    newest_first = [_m(5, 500), _m(4, 2_000), _m(3, -1_000), _m(2, 3_000), _m(1, 5_000)]
    found = crossings(9_500, newest_first, 8_000)
    assert [(c.movement.ordinal, c.before, c.after) for c in found] == [
        (2, 5_000, 8_000),
        (4, 7_000, 9_000),
    ]
    assert crossings(7_999, [_m(1, 7_999)], 8_000) == []
    assert crossings(9_000, [_m(2, 500)], 8_000) == []  # already above before the window


def test_the_history_is_the_position_at_each_days_end() -> None:
    newest_first = [_m(4, -200, D3), _m(3, 700, D2), _m(2, 300, D2), _m(1, 1_000, D1)]
    history = daily_history(1_800, newest_first)
    assert [(d.day, d.position, d.change) for d in history] == [
        (D1, 1_000, 1_000),
        (D2, 2_000, 1_000),
        (D3, 1_800, -200),
    ]


def test_a_large_holder_alert_names_the_crossing() -> None:
    (crossing,) = crossings(9_500, [_m(2, 2_000), _m(1, 7_500)], 8_000)
    alert = large_holder_alert("I1", "CEA-2024", crossing, 8_000, 10_000, ("T7",))
    assert alert.type == AlertType.large_holder and alert.severity == Severity.medium
    assert alert.key == "large_holder:CEA-2024:2024-03-04:I1:2" and alert.trades == ("T7",)
    assert "9,500 t" in alert.explanation and "7,500 t before transfer t2" in alert.explanation
    over = large_holder_alert("I1", "CEA-2024", crossing, 8_000, 9_000, ())
    assert over.severity == Severity.high  # beyond the limit itself


def _alert(type_: AlertType, key: str) -> Alert:
    return Alert(type_, Severity.low, key, "CEA-2024", ("I1",), (), (), "x")


def test_whole_day_rules_are_told_apart_by_their_keys() -> None:
    ratio = _alert(AlertType.spoofing, "spoofing:CEA-2024:2024-03-04:I1:ratio")
    large = _alert(AlertType.spoofing, "spoofing:CEA-2024:2024-03-04:I1:large")
    volume = _alert(AlertType.concentration, "concentration:volume:CEA-2024:2024-03-04:I1:buy")
    holdings = _alert(AlertType.concentration, "concentration:holdings:CEA-2024:I1")
    assert judges_whole_day(ratio) and judges_whole_day(volume)
    assert not judges_whole_day(large) and not judges_whole_day(holdings)
    assert alert_day(volume) == D1 and alert_day(holdings) is None
