"""Gateway behaviour every route shares: request ids, problem documents, offline API docs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from shelf.app import create_app
from shelf.settings import Settings


@pytest.fixture
async def exploding_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)

    async def explode() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.add_api_route("/explode", explode)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://shelf.test") as client:
        yield client
    await app.state.container.aclose()


async def test_unexpected_errors_are_500_problems_with_the_request_id_and_no_internals(
    exploding_client: httpx.AsyncClient,
) -> None:
    response = await exploding_client.get("/explode", headers={"X-Request-ID": "trace-me-12345"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "trace-me-12345"
    body = response.json()
    assert body["request_id"] == "trace-me-12345"
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    # The boundary sits inside the other gateway layers, so a 500 keeps their headers too.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["traceparent"].startswith("00-")


async def test_request_ids_are_echoed_or_generated(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-DEF_123.456"})
    assert given.headers["x-request-id"] == "abc-DEF_123.456"
    generated = await client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    for insane in ("short", "x" * 200, "has spaces in it", "<script>alert(1)</script>"):
        replaced = await client.get("/healthz", headers={"X-Request-ID": insane})
        assert replaced.headers["x-request-id"] != insane


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong_method = await client.put("/api/v1/products")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"


async def test_api_docs_work_offline(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    remote = re.search(r"(src|href)=[\"']?https?://", page.text)
    assert remote is None, "the docs page must not load remote assets"
    assets = re.findall(r"(?:src|href)=[\"'](/docs/assets/[^\"']+)", page.text)
    assert len(assets) >= 2
    for asset in assets:
        assert (await client.get(asset)).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert {"/api/v1/products", "/api/v1/products/{product_id}", "/healthz"} <= set(schema["paths"])
    assert "/docs" not in schema["paths"]
    assert set(schema["components"]["securitySchemes"]) == {"bearer", "consoleSession"}
    assert {"bearer": []} in schema["security"]
