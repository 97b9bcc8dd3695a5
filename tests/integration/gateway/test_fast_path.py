"""The response-cache fast path (gateway/fastpath.py): anonymous cache hits answered before routing.

Each test runs an app of its own (``serving``, in-process cache unless it says otherwise) and
counts the fast path's answers, so it knows which path answered. The first request for a
resource is a miss, answered the normal way (which fills the cache); the same request again is a
hit, answered by the fast path: comparing the two shows the fast path answers exactly as the
normal path does.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis

from shelf.catalog.service import PAGES, product_key
from shelf.gateway.fastpath import FastPathMiddleware
from shelf.settings import Settings
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem, create
from tests.integration.catalog.test_cache import CLOSED_PORT_URL, serving
from tests.integration.platform.test_cache_redis import REDIS_URL, prefix, redis

__all__ = ["prefix", "redis"]  # fixtures, used by name

PRODUCTS = "/api/v1/products"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
SENT = {"X-Request-ID": "fast-path-parity-1", "traceparent": TRACEPARENT, "Accept": "application/json"}


def fast_path(app: FastAPI) -> FastPathMiddleware:
    """The app's FastPathMiddleware (the stack is built by the first request)."""
    layer: Any = app.middleware_stack
    while not isinstance(layer, FastPathMiddleware):
        assert layer is not None, "no FastPathMiddleware in the stack"
        layer = layer.app
    return layer


class Counted:
    """A client for one app that says, for each answer, whether the fast path gave it."""

    def __init__(self, app: FastAPI, http: httpx.AsyncClient) -> None:
        self.app = app
        self.http = http

    async def get(self, url: str, **kwargs: Any) -> tuple[httpx.Response, bool]:
        before = fast_path(self.app).hits if self.app.middleware_stack else 0
        response = await self.http.get(url, **kwargs)
        return response, fast_path(self.app).hits > before


@pytest.fixture
async def counted(settings: Settings, container: Any) -> AsyncIterator[Counted]:
    async with serving(settings) as (app, http):
        yield Counted(app, http)


def comparable(response: httpx.Response) -> list[tuple[str, str]]:
    """Every header, in order of name, with the values that must differ between two answers
    (this hop's span id, the tokens left in the rate limit bucket) blanked out."""
    headers = []
    for name, value in response.headers.multi_items():
        if name == "traceparent":
            headers.append((name, re.sub(r"^(00-[0-9a-f]{32})-[0-9a-f]{16}-", r"\1-<span>-", value)))
        elif name == "ratelimit":
            headers.append((name, re.sub(r";r=\d+", ";r=<left>", value)))
        else:
            headers.append((name, value))
    return sorted(headers)


async def assert_same_answer_both_ways(counted: Counted, url: str, headers: dict[str, str]) -> None:
    normal, fast_first = await counted.get(url, headers=headers)
    fast, fast_second = await counted.get(url, headers=headers)
    assert (fast_first, fast_second) == (False, True), url
    assert fast.status_code == normal.status_code
    assert fast.content == normal.content
    assert comparable(fast) == comparable(normal)
    assert fast.headers["x-request-id"] == SENT["X-Request-ID"]
    assert fast.headers["traceparent"].startswith(TRACEPARENT[:36])
    assert fast.headers["traceparent"] != TRACEPARENT


CONFIGURATIONS = [
    pytest.param({}, id="limits-off"),
    pytest.param({"rate_limit_enabled": True, "rate_limit_anonymous": "1000/minute"}, id="limits-on"),
    pytest.param({"env": "production", "secret_key": SecretStr("p" * 48)}, id="production-hsts"),
    pytest.param(
        {"http_cache_max_age_seconds": 60, "http_cache_stale_while_revalidate_seconds": 0}, id="max-age"
    ),
]


@pytest.mark.parametrize("overrides", CONFIGURATIONS)
async def test_the_fast_path_answers_a_product_and_a_304_exactly_as_the_normal_path_does(
    settings: Settings, container: Any, keys: Keys, overrides: dict[str, Any]
) -> None:
    async with serving(settings, **overrides) as (app, http):
        counted = Counted(app, http)
        product = await create(http, keys.auth("editor"))
        url = f"{PRODUCTS}/{product['id']}"
        await assert_same_answer_both_ways(counted, url, SENT)
        assert (await http.get(url)).json() == product

        await app.state.container.cache.delete(product_key("public", uuid.UUID(product["id"])))
        await assert_same_answer_both_ways(counted, url, SENT | {"If-None-Match": 'W/"1"'})
        assert (await http.get(url, headers={"If-None-Match": '"1"'})).status_code == 304


@pytest.mark.parametrize("overrides", CONFIGURATIONS[:2])
@pytest.mark.parametrize(
    "query",
    ["", "?limit=2", "?q=merino+sca&sort=-price", "?category=apparel&price_min=10&price_max=99.5&tag=gift"],
)
async def test_the_fast_path_answers_list_and_search_pages_exactly_as_the_normal_path_does(
    settings: Settings, container: Any, keys: Keys, overrides: dict[str, Any], query: str
) -> None:
    async with serving(settings, **overrides) as (app, http):
        counted = Counted(app, http)
        for _ in range(3):
            await create(http, keys.auth("editor"), name="Merino Scarf")
        await assert_same_answer_both_ways(counted, f"{PRODUCTS}{query}", SENT)
        page = await http.get(f"{PRODUCTS}{query}")
        await app.state.container.cache.invalidate(PAGES)
        await assert_same_answer_both_ways(
            counted, f"{PRODUCTS}{query}", SENT | {"If-None-Match": page.headers["etag"]}
        )


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",  # refused by validation: a 422
        "?limit=2&limit=3",  # repeated: FastAPI keeps the last; the fast path does not guess
        "?colour=red",  # unknown parameters are refused
        "?cursor=not-a-cursor",
    ],
)
async def test_queries_the_fast_path_cannot_read_as_the_route_would_go_the_normal_way(
    counted: Counted, keys: Keys, query: str
) -> None:
    await create(counted.http, keys.auth("editor"))
    first, _ = await counted.get(f"{PRODUCTS}{query}", headers=SENT)
    second, fast = await counted.get(f"{PRODUCTS}{query}", headers=SENT)
    assert not fast
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert first.status_code == (200 if query == "?limit=2&limit=3" else 422)


async def test_asking_the_fast_path_for_drafts_gets_the_public_page(counted: Counted, keys: Keys) -> None:
    await create(counted.http, keys.auth("editor"), status="draft")
    for fast_expected in (False, True):
        page, fast = await counted.get(PRODUCTS, params={"status": "draft"})
        assert (page.json()["items"], fast) == ([], fast_expected)


async def test_only_anonymous_requests_take_the_fast_path(counted: Counted, keys: Keys) -> None:
    product = await create(counted.http, keys.auth("editor"))
    url = f"{PRODUCTS}/{product['id']}"
    await counted.get(url)  # fills the cache
    declined = [
        keys.auth("client"),  # sees what the public sees, but is authenticated: the normal way
        keys.auth("viewer"),
        {"Authorization": "Bearer not-a-key"},  # and so a bad credential is still a 401
        {"Cookie": "shelf_session=forged"},
        {"Origin": "https://shop.example.com"},  # CORS answers depend on it
    ]
    for headers in declined:
        response, fast = await counted.get(url, headers=headers)
        assert not fast, headers
        assert response.status_code in (200, 401), headers
    assert (await counted.get(url, headers={"Authorization": "Bearer not-a-key"}))[0].status_code == 401
    response, fast = await counted.get(url, headers={"Cookie": "theme=dark"})
    assert fast  # a cookie that is not a session changes nothing
    assert response.json() == product


async def test_other_methods_and_paths_go_the_normal_way(counted: Counted, keys: Keys) -> None:
    product = await create(counted.http, keys.auth("editor"))
    url = f"{PRODUCTS}/{product['id']}"
    await counted.get(url)
    assert (await counted.get(url))[1]
    for other in (f"{url}/", f"{url[:-1]}", f"{PRODUCTS}/{uuid.UUID(product['id']).hex}", f"{url}/x"):
        assert not (await counted.get(other))[1], other
    before = fast_path(counted.app).hits
    assert (await counted.http.head(url)).status_code == 405
    assert (await counted.http.delete(url)).status_code == 401
    assert fast_path(counted.app).hits == before
    # The same product spelled in capitals is the same product, whichever way it is answered.
    response, _ = await counted.get(f"{PRODUCTS}/{product['id'].upper()}")
    assert response.json() == product
    response, fast = await counted.get(url, params={"unused": "1"})  # the route ignores them too
    assert fast
    assert response.json() == product


async def test_a_draft_never_leaves_the_fast_path(counted: Counted, keys: Keys) -> None:
    draft = await create(counted.http, keys.auth("editor"), status="draft")
    url = f"{PRODUCTS}/{draft['id']}"
    for _ in range(2):  # staff fill the cache with the draft
        assert (await counted.http.get(url, headers=keys.auth("viewer"))).json() == draft
        assert len((await counted.http.get(PRODUCTS, headers=keys.auth("viewer"))).json()["items"]) == 1
    for _ in range(3):
        response, fast = await counted.get(url)
        assert_problem(response, 404)
        assert not fast
        page, _ = await counted.get(PRODUCTS)
        assert page.json()["items"] == []


async def test_a_write_is_seen_at_once(counted: Counted, keys: Keys) -> None:
    product = await create(counted.http, keys.auth("editor"))
    url = f"{PRODUCTS}/{product['id']}"
    await counted.get(url)
    await counted.get(PRODUCTS)
    assert (await counted.get(url))[1]
    assert (await counted.get(PRODUCTS))[1]
    changed = await counted.http.patch(
        url, json={"name": "Renamed"}, headers=keys.auth("editor") | MERGE_PATCH | {"If-Match": '"1"'}
    )
    assert changed.status_code == 200
    for _ in range(2):  # a miss (the normal path fills the cache again), then a hit
        response, _ = await counted.get(url)
        assert (response.json()["name"], response.headers["etag"]) == ("Renamed", '"2"')
        assert (await counted.get(PRODUCTS))[0].json()["items"][0]["name"] == "Renamed"
    assert (await counted.get(url))[1]
    hidden = await counted.http.patch(
        url, json={"status": "archived"}, headers=keys.auth("editor") | MERGE_PATCH | {"If-Match": '"2"'}
    )
    assert hidden.status_code == 200
    for _ in range(2):
        assert_problem((await counted.get(url))[0], 404)


async def test_fast_answers_spend_the_anonymous_rate_limit_and_a_refusal_is_the_usual_429(
    settings: Settings, container: Any, keys: Keys
) -> None:
    async with serving(settings, rate_limit_enabled=True, rate_limit_anonymous="3/minute") as (app, http):
        counted = Counted(app, http)
        product = await create(http, keys.auth("editor"))
        url = f"{PRODUCTS}/{product['id']}"
        answers = [await counted.get(url) for _ in range(4)]
        assert [(r.status_code, fast) for r, fast in answers] == [
            (200, False),
            (200, True),
            (200, True),
            (429, False),
        ]
        assert [r.headers["ratelimit"] for r, _ in answers[:3]] == [
            f'"anonymous";r={left};t={reset}' for left, reset in ((2, 20), (1, 40), (0, 60))
        ]
        refused = answers[3][0]
        assert_problem(refused, 429)
        assert refused.headers["retry-after"]
        assert fast_path(app).hits == 2
        # Another address has a budget of its own, on the fast path as on the normal one.
        other = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("10.0.0.9", 1)), base_url="http://t"
        )
        async with other:
            assert (await other.get(url)).status_code == 200
        assert fast_path(app).hits == 3


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"cache_enabled": False}, id="cache-off"),
        pytest.param({"redis_url": CLOSED_PORT_URL}, id="redis-down"),
    ],
)
async def test_without_a_cache_every_read_goes_the_normal_way_and_succeeds(
    settings: Settings, container: Any, keys: Keys, overrides: dict[str, Any]
) -> None:
    async with serving(settings, **overrides) as (app, http):
        counted = Counted(app, http)
        product = await create(http, keys.auth("editor"))
        for _ in range(3):
            response, fast = await counted.get(f"{PRODUCTS}/{product['id']}")
            assert (response.status_code, fast) == (200, False)
            assert response.json() == product
            page, fast = await counted.get(PRODUCTS)
            assert (page.status_code, fast) == (200, False)
            assert page.headers["etag"]


@pytest.mark.xdist_group("redis")
async def test_with_redis_a_write_on_one_instance_is_seen_at_once_on_the_fast_path_of_another(
    settings: Settings, container: Any, keys: Keys, redis: Redis, prefix: str
) -> None:
    shared = {"redis_url": REDIS_URL, "cache_redis_prefix": prefix}
    async with serving(settings, **shared) as (_, a), serving(settings, **shared) as (app_b, b):
        counted_b = Counted(app_b, b)
        product = await create(a, keys.auth("editor"))
        url = f"{PRODUCTS}/{product['id']}"
        await counted_b.get(url)
        response, fast = await counted_b.get(url)
        assert fast
        assert response.json() == product
        changed = await a.patch(
            url, json={"stock": 99}, headers=keys.auth("editor") | MERGE_PATCH | {"If-Match": '"1"'}
        )
        assert changed.status_code == 200
        response, _ = await counted_b.get(url)  # at once: no sleep, no retry
        assert (response.json()["stock"], response.headers["etag"]) == (99, '"2"')
        response, fast = await counted_b.get(url)
        assert fast
        assert response.json()["stock"] == 99
