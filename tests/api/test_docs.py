"""The API documents itself without the network: /docs and /redoc load only local assets."""

from __future__ import annotations

import re

from conftest import Api


def test_the_docs_pages_load_their_scripts_from_the_app_not_a_cdn(api_sqlite: Api) -> None:
    for page in ("/docs", "/redoc"):
        html = api_sqlite.client.get(page)
        assert html.status_code == 200
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
        urls += re.findall(r"""url: ["']([^"']+)["']""", html.text)
        assert urls, f"{page} references no assets"
        assert all(u.startswith("/") for u in urls), (page, urls)
        for url in urls:
            assert api_sqlite.client.get(url).status_code == 200, url


def test_the_openapi_document_lists_every_v1_route_and_healthz(api_sqlite: Api) -> None:
    spec = api_sqlite.client.get("/openapi.json").json()
    assert "/healthz" in spec["paths"]
    assert "/v1/registry/transfer" in spec["paths"]
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
