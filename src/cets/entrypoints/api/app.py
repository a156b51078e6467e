"""The FastAPI application: `/v1` routes, OpenAPI at `/docs` (Swagger UI) and `/redoc`,
`GET /healthz` without auth.

Routes are adapters: they parse, call a service, map the result (no SQL, no rules). Errors are
problem+json (see `errors`). `create_app` takes its store, clock and policy, so tests and
`cets serve` build the same app.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import Policy
from cets.entrypoints.api.deps import Services
from cets.entrypoints.api.errors import (
    ApiError,
    on_api_error,
    on_http_error,
    on_validation_error,
)
from cets.entrypoints.api.routes import access, holders, registry, venue
from cets.service.clock import Clock, SystemClock


def create_app(
    store: SqlStore, *, clock: Clock | None = None, policy: Policy | None = None
) -> FastAPI:
    # Swagger UI and ReDoc from the assets fastapi-offline ships: no CDN at run time.
    app = FastAPIOffline(
        title="CETS",
        version="1",
        summary="The national carbon emission allowance system: registry API",
        description="Authenticate with the `X-API-Key` header. Errors are RFC 9457 problem "
        "details with a stable `code`. Every write takes a `client_id`: repeating it with the "
        "same body returns the first answer.",
    )
    app.state.services = Services.build(store, clock or SystemClock(), policy or Policy())
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)

    @app.get("/healthz", tags=["health"], summary="Liveness: answers without auth")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(registry.router)
    app.include_router(holders.router)
    app.include_router(access.router)
    app.include_router(venue.router)
    return app
