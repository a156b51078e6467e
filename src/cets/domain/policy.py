"""Policy: every configurable rule of DOMAIN.md in one frozen value, with national defaults.

Values here are configuration, not constants: a deployment, a compliance period or a scenario's
`config:` block overrides them through `Policy.with_overrides`, which refuses unknown keys and
values of the wrong type or sign with a message naming the key. Money is in fen, quantities in
tonnes, rates in basis points or whole percent as their names say.

Choices where DOMAIN.md gives no number (written down here so they are found):
- fees default to 0 bps per side until the exchange operator sets a schedule;
- the large-holder report fires at 80% of the position limit;
- four-eyes is off unless configured on (scenarios turn it on with `four_eyes: true`);
  transfers above 100,000 t need a second person when it is on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import Any

from cets.domain.compliance.rules import PeriodRules
from cets.domain.supervision.rules import SupervisionRules


class PolicyError(ValueError):
    """A configuration value that cannot be used; names the key and the rule."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config {key}: {message}")
        self.key = key


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    buyer_bps: int = 0
    seller_bps: int = 0
    min_fee_fen: int = 0


@dataclass(frozen=True, slots=True)
class PositionLimit:
    key_emitter_extra_t: int = 1_000_000  # on top of the emitter's allocation for the period
    other_t: int = 1_000_000


# DOMAIN.md: issuance, judicial deduction, forced surrender, account closure and transfers above
# a threshold need a second person.
# Confirming a settlement run is the registry operator's, checked by a second person when
# four-eyes is on (DOMAIN.md, "Settlement"; the "four-eyes when configured").
FOUR_EYES_OPS = (
    "issue",
    "deduct",
    "forced_surrender",
    "close_account",
    "transfer",
    "confirm_settlement",
)


@dataclass(frozen=True, slots=True)
class Policy:
    # Trading (DOMAIN.md, "Trading")
    tick_fen: int = 1
    lot_t: int = 1
    listed_min_t: int = 1
    listed_max_t: int = 99_999
    block_min_t: int = 100_000
    band_listed_pct: int = 10
    band_block_pct: int = 30
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    t_plus: int = 1
    position_limit: PositionLimit | None = field(default_factory=PositionLimit)
    large_holder_pct: int = 80
    # Supervision's detector thresholds (`config: {supervision: {spoof_min_t: 5000, ...}}`).
    supervision: SupervisionRules = field(default_factory=SupervisionRules)
    # Trading days: weekends and these ISO dates ("2024-10-01") are closed; sorted, no repeats.
    holidays: tuple[str, ...] = ()
    # Compliance (DOMAIN.md, "Allocation and compliance")
    pre_allocation_pct: int = 70
    gap_cap_pct: int | None = 20  # None: the 20% gap cap is off
    offset_cap_pct: int = 5
    relief_gap_pct: int = 10
    relief_borrow_pct: int = 50
    relief: bool = True  # the relief rule (borrowing from the next vintage) on or off
    banking: bool = True  # CEA of earlier vintages may be surrendered
    penalty_multiple: int = 5  # times the shortfall's value (Interim Regulation, art. 24: 5-10)
    penalty_reference_price_fen: int = 0  # the price when no CEA traded before the deadline
    shortfall_deduction: bool = True  # a shortfall comes off the next allocation
    # A year's surrender deadline: this month-day in the following year (China's national
    # market: 2023's obligations were due by 31 December 2024).
    compliance_deadline: str = "12-31"
    # Four-eyes approval (DOMAIN.md, "Institutions and users")
    four_eyes: bool = False
    four_eyes_ops: tuple[str, ...] = FOUR_EYES_OPS
    four_eyes_transfer_threshold_t: int = 100_000  # transfers above this need a second person
    approval_expiry_s: int = 72 * 3600  # a pending request lapses after this long
    # Settlement (DOMAIN.md, "Settlement"): the system confirms a day's run itself when its
    # reconciliation shows no break (and four-eyes does not ask for a person); false: the
    # registry operator confirms every run.
    settlement_auto_confirm: bool = True

    def period_rules(self) -> PeriodRules:
        """The rules a compliance period starts from (each period may switch them)."""
        return PeriodRules(
            pre_allocation_pct=self.pre_allocation_pct,
            gap_cap_pct=self.gap_cap_pct,
            offset_cap_pct=self.offset_cap_pct,
            relief=self.relief,
            relief_gap_pct=self.relief_gap_pct,
            relief_borrow_pct=self.relief_borrow_pct,
            banking=self.banking,
            penalty_multiple=self.penalty_multiple,
            penalty_reference_price_fen=self.penalty_reference_price_fen,
            shortfall_deduction=self.shortfall_deduction,
        )

    def needs_approval(self, kind: str, params: dict[str, Any]) -> bool:
        """Whether an operation must wait for a second person (four-eyes)."""
        if not self.four_eyes or kind not in self.four_eyes_ops:
            return False
        if kind == "transfer":
            return int(params.get("quantity", 0)) > self.four_eyes_transfer_threshold_t
        return True

    def with_overrides(self, config: dict[str, Any]) -> Policy:
        """A copy with `config` applied; the keys are the scenario file's (SCENARIOS.md)."""
        if not isinstance(config, dict):
            raise PolicyError("config", "expected a mapping of keys to values")
        changes: dict[str, Any] = {}
        simple = {f.name for f in fields(self)} - {
            "fees",
            "position_limit",
            "supervision",
            "four_eyes_ops",
            "holidays",
            "settlement_auto_confirm",
            "compliance_deadline",
            *_FLAGS,
        }
        for key, value in config.items():
            if key == "fees_bps":
                changes["fees"] = _fees(value, self.fees)
            elif key == "band_pct":
                band = _mapping(key, value, {"listed", "block"})
                changes["band_listed_pct"] = _int(
                    f"{key}.listed", band.get("listed", self.band_listed_pct)
                )
                changes["band_block_pct"] = _int(
                    f"{key}.block", band.get("block", self.band_block_pct)
                )
            elif key == "position_limit":
                changes["position_limit"] = _position_limit(value)
            elif key == "supervision":
                changes[key] = _supervision(value, self.supervision)
            elif key == "gap_cap_pct":
                changes[key] = None if value in (False, "off") else _int(key, value)
            elif key == "compliance_deadline":
                changes[key] = _month_day(key, value)
            elif key in ("four_eyes", "settlement_auto_confirm", *_FLAGS):
                if not isinstance(value, bool):
                    raise PolicyError(key, f"{value!r}, was expected true or false")
                changes[key] = value
            elif key == "four_eyes_ops":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise PolicyError(key, f"{value!r}, was expected a list of operation names")
                changes[key] = tuple(value)
            elif key == "holidays":
                changes[key] = _holidays(value)
            elif key in simple:
                changes[key] = _int(key, value)
            else:
                raise PolicyError(str(key), "unknown key")
        return replace(self, **changes)


_FLAGS = ("relief", "banking", "shortfall_deduction")


def _month_day(key: str, value: Any) -> str:
    """A month-day like "12-31" (a real day of a leap year)."""
    try:
        month, day = (int(part) for part in str(value).split("-"))
        date(2024, month, day)
    except ValueError:
        raise PolicyError(key, f"{value!r}, was expected a month-day like 12-31") from None
    return f"{month:02d}-{day:02d}"


def _int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(key, f"{value!r}, was expected a whole number")
    if value < 0:
        raise PolicyError(key, f"{value}, was expected >= 0")
    return value


def _mapping(key: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(key, f"{value!r}, was expected a mapping")
    unknown = set(value) - allowed
    if unknown:
        raise PolicyError(f"{key}.{sorted(unknown)[0]}", "unknown key")
    return value


def _fees(value: Any, current: FeeSchedule) -> FeeSchedule:
    fees = _mapping("fees_bps", value, {"buyer", "seller", "min_fee_fen"})
    return FeeSchedule(
        _int("fees_bps.buyer", fees.get("buyer", current.buyer_bps)),
        _int("fees_bps.seller", fees.get("seller", current.seller_bps)),
        _int("fees_bps.min_fee_fen", fees.get("min_fee_fen", current.min_fee_fen)),
    )


def _holidays(value: Any) -> tuple[str, ...]:
    """YYYY-MM-DD dates, as strings or as the `date` objects YAML makes of unquoted dates."""
    if not isinstance(value, list | tuple):
        raise PolicyError("holidays", f"{value!r}, was expected a list of dates like 2024-10-01")
    days = {_holiday(f"holidays[{i}]", item) for i, item in enumerate(value)}
    return tuple(day.isoformat() for day in sorted(days))


def _holiday(key: str, value: Any) -> date:
    if type(value) is date:
        return value
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if day.isoformat() == value.strip():  # YYYY-MM-DD only, not 20241001 or 2024-W40-2
                return day
    raise PolicyError(key, f"{value!r}, was expected an ISO date like 2024-10-01")


def _position_limit(value: Any) -> PositionLimit | None:
    if value in (False, "off", None):
        return None
    limit = _mapping("position_limit", value, {"key_emitter_extra_t", "other_t"})
    default = PositionLimit()
    return PositionLimit(
        _int(
            "position_limit.key_emitter_extra_t",
            limit.get("key_emitter_extra_t", default.key_emitter_extra_t),
        ),
        _int("position_limit.other_t", limit.get("other_t", default.other_t)),
    )


def _supervision(value: Any, current: SupervisionRules) -> SupervisionRules:
    """Detector thresholds by name, e.g. `{spoof_min_t: 5000, close_move_bps: 50}`."""
    names = {f.name for f in fields(current)}
    rules = _mapping("supervision", value, names)
    return replace(current, **{k: _int(f"supervision.{k}", v) for k, v in rules.items()})
