"""Rate limits through the whole app, with the in-process store the default settings choose."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shelf.app import create_app
from shelf.platform.ratelimit.memory import MemoryRateLimitStore
from shelf.platform.ratelimit.store import NullRateLimitStore
from shelf.settings import Settings
from tests.conftest import Keys

PRODUCTS = "/api/v1/products"
TINY_LIMITS = {
    "rate_limit_anonymous": "3/minute",
    "rate_limit_authenticated": "5/minute",
    "rate_limit_writes": "2/minute",
    "rate_limit_auth": "2/minute",
}


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


MakeApp = Callable[..., FastAPI]
Client = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def make_app(app: FastAPI, settings: Settings) -> AsyncIterator[MakeApp]:
    """Apps of their own over the test database (``app`` is requested so its migrations have run)."""
    made: list[FastAPI] = []

    def make(**overrides: Any) -> FastAPI:
        limited = create_app(
            Settings(database_url=settings.database_url, env="test", log_level="warning", **overrides)
        )
        made.append(limited)
        return limited

    yield make
    for limited in made:
        await limited.state.container.aclose()


@pytest.fixture
async def client_of() -> AsyncIterator[Client]:
    opened: list[httpx.AsyncClient] = []

    async def open_client(app: FastAPI, ip: str = "1.2.3.4") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        http = httpx.AsyncClient(transport=transport, base_url="http://shelf.test")
        opened.append(http)
        return http

    yield open_client
    for http in opened:
        await http.aclose()


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def limited(make_app: MakeApp, clock: FakeMonotonic) -> FastAPI:
    """Tiny limits, and the store the settings chose put on a clock the test controls."""
    limited = make_app(**TINY_LIMITS)
    limiter = limited.state.container.rate_limiter
    assert isinstance(limiter.store, MemoryRateLimitStore)
    limiter.store = MemoryRateLimitStore(max_keys=limiter.store.max_keys, clock=clock)
    return limited


async def test_responses_carry_the_policy_and_what_is_left_of_it(limited: FastAPI, client_of: Client) -> None:
    http = await client_of(limited)
    seen = []
    for _ in range(3):
        response = await http.get(PRODUCTS)
        assert response.status_code == 200
        assert response.headers["RateLimit-Policy"] == '"anonymous";q=3;w=60'
        seen.append(response.headers["RateLimit"])
    assert seen == ['"anonymous";r=2;t=20', '"anonymous";r=1;t=40', '"anonymous";r=0;t=60']


async def test_the_request_over_the_limit_is_a_429_problem_with_retry_after(
    limited: FastAPI, client_of: Client, clock: FakeMonotonic
) -> None:
    http = await client_of(limited)
    for _ in range(3):
        assert (await http.get(PRODUCTS)).status_code == 200
    clock.now += 5
    refused = await http.get(PRODUCTS, headers={"X-Request-ID": "too-many-1234"})
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["Retry-After"] == "15"
    assert refused.headers["RateLimit"] == '"anonymous";r=0;t=55'
    body = refused.json()
    assert body["status"] == 429
    assert body["request_id"] == "too-many-1234"
    assert "anonymous" in body["detail"]
    clock.now += 15
    assert (await http.get(PRODUCTS)).status_code == 200  # one token back, as Retry-After promised
    assert (await http.get(PRODUCTS)).status_code == 429


async def test_anonymous_callers_have_a_budget_per_address(limited: FastAPI, client_of: Client) -> None:
    first = await client_of(limited, ip="1.2.3.4")
    second = await client_of(limited, ip="5.6.7.8")
    for _ in range(3):
        assert (await first.get(PRODUCTS)).status_code == 200
    assert (await first.get(PRODUCTS)).status_code == 429
    other = await second.get(PRODUCTS)
    assert other.status_code == 200
    assert other.headers["RateLimit"] == '"anonymous";r=2;t=20'
    assert (await first.get(PRODUCTS)).status_code == 429


async def test_authenticated_callers_have_a_budget_per_principal_wherever_they_call_from(
    limited: FastAPI, client_of: Client, keys: Keys
) -> None:
    office = await client_of(limited, ip="10.0.0.1")
    for _ in range(3):  # the shared address's anonymous budget is spent ...
        await office.get(PRODUCTS)
    assert (await office.get(PRODUCTS)).status_code == 429
    # ... yet each key there has its own budget, and its own policy.
    for role in ("viewer", "editor"):
        response = await office.get(PRODUCTS, headers=keys.auth(role))
        assert response.status_code == 200
        assert response.headers["RateLimit-Policy"] == '"authenticated";q=5;w=60'
        assert response.headers["RateLimit"].startswith('"authenticated";r=4;')
    # One key used from several addresses spends one budget.
    for ip in ("10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"):
        elsewhere = await client_of(limited, ip=ip)
        assert (await elsewhere.get(PRODUCTS, headers=keys.auth("viewer"))).status_code == 200
    assert (await office.get(PRODUCTS, headers=keys.auth("viewer"))).status_code == 429
    assert (await office.get(PRODUCTS, headers=keys.auth("editor"))).status_code == 200


async def test_writes_and_sign_in_have_stricter_budgets_of_their_own(
    limited: FastAPI, client_of: Client
) -> None:
    http = await client_of(limited)
    for _ in range(2):
        write = await http.post(PRODUCTS, json={})
        assert write.status_code == 401  # refused by the route, but counted by the gateway
        assert write.headers["RateLimit-Policy"] == '"writes";q=2;w=60'
    assert (await http.post(PRODUCTS, json={})).status_code == 429
    for _ in range(2):
        login = await http.post("/api/v1/auth/token", data={"username": "nobody@shelf.test", "password": "x"})
        assert login.headers["RateLimit-Policy"] == '"auth";q=2;w=60'
    assert (await http.post("/api/v1/auth/token", data={"username": "a", "password": "b"})).status_code == 429
    reads = await http.get(PRODUCTS)  # the read budget was never touched
    assert reads.status_code == 200
    assert reads.headers["RateLimit"] == '"anonymous";r=2;t=20'


async def test_the_health_probe_and_the_api_reference_are_never_limited(
    limited: FastAPI, client_of: Client
) -> None:
    http = await client_of(limited)
    for _ in range(3):
        await http.get(PRODUCTS)
    assert (await http.get(PRODUCTS)).status_code == 429
    for path in ("/healthz", "/docs", "/openapi.json"):
        for _ in range(5):
            response = await http.get(path)
            assert response.status_code == 200, path
            assert "RateLimit" not in response.headers
            assert "RateLimit-Policy" not in response.headers


async def test_the_switch_turns_every_limit_off(make_app: MakeApp, client_of: Client) -> None:
    unlimited = make_app(rate_limit_enabled=False, **TINY_LIMITS)
    assert isinstance(unlimited.state.container.rate_limiter.store, NullRateLimitStore)
    http = await client_of(unlimited)
    for _ in range(10):
        response = await http.get(PRODUCTS)
        assert response.status_code == 200
        assert "RateLimit" not in response.headers
    for _ in range(5):
        assert (await http.post(PRODUCTS, json={})).status_code == 401


async def test_the_store_in_this_process_is_the_default_and_takes_its_bound_from_settings(
    make_app: MakeApp, client_of: Client
) -> None:
    # A slow refill, so a busy machine cannot refill a token between the three requests.
    limited = make_app(rate_limit_anonymous="2/hour", rate_limit_max_keys=100)
    store = limited.state.container.rate_limiter.store
    assert isinstance(store, MemoryRateLimitStore)
    assert store.max_keys == 100
    http = await client_of(limited)
    assert [(await http.get(PRODUCTS)).status_code for _ in range(3)] == [200, 200, 429]
