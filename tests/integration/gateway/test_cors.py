"""CORS from the SHELF_CORS_ORIGINS allowlist: validated settings, preflights, simple requests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from shelf.app import create_app
from shelf.settings import Settings

SHOP = "https://shop.example.com"
EVIL = "https://evil.example.net"
REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "X-Request-ID",
    "traceparent",
]
EXPOSED_HEADERS = ["ETag", "Location", "X-Request-ID", "RateLimit", "RateLimit-Policy", "Retry-After"]

AppFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def header_list(response: httpx.Response, name: str) -> set[str]:
    return {item.strip().lower() for item in response.headers.get(name, "").split(",") if item.strip()}


def preflight(origin: str, method: str = "PATCH", headers: str = "if-match, content-type") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


@pytest.fixture
def running(tmp_path: Path) -> AppFactory:
    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        base: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path / 'shelf.db'}", "env": "test"}
        app = create_app(Settings(**(base | {"log_level": "warning"} | overrides)))
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://shelf.test") as http:
                yield http
        finally:
            await app.state.container.aclose()

    return start


# Settings


def test_origins_are_read_comma_separated_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELF_CORS_ORIGINS", f" {SHOP}, http://localhost:5173,,HTTPS://Admin.Example.com ")
    settings = Settings()
    assert settings.cors_origins == (SHOP, "http://localhost:5173", "https://admin.example.com")
    assert settings.cors_allow_credentials is False


def test_by_default_no_origin_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHELF_CORS_ORIGINS", raising=False)
    assert Settings().cors_origins == ()


@pytest.mark.parametrize(
    "origin",
    [
        f"{SHOP}/",
        f"{SHOP}/api",
        f"{SHOP}?x=1",
        f"{SHOP}#top",
        "shop.example.com",
        "ftp://shop.example.com",
        "https://user@shop.example.com",
        "https://shop.example.com:443",
        "http://shop.example.com:80",
        "https://shop.example.com:99999",
        "https://shop.example.com:0",
        "https://shop example.com",
        "null",
        "https://",
    ],
)
def test_anything_but_scheme_host_port_is_refused(origin: str) -> None:
    with pytest.raises(ValidationError, match="is not an origin"):
        Settings(cors_origins=origin)


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:5173", "https://shop.example.com:8443", "http://127.0.0.1:3000", "http://[::1]:8000"],
)
def test_origins_with_ports_and_ip_addresses_are_accepted(origin: str) -> None:
    assert Settings(cors_origins=origin).cors_origins == (origin,)


def test_any_origin_with_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELF_CORS_ORIGINS", "*")
    monkeypatch.setenv("SHELF_CORS_ALLOW_CREDENTIALS", "true")
    with pytest.raises(ValidationError, match=r"'\*' cannot be combined with SHELF_CORS_ALLOW_CREDENTIALS"):
        Settings()
    monkeypatch.setenv("SHELF_CORS_ALLOW_CREDENTIALS", "false")
    assert Settings().cors_origins == ("*",)


def test_any_origin_cannot_be_mixed_with_a_list() -> None:
    with pytest.raises(ValidationError, match="use it alone"):
        Settings(cors_origins=f"*,{SHOP}")


# Requests


async def test_without_configured_origins_there_is_no_cross_origin_access(running: AppFactory) -> None:
    async with running() as http:
        simple = await http.get("/healthz", headers={"Origin": SHOP})
        options = await http.options("/api/v1/products", headers=preflight(SHOP))
    assert simple.status_code == 200
    assert not any(name.startswith("access-control-") for name in simple.headers)
    assert options.status_code == 405
    assert not any(name.startswith("access-control-") for name in options.headers)


async def test_a_preflight_from_an_allowed_origin_is_answered(running: AppFactory) -> None:
    async with running(cors_origins=SHOP) as http:
        response = await http.options(
            "/api/v1/products/1", headers=preflight(SHOP, "PATCH", ", ".join(REQUEST_HEADERS))
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    assert {"get", "post", "put", "patch", "delete"} <= header_list(response, "access-control-allow-methods")
    assert {h.lower() for h in REQUEST_HEADERS} <= header_list(response, "access-control-allow-headers")
    assert "access-control-allow-credentials" not in response.headers
    assert "origin" in header_list(response, "vary")
    assert response.headers["x-content-type-options"] == "nosniff", "preflight answers get security headers"


async def test_a_preflight_from_another_origin_is_refused(running: AppFactory) -> None:
    async with running(cors_origins=SHOP) as http:
        response = await http.options("/api/v1/products", headers=preflight(EVIL))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_preflight_asking_for_an_unlisted_header_is_refused(running: AppFactory) -> None:
    async with running(cors_origins=SHOP) as http:
        response = await http.options("/api/v1/products", headers=preflight(SHOP, "POST", "x-internal-admin"))
    assert response.status_code == 400


async def test_a_simple_request_from_an_allowed_origin_may_read_the_response(running: AppFactory) -> None:
    async with running(cors_origins=f"{SHOP},http://localhost:5173") as http:
        response = await http.get("/healthz", headers={"Origin": SHOP})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    assert {h.lower() for h in EXPOSED_HEADERS} <= header_list(response, "access-control-expose-headers")
    assert "origin" in header_list(response, "vary"), "caches must not serve one origin's answer to another"
    assert "access-control-allow-credentials" not in response.headers


async def test_a_simple_request_from_another_origin_gets_no_cors_grant(running: AppFactory) -> None:
    async with running(cors_origins=SHOP) as http:
        response = await http.get("/healthz", headers={"Origin": EVIL})
    assert response.status_code == 200  # the browser, not the server, withholds the response
    assert "access-control-allow-origin" not in response.headers
    assert "origin" in header_list(response, "vary")


async def test_credentials_are_allowed_only_when_configured(running: AppFactory) -> None:
    async with running(cors_origins=SHOP, cors_allow_credentials=True) as http:
        simple = await http.get("/healthz", headers={"Origin": SHOP})
        allowed = await http.options("/api/v1/products", headers=preflight(SHOP))
        refused = await http.get("/healthz", headers={"Origin": EVIL})
    assert simple.headers["access-control-allow-origin"] == SHOP
    assert simple.headers["access-control-allow-credentials"] == "true"
    assert allowed.headers["access-control-allow-origin"] == SHOP
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in refused.headers
