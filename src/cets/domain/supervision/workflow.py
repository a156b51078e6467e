"""The supervisor's workflow over an alert: its states, the resolutions that close it and the
measures that can be taken on it (DOMAIN.md, "Supervision": risk warning letter, restrict an
account, freeze, report to the authority).

States: `open` (raised by a detector) -> `investigating` (a supervisor took it up) -> `closed`
(with a resolution). An open alert may also be closed at once (a supervisor dismisses a plain
false positive as `no_violation`); a closed alert stays closed: new evidence on the same matter
raises a new alert (`cets.service.supervision`). A measure is taken on an alert that is not
closed; taking one on an open alert puts it under investigation (somebody is acting on it).

What each measure does to the account (the service applies it in the same transaction as the
record): `risk_warning_letter` and `report_to_authority` are records (the letter's or report's
text is the measure's text); `restrict_account` restricts the holder (nothing may leave its
accounts, DOMAIN.md "Accounts"); `freeze` freezes the whole account.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from cets.domain.errors import DomainError, RejectCode


class AlertState(StrEnum):
    open = "open"
    investigating = "investigating"
    closed = "closed"


class Resolution(StrEnum):
    no_violation = "no_violation"  # looked into: nothing wrong (a false positive)
    warning_issued = "warning_issued"  # a risk warning was the answer
    measures_taken = "measures_taken"  # the account was restricted or frozen
    referred_to_authority = "referred_to_authority"  # the competent authority takes it over


class Measure(StrEnum):
    risk_warning_letter = "risk_warning_letter"
    restrict_account = "restrict_account"
    freeze = "freeze"
    report_to_authority = "report_to_authority"


# The holder state change a measure makes (registry_states.STATE_CHANGES names), if any.
MEASURE_STATE_CHANGE: dict[Measure, str] = {
    Measure.restrict_account: "restrict",
    Measure.freeze: "freeze_account",
}

_NEXT: dict[AlertState, frozenset[AlertState]] = {
    AlertState.open: frozenset({AlertState.investigating, AlertState.closed}),
    AlertState.investigating: frozenset({AlertState.closed}),
    AlertState.closed: frozenset(),
}


def move(alert_id: str, current: str, wanted: AlertState) -> AlertState:
    """The state `wanted`, if an alert in `current` may go there."""
    if wanted not in _NEXT[AlertState(current)]:
        raise DomainError(
            RejectCode.alert_state_does_not_allow,
            f"alert {alert_id} is {current}: it cannot become {wanted}",
            field="alert",
        )
    return wanted


def after_measure(alert_id: str, current: str) -> AlertState:
    """The alert's state once a measure is taken on it: refused on a closed alert; an open one is
    then under investigation."""
    if current == AlertState.closed:
        raise DomainError(
            RejectCode.alert_state_does_not_allow,
            f"alert {alert_id} is closed: no measure can be taken on it",
            field="alert",
        )
    return AlertState.investigating


E = TypeVar("E", bound=StrEnum)


def parse_choice(kind: type[E], value: object, field: str) -> E:
    """`value` as one of `kind`'s names, or `invalid_field` naming `field` and the choices."""
    try:
        return kind(str(value))
    except ValueError:
        choices = ", ".join(k.value for k in kind)
        raise DomainError(
            RejectCode.invalid_field,
            f"{field} {value!r}, was expected one of {choices}",
            field=field,
        ) from None
