"""Request and response bodies of the compliance routes (`routes/compliance.py`), on the shapes of
`schemas`: strict bodies, whole tonnes as integers, money as text with two decimals, benchmarks
and correction factors as decimal text (never a float). Each command's `id` is its client id.

A file is uploaded as `multipart/form-data` with one part named `file` (its file name tells CSV
from XLSX), the command's id in the query (`?id=`); `read_upload` takes the body apart with the
standard library's MIME parser, so the API needs no multipart package.

Years have the service's bounds (`compliance_base.YEAR_MIN..YEAR_MAX`), and a deadline at most
ten years past them, so what the schema admits the service can compute with."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from datetime import date
from typing import Annotated, Any, Literal

from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field

from cets.adapters.importers.compliance_files import ComplianceFileError
from cets.domain.compliance.allocation import PlanError, PlanLine, decimal_rate
from cets.domain.errors import RejectCode
from cets.entrypoints.api import schemas as s
from cets.entrypoints.api.errors import PROBLEM_JSON, ApiError, Problem
from cets.service.compliance_base import YEAR_MAX, YEAR_MIN

Year = Annotated[int, Field(ge=YEAR_MIN, le=YEAR_MAX, description="a compliance year")]
Count = Annotated[int, Field(ge=0, le=10**15 - 1, description="whole units: 1000, never 1000.0")]
Units = Annotated[int, Field(ge=1, le=10**15 - 1, description="whole tonnes, at least 1")]
Rate = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{1,12}(\.[0-9]{1,12})?$",
        description='a decimal written as text ("0.8210")',
    ),
]
Line = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="an output line's name",
    ),
]
RuleValue = bool | Annotated[int, Field(ge=0, le=10**12)] | Literal["off"] | None


def _deadline_in_range(day: date) -> date:
    if not YEAR_MIN <= day.year <= YEAR_MAX + 10:
        raise ValueError(f"{day}, was expected a date in {YEAR_MIN}..{YEAR_MAX + 10}")
    return day


# Not strict: a date arrives as JSON text, YYYY-MM-DD only (`s.IsoDate`).
Deadline = Annotated[s.IsoDate, Field(strict=False), AfterValidator(_deadline_in_range)]


class PeriodIn(s.Body):
    id: s.ClientId
    first_year: Year
    last_year: Year | None = None
    deadline: Deadline | None = Field(
        default=None, description="the last day to surrender (default: the policy's, next year)"
    )
    cumulative: bool = False
    rules: dict[Annotated[str, Field(max_length=64)], RuleValue] | None = Field(
        default=None,
        description="the period's rules changed from the policy's "
        '({"offset_cap_pct": 10, "gap_cap_pct": "off", "relief": false})',
    )


class OperationYearsIn(s.Body):
    id: s.ClientId
    first_year: Year | None = None
    last_year: Year | None = None


class EmissionIn(s.Body):
    id: s.ClientId
    account: s.HolderRef
    year: Year
    tonnes: Count | None = Field(default=None, description="verified emissions; or `excluded`")
    excluded: bool = Field(default=False, description="true: the year is excluded (no tonnes)")
    reason: s.Text | None = Field(default=None, description="required for a correction")


class PlanLineIn(s.Body):
    year: Year
    account: s.HolderRef
    line: Line
    benchmark: Rate
    factors: Annotated[list[Rate], Field(default_factory=list, max_length=20)]
    previous_output: Count
    verified_output: Count | None = None

    def plan_line(self, i: int) -> PlanLine:
        """The domain's line; the `i`th of the body's `lines`, as a refusal names it."""
        where = f"lines[{i}]"
        try:
            return PlanLine(
                self.year,
                self.account,
                self.line,
                decimal_rate(self.benchmark, field=f"{where}.benchmark"),
                tuple(
                    decimal_rate(f, field=f"{where}.factors[{n}]")
                    for n, f in enumerate(self.factors)
                ),
                self.previous_output,
                self.verified_output,
            )
        except PlanError as exc:
            raise ApiError(RejectCode.invalid_field, str(exc), field=exc.field) from exc


class PlanIn(s.Body):
    id: s.ClientId
    lines: Annotated[list[PlanLineIn], Field(min_length=1, max_length=10_000)]


class OutputIn(s.Body):
    id: s.ClientId
    account: s.HolderRef
    line: Line
    output: Count


class CommandIn(s.Body):
    id: s.ClientId


class OffsetRejectionIn(s.Body):
    id: s.ClientId
    reason: s.Text | None = None


class SurrenderIn(s.Body):
    id: s.ClientId
    account: s.HolderRef
    year: Year
    asset: s.Asset
    quantity: Units


class BorrowIn(s.Body):
    id: s.ClientId
    account: s.HolderRef
    year: Year
    quantity: Units


class CloseIn(s.Body):
    id: s.ClientId
    year: Year


class SurrenderOut(BaseModel):
    id: str
    account: str
    year: int
    period: str | None
    asset: str
    quantity: int
    kind: str | None = Field(description="surrender (CEA) or offset (CCER)")
    state: str = Field(description="used; pending (a CCER offset); pending_approval (four-eyes)")
    replayed: bool = False
    seq: int | None = None


class RatesOut(BaseModel):
    """Compliance rates of the entities shown (A, B or C), as percentages with two decimals."""

    entities: int
    compliant: int = Field(description="entities with status A")
    by_count_pct: str
    obligation: int
    covered: int = Field(description="per entity the least of surrendered and obligation, summed")
    by_volume_pct: str


class StatusRowOut(BaseModel):
    account: str
    status: str = Field(description="A, B, C or EXCLUDED")
    obligation: int
    surrendered: int = Field(description="what counts: CEA, borrowed units, CCER up to the cap")
    offset: int
    offset_pending: int
    borrowed: int
    shortfall: int = Field(description="after the close only")
    penalty: str


class StatusOut(BaseModel):
    period: str
    label: str
    deadline: date
    closed: bool = Field(description="recorded at the close, else evaluated now")
    rates: RatesOut
    rows: list[StatusRowOut]


class RatesTableOut(RatesOut):
    period: str
    label: str
    deadline: date
    closed: bool


class AllocationsOut(BaseModel):
    period: str
    label: str
    vintages: list[str] = Field(description="The vintages the status's obligation counts")
    allocations: dict[str, int] = Field(
        description="By entity: units of those vintages got by allocation, net of true-ups, t"
    )


class EmissionEntryOut(BaseModel):
    revision: int = Field(description="1: the first entry; more: corrections")
    tonnes: int | None = Field(description="null: the year excluded")
    previous: int | str | None = Field(description="what it replaced: tonnes, EXCLUDED or null")
    reason: str | None
    command: str
    entered_at: str = Field(description="Asia/Shanghai time, ISO 8601")
    entered_by: str


class EmissionHistoryOut(BaseModel):
    account: str
    year: int
    entries: list[EmissionEntryOut]


class FileProblemOut(BaseModel):
    row: int = Field(description="the spreadsheet's row (the header is 1); 0: the whole file")
    column: str = Field(description="empty when no one column is at fault")
    value: str
    rule: str


class FileProblemsOut(Problem):
    """A file refused whole: every problem found, each with its row and column."""

    problems: list[FileProblemOut] = Field(default_factory=list)


def file_problems(exc: ComplianceFileError) -> JSONResponse:
    """422 listing every problem of a refused file, each with its row and column."""
    body = FileProblemsOut(
        type=f"urn:cets:problem:{RejectCode.invalid_field}",
        title="invalid field",
        status=422,
        detail=str(exc),
        code=RejectCode.invalid_field,
        field="file",
        problems=[FileProblemOut(**dataclasses.asdict(p)) for p in exc.problems],
    )
    return JSONResponse(body.model_dump(), status_code=422, media_type=PROBLEM_JSON)


MAX_UPLOAD_BYTES = 16 * 1024 * 1024
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "a .csv (UTF-8) or .xlsx file, told by its name",
                        }
                    },
                }
            }
        },
    }
}


def read_upload(content_type: str, body: bytes) -> tuple[str, bytes]:
    """The file name and bytes of the `file` part of a `multipart/form-data` body; anything else
    is `invalid_field` naming `file`."""

    def refuse(why: str) -> ApiError:
        return ApiError(RejectCode.invalid_field, f"file: {why}", field="file")

    if len(body) > MAX_UPLOAD_BYTES:
        raise refuse(f"{len(body)} bytes, was expected at most {MAX_UPLOAD_BYTES}")
    if not content_type.lower().startswith("multipart/form-data"):
        raise refuse("was expected a multipart/form-data body with a part named file")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode(errors="replace")
    message = email.message_from_bytes(head + body, policy=email.policy.HTTP)
    if not message.is_multipart():
        raise refuse("the multipart body could not be read")
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") != "file":
            continue
        name = part.get_filename()
        data = part.get_payload(decode=True)
        if not name or not isinstance(data, bytes):
            raise refuse("the part has no file name (name.csv or name.xlsx)")
        return name, data
    raise refuse("no part named file")
