"""Security headers on every response, a strict policy for pages, and /docs working under it."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import HTMLResponse, JSONResponse

from shelf.app import create_app
from shelf.settings import Settings

COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
PAGE_DIRECTIVES = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "object-src": ["'none'"],
}

AppFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for directive in policy.split(";"):
        name, *sources = directive.split()
        assert name not in parsed, f"{name} appears twice in {policy!r}"
        parsed[name] = sources
    return parsed


def assert_common_headers(response: httpx.Response) -> None:
    for name, value in COMMON.items():
        assert response.headers.get_list(name) == [value], name
    assert "camera=()" in response.headers["permissions-policy"]


async def html_page() -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>page</title><p>hello</p>")


async def own_headers() -> JSONResponse:
    return JSONResponse(
        {"framed": True},
        headers={"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "frame-ancestors 'self'"},
    )


@pytest.fixture
def running(tmp_path: Path) -> AppFactory:
    """Start an app with settings overrides and the two probe routes above."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        base: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path / 'shelf.db'}", "env": "test"}
        app = create_app(Settings(**(base | {"log_level": "warning"} | overrides)))
        app.add_api_route("/page", html_page)
        app.add_api_route("/own-headers", own_headers)
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://shelf.test") as http:
                yield http
        finally:
            await app.state.container.aclose()

    return start


async def test_api_responses_get_the_headers_and_a_policy_that_allows_nothing(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert_common_headers(response)
    assert response.headers.get_list("content-security-policy") == [API_POLICY]
    assert "strict-transport-security" not in response.headers


async def test_errors_and_static_assets_get_the_headers_too(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    too_large = await client.post(
        "/api/v1/products", content=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )
    asset = await client.get("/docs/assets/swagger-ui.css")
    assert (missing.status_code, too_large.status_code, asset.status_code) == (404, 413, 200)
    for response in (missing, too_large, asset):
        assert_common_headers(response)
        assert response.headers["content-security-policy"] == API_POLICY


async def test_html_pages_get_the_strict_page_policy(running: AppFactory) -> None:
    async with running() as http:
        page = await http.get("/page")
    assert page.headers["content-type"].startswith("text/html")
    assert_common_headers(page)
    assert directives(page.headers["content-security-policy"]) == PAGE_DIRECTIVES


async def test_headers_a_route_sets_are_kept(running: AppFactory) -> None:
    async with running() as http:
        response = await http.get("/own-headers")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers.get_list("content-security-policy") == ["frame-ancestors 'self'"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_hsts_is_sent_only_in_production(running: AppFactory) -> None:
    async with running(env="production", secret_key="p" * 48) as http:
        production = await http.get("/healthz")
    async with running(env="development") as http:
        development = await http.get("/healthz")
    hsts = production.headers.get("strict-transport-security", "")
    assert re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts)
    assert int(hsts.split("=")[1].split(";")[0]) >= 180 * 24 * 3600
    assert "strict-transport-security" not in development.headers


async def test_every_inline_script_of_the_docs_page_is_allowed_by_its_hash(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert_common_headers(page)
    policy = directives(page.headers["content-security-policy"])
    script_sources = policy.pop("script-src")
    assert policy == {name: sources for name, sources in PAGE_DIRECTIVES.items() if name != "script-src"}
    assert "'unsafe-inline'" not in script_sources
    assert "'unsafe-eval'" not in script_sources

    inline_scripts = re.findall(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", page.text, flags=re.DOTALL)
    assert any("SwaggerUIBundle(" in script for script in inline_scripts), (
        "the page no longer starts Swagger UI"
    )
    for script in inline_scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_sources, f"inline script not allowed by the policy: {script!r}"
    assert len(script_sources) == 1 + len(inline_scripts), "the policy allows scripts the page does not have"

    # Styles and event handlers cannot be allowed by a script hash: the page must have none inline.
    assert "<style" not in page.text
    assert re.search(r"\sstyle\s*=", page.text) is None
    assert re.search(r"\son[a-z]+\s*=", page.text) is None
