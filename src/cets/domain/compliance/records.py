"""What the registry keeps for compliance, as values: an emissions entry in force, a surrender,
a status recorded at a close."""

from __future__ import annotations

from dataclasses import dataclass

from cets.domain.compliance.status import EXCLUDED_YEAR, StatusLine


@dataclass(frozen=True, slots=True)
class EmissionEntry:
    """One entity's verified emissions for one year as the authority enters them: tonnes, or
    None when the year is excluded; a correction carries its reason."""

    account: str
    year: int
    tonnes: int | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Emission:
    holder: str
    year: int
    tonnes: int | None  # None: the year is excluded
    revision: int  # 1: as first entered; more: corrected

    @property
    def value(self) -> int | str:
        return EXCLUDED_YEAR if self.tonnes is None else self.tonnes


@dataclass(frozen=True, slots=True)
class EmissionRecord:
    """One entry of an entity's verified emissions for a year, as kept for ever: revision 1 is
    the first entry, each later one a correction, with the value it replaced and why."""

    holder: str
    year: int
    tonnes: int | None  # None: the year excluded
    revision: int
    previous: int | str | None  # tonnes, EXCLUDED_YEAR, or None for a first entry
    reason: str | None
    command: str
    entered_at: int  # microseconds since the epoch, UTC
    entered_by: str


@dataclass(frozen=True, slots=True)
class SurrenderRow:
    """A surrender to a period. `kind`: surrender (CEA), offset (CCER), borrow (next vintage,
    under the relief rule), forced (ordered by the authority). `state`: pending (an offset not yet
    used), used, rejected, lapsed (an offset still pending when its period closed)."""

    id: str
    holder: str
    period: str
    asset: str
    quantity: int
    kind: str
    state: str
    at: int


@dataclass(frozen=True, slots=True)
class RecordedStatus:
    """A status line as recorded at a close, with the shortfall and its penalty."""

    line: StatusLine
    shortfall: int
    penalty_fen: int
    price_fen: int
