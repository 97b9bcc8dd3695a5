"""OWASP API8:2023 Security Misconfiguration.

Every kind of response, errors and static files included, carries the security headers; a 500 says
nothing of the internals, whether a route or a middleware failed; CORS grants nothing by default and
never ``*`` with credentials; production refuses the development secret and turns on HSTS; the
real server names no software, and token responses are never cached.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import ValidationError

from shelf.app import create_app
from shelf.settings import DEVELOPMENT_SECRET_KEY, Settings, load_settings
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem, create, product_payload
from tests.process import running_server
from tests.security.conftest import PASSWORD, AppMaker, connect

COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}
DEAD_DATABASE = "postgresql://shelf:s3cr3t-db-pw@127.0.0.1:1/shelf_nowhere"
LEAKS = [
    "Traceback",
    'File "',
    "s3cr3t",
    "secret internals",
    "RuntimeError",
    "sqlalchemy",
    "asyncpg",
    "ConnectionRefused",
    "Connect call failed",
    "127.0.0.1:1",
    "shelf_nowhere",
    "site-packages",
    "uvicorn",
]


def assert_secured(response: httpx.Response, *, page: bool = False) -> None:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    for name, value in COMMON_HEADERS.items():
        assert response.headers.get(name) == value, f"{name} missing on {where}"
    policy = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, f"no frame-ancestors on {where}"
    if page:
        assert "script-src 'self'" in policy, where
        assert "'unsafe-inline'" not in policy, where
        assert "'unsafe-eval'" not in policy, where
    else:
        assert policy.startswith("default-src 'none'"), f"{where}: {policy}"


def assert_no_leaks(response: httpx.Response) -> None:
    for leak in LEAKS:
        assert leak.lower() not in response.text.lower(), f"{leak!r} leaks in {response.text[:300]}"
        for name, value in response.headers.items():
            assert leak.lower() not in value.lower(), f"{leak!r} leaks in the {name} header"


@pytest.fixture
async def exploding(make_app: AppMaker) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app()

    async def explode() -> None:
        raise RuntimeError("secret internals: password=s3cr3t at /srv/shelf/site-packages")

    app.add_api_route("/api/v1/explode", explode)
    async with connect(app, raise_app_exceptions=False) as http:
        yield http


async def test_every_kind_of_response_carries_the_security_headers(
    http: httpx.AsyncClient, keys: Keys, exploding: httpx.AsyncClient, make_app: AppMaker
) -> None:
    editor = keys.auth("editor")
    product = await create(http, editor)
    url = f"/api/v1/products/{product['id']}"
    responses = [
        await http.get("/healthz"),
        await http.get("/openapi.json"),
        await http.get("/docs/assets/swagger-ui.css"),
        await http.get("/api/v1/products"),
        await http.post("/api/v1/products", json=product_payload(), headers=editor),  # 201
        await http.get(url, headers={"If-None-Match": '"1"'}),  # 304
        await http.get("/api/v1/users"),  # 401
        await http.get("/api/v1/users", headers=editor),  # 403
        await http.get(f"/api/v1/products/{uuid.uuid4()}"),  # 404
        await http.get("/nowhere"),  # 404 outside the API
        await http.put("/api/v1/products"),  # 405
        await http.post(
            "/api/v1/products", content=b"{", headers=editor | {"Content-Type": "application/json"}
        ),
        await http.post("/api/v1/products", content=b"x" * (1024 * 1024 + 1), headers=editor),  # 413
        await http.patch(url, json={"stock": 1}, headers=editor),  # 428
        await http.get("/api/v1/products", params={"limit": 1000}),  # 422
        await http.delete(url, headers=editor | {"If-Match": '"1"'}),  # 204
        await exploding.get("/api/v1/explode"),  # 500
    ]
    async with connect(make_app(rate_limit_anonymous="1/minute")) as limited:
        await limited.get("/api/v1/products")
        responses.append(await limited.get("/api/v1/products"))  # 429
    statuses = {response.status_code for response in responses}
    assert {200, 201, 204, 304, 400, 401, 403, 404, 405, 413, 422, 428, 429, 500} <= statuses
    for response in responses:
        assert_secured(response)
    assert_secured(await http.get("/docs"), page=True)


async def test_a_failing_route_answers_500_without_internals(exploding: httpx.AsyncClient) -> None:
    response = await exploding.get("/api/v1/explode", headers={"X-Request-ID": "trace-me-0001"})
    body = assert_problem(response, 500)
    assert body["request_id"] == "trace-me-0001"
    assert set(body) == {"type", "title", "status", "detail", "request_id"}
    assert_no_leaks(response)


async def test_a_dead_database_answers_500_without_internals() -> None:
    app = create_app(Settings(database_url=DEAD_DATABASE, env="test", log_level="warning"))
    assert app.debug is False
    try:
        async with connect(app, raise_app_exceptions=False) as http:
            for headers in (
                {},
                {"Authorization": "Bearer shelf_some-key-to-look-up"},
            ):  # route, then middleware
                response = await http.get("/api/v1/products", headers=headers)
                assert_problem(response, 500)
                assert_secured(response)
                assert_no_leaks(response)
            assert (await http.get("/healthz")).status_code == 200  # liveness does not need the database
    finally:
        await app.state.container.aclose()


async def test_cross_origin_access_is_off_by_default_and_never_any_origin_with_credentials(
    http: httpx.AsyncClient, make_app: AppMaker
) -> None:
    evil = "https://evil.example.net"
    simple = await http.get("/api/v1/products", headers={"Origin": evil})
    preflight = await http.options(
        "/api/v1/products", headers={"Origin": evil, "Access-Control-Request-Method": "POST"}
    )
    for response in (simple, preflight):
        assert not any(name.startswith("access-control-") for name in response.headers)
    with pytest.raises(ValidationError, match="credentials"):
        Settings(cors_origins="*", cors_allow_credentials=True)
    shop = "https://shop.example.com"
    async with connect(make_app(cors_origins=shop, cors_allow_credentials=True)) as allowed:
        granted = await allowed.get("/api/v1/products", headers={"Origin": shop})
        assert granted.headers["access-control-allow-origin"] == shop
        assert granted.headers["access-control-allow-credentials"] == "true"
        assert "origin" in granted.headers.get("vary", "").lower()
        refused = await allowed.get("/api/v1/products", headers={"Origin": evil})
        assert "access-control-allow-origin" not in refused.headers
        evil_preflight = await allowed.options(
            "/api/v1/users", headers={"Origin": evil, "Access-Control-Request-Method": "DELETE"}
        )
        assert evil_preflight.headers.get("access-control-allow-origin") in (None, "null")
        assert evil_preflight.status_code >= 400


@pytest.mark.parametrize(
    "secret", [{}, {"secret_key": DEVELOPMENT_SECRET_KEY}, {"secret_key": "too-short-for-production"}]
)
def test_production_refuses_the_development_or_a_weak_secret(
    secret: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHELF_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="SHELF_SECRET_KEY"):
        Settings(env="production", **secret)
    assert Settings(env="production", secret_key="r" * 48).env == "production"


def test_production_refuses_the_development_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHELF_ENV", "production")
    monkeypatch.delenv("SHELF_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="SHELF_SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("SHELF_SECRET_KEY", "s" * 48)
    assert load_settings().env == "production"


async def test_production_sends_hsts_and_development_does_not(
    http: httpx.AsyncClient, make_app: AppMaker
) -> None:
    assert "strict-transport-security" not in (await http.get("/healthz")).headers
    async with connect(make_app(env="production", secret_key="h" * 48)) as production:
        for url in ("/healthz", "/api/v1/products", "/nowhere"):
            hsts = (await production.get(url)).headers.get("strict-transport-security", "")
            max_age = re.search(r"max-age=(\d+)", hsts)
            assert max_age, url
            assert int(max_age.group(1)) >= 180 * 24 * 3600, url


async def test_tokens_and_secrets_are_never_cached(
    http: httpx.AsyncClient, keys: Keys, users: dict[str, str]
) -> None:
    creds = {"username": users["viewer"], "password": PASSWORD}
    pair = await http.post("/api/v1/auth/token", data=creds)
    responses = [
        pair,
        await http.post("/api/v1/auth/refresh", json={"refresh_token": pair.json()["refresh_token"]}),
        await http.post("/api/v1/auth/session", data=creds),
        await http.get("/api/v1/auth/me", headers=keys.auth("viewer")),
        await http.post("/api/v1/apikeys", json={"name": "cached?"}, headers=keys.auth("admin")),
    ]
    for response in responses:
        assert response.status_code < 300, response.text
        assert "no-store" in response.headers.get("cache-control", ""), response.request.url.path


async def test_trace_is_not_echoed(http: httpx.AsyncClient) -> None:
    response = await http.request("TRACE", "/api/v1/products", headers={"Cookie": "shelf_session=stolen-me"})
    assert_problem(response, 405)
    assert "stolen-me" not in response.text


async def raw_get(base_url: str, raw_path: str) -> tuple[int, bytes]:
    """One HTTP/1.1 request with the path exactly as given (clients normalise ``..`` away)."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(f"GET {raw_path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return int(answer.split(b" ", 2)[1]), answer


@pytest.mark.e2e
@pytest.mark.xdist_group("e2e")
async def test_the_real_server_names_no_software_leaks_nothing_and_serves_no_files_outside_its_assets() -> (
    None
):
    with running_server(DEAD_DATABASE) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            health = await http.get("/healthz")
            assert "server" not in health.headers
            assert "x-powered-by" not in health.headers
            assert_secured(health)
            failed = await http.get("/api/v1/products")
            assert_problem(failed, 500)
            assert_secured(failed)
            assert_no_leaks(failed)
        assert (await raw_get(base_url, "/docs/assets/swagger-ui.css"))[0] == 200  # the assets are there
        for raw_path in (
            "/docs/assets/../../../../../../etc/passwd",
            "/docs/assets/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
            "/docs/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "/docs/assets/../../settings.py",
        ):
            status, answer = await raw_get(base_url, raw_path)
            assert status in {400, 404}, f"{raw_path}: {answer[:200]!r}"
            assert b"root:" not in answer
            assert b"SecretStr" not in answer


async def test_a_race_for_the_same_email_is_a_conflict_not_a_server_error(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    for round_ in range(3):  # a race may be lost by chance; three rounds make it near certain
        new = {"email": f"race-{round_}@security.test", "password": PASSWORD, "role": "viewer"}
        answers = await asyncio.gather(
            *(http.post("/api/v1/users", json=new, headers=keys.auth("admin")) for _ in range(4))
        )
        assert sorted(response.status_code for response in answers) == [201, 409, 409, 409], f"round {round_}"
