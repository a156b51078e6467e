"""Errors as RFC 9457 problem details (`application/problem+json`) with a stable `code`.

`code` is a `RejectCode` value (or `not_authenticated`); clients branch on it, never on `detail`.
The HTTP status follows the kind of refusal: the request's shape 422, who may do it 401/403, what
it names 404 (a path) or 422 (a body field), the ledger's state 409. A body that is not JSON at all
(not UTF-8, say) is a shape problem too: 422 naming `body`, not the framework's plain 400. What the
router itself refuses (no such path, a method it does not route) is problem+json as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from cets.domain.errors import RejectCode

PROBLEM_JSON = "application/problem+json"

_SHAPE = {
    RejectCode.linked_event_failed,
    RejectCode.linked_event_chain_open,
    RejectCode.invalid_field,
    RejectCode.id_must_not_be_empty,
    RejectCode.flags_are_mutually_exclusive,
    RejectCode.pending_id_must_be_set,
    RejectCode.pending_id_must_not_be_set,
    RejectCode.amount_must_be_positive,
    RejectCode.accounts_must_be_different,
}
_STATUS: dict[str, int] = {code: 422 if code in _SHAPE else 409 for code in RejectCode}
_STATUS.update(
    {
        "not_authenticated": 401,
        RejectCode.not_authorized: 403,
        RejectCode.unknown_account: 422,
        RejectCode.unknown_reference: 422,
        RejectCode.unknown_order: 422,
        RejectCode.unknown_instrument: 422,
        RejectCode.unknown_run: 422,  # named by a body field (`corrects`); in a path it is 404
        "not_found": 404,
    }
)


class Problem(BaseModel):
    """RFC 9457 problem details, with the CETS `code` and the offending `field` if one."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None


class ApiError(Exception):
    def __init__(
        self, code: str, detail: str, *, field: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field
        self.status = status or _STATUS.get(code, 409)


def problem(
    code: str,
    detail: str,
    *,
    status: int,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"urn:cets:problem:{code}",
        title=code.replace("_", " "),
        status=status,
        detail=detail,
        code=code,
        field=field,
    )
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "ApiKey"}
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem(exc.code, exc.detail, status=exc.status, field=exc.field)


async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first: dict[str, Any] = exc.errors()[0]
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    # A JSON syntax error's loc is ("body", <character offset>): the field is the body itself.
    name = "body" if first.get("type") == "json_invalid" else ".".join(loc) or "body"
    return problem(
        RejectCode.invalid_field,
        f"{name}: {first.get('msg', 'invalid')}",
        status=422,
        field=name,
    )


async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
    """What the framework refuses before a route runs, as problem+json."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        # FastAPI's 400: a body it could not read as JSON text (not UTF-8, say). The routes
        # raise none of their own; a body they cannot parse is a 422 naming the field.
        return problem(RejectCode.invalid_field, f"body: {exc.detail}", status=422, field="body")
    # 404 for a path no route has, 405 (with `Allow`) for a method the path does not take.
    code = "not_found" if exc.status_code == 404 else HTTPStatus(exc.status_code).name.lower()
    return problem(code, str(exc.detail), status=exc.status_code, headers=exc.headers)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route can give."""
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": "Problem details (RFC 9457)",
        }
        for status in statuses
    }
