"""The web dashboard: a static single-page app served by `cets serve` beside the API.

The pages are plain HTML, CSS and JavaScript modules under `static/` (no build step); they call
the same `/v1` API as every other client, with the person's key in the `X-API-Key` header, and
follow the market over the server-sent events stream. The one library, TradingView's
lightweight-charts, is fetched from the npm registry at build time by `scripts/web-vendor.py`
(`make web`) into `static/vendor/`: nothing is loaded from a CDN at run time.

`mount` serves it at `/ui/` and sends `/` there.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
CHARTS = STATIC / "vendor" / "lightweight-charts.standalone.production.js"


def mount(app: FastAPI) -> None:
    """Serve the dashboard at `/ui/` (index.html for the directory) and redirect `/` to it."""
    app.mount("/ui", StaticFiles(directory=STATIC, html=True), name="ui")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/")
