"""The FastAPI application: `/v1` routes, OpenAPI at `/docs` (Swagger UI) and `/redoc`,
`GET /healthz` without auth, and the web dashboard at `/ui/` (`entrypoints.web`).

Routes are adapters: they parse, call a service, map the result (no SQL, no rules). Errors are
problem+json (see `errors`). `create_app` takes its store, clock and policy, so tests and
`cets serve` build the same app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from cets.adapters.sql.store import SqlStore
from cets.domain.policy import Policy
from cets.entrypoints import web
from cets.entrypoints.api.deps import Services
from cets.entrypoints.api.errors import (
    ApiError,
    on_api_error,
    on_http_error,
    on_validation_error,
)
from cets.entrypoints.api.routes import (
    access,
    auctions,
    compliance,
    funds,
    holders,
    registry,
    settlement,
    stream,
    supervision,
    venue,
)
from cets.service.clock import Clock, SystemClock
from cets.service.day_close import DayCloser
from cets.service.polling import Poller
from cets.service.surveillance import Surveillance


def create_app(
    store: SqlStore,
    *,
    clock: Clock | None = None,
    policy: Policy | None = None,
    close_days: bool = False,
    pollers: Sequence[Callable[[Services], Poller]] = (),
) -> FastAPI:
    """The app over `store`. With `close_days` (what `cets serve` does) it also closes each
    trading day at 15:00 by itself (`DayCloser`): first a missed day, before serving; and runs
    supervision's live scan every few seconds (`Surveillance`). `pollers` make more background
    threads over the services, started after those and stopped first (the demo's traders)."""
    services = Services.build(store, clock or SystemClock(), policy or Policy())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not close_days:
            yield
            return
        closer = DayCloser(services.exchange)
        await run_in_threadpool(closer.run_once)
        closer.start()
        watcher = Surveillance(services.supervision)
        watcher.start()
        extra = [make(services) for make in pollers]
        for poller in extra:
            poller.start()
        try:
            yield
        finally:
            for poller in extra:
                await run_in_threadpool(poller.stop)
            await run_in_threadpool(watcher.stop)
            await run_in_threadpool(closer.stop)

    # Swagger UI and ReDoc from the assets fastapi-offline ships: no CDN at run time.
    app = FastAPIOffline(
        title="CETS",
        version="1",
        summary="The national carbon emission allowance system: registry API",
        description="Authenticate with the `X-API-Key` header. Errors are RFC 9457 problem "
        "details with a stable `code`. Every write takes a `client_id`: repeating it with the "
        "same body returns the first answer.",
        lifespan=lifespan,
    )
    app.state.services = services
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
    app.include_router(auctions.router)
    app.include_router(stream.router)
    app.include_router(funds.router)
    app.include_router(settlement.router)
    app.include_router(compliance.router)
    app.include_router(supervision.router)
    web.mount(app)  # the dashboard at /ui/
    return app
