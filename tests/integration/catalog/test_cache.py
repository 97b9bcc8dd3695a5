"""Catalog reads through the cache: hits skip the database, writes are seen at once, visibility holds.

Each test runs an app of its own with the in-process cache (whatever ``SHELF_REDIS_URL`` says), so
that counting SQL statements is deterministic; the shared fixtures supply the database, the API
keys and the cleanup.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, update

from shelf.app import Container, create_app
from shelf.catalog.models import Product
from shelf.platform.cache import TwoLevelCache
from shelf.settings import Settings
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem, create

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"
PRODUCTS = "/api/v1/products"
_READS_PRODUCTS = re.compile(r"^\s*(WITH|SELECT)\b.*\bproducts\b", re.IGNORECASE | re.DOTALL)


@asynccontextmanager
async def serving(settings: Settings, **overrides: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own, started and closed as its lifespan would, with a client to call it."""
    app = create_app(settings.model_copy(update={"redis_url": None, "cache_enabled": True} | overrides))
    container: Container = app.state.container
    await container.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shelf.test") as http:
            yield app, http
    finally:
        await container.aclose()


@pytest.fixture
async def cached_app(settings: Settings, container: Container) -> AsyncIterator[FastAPI]:
    """An app with the in-process cache; the ``container`` fixture cleans the tables afterwards."""
    async with serving(settings) as (app, _):
        yield app


@pytest.fixture
async def cached(cached_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=cached_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shelf.test") as http:
        yield http


@contextmanager
def product_reads(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements that read the products table while the block runs, through the engine
    or through the point reads of ``platform.point_reads`` (reads by id)."""
    database = app.state.container.database
    engine = database.engine.sync_engine
    seen: list[str] = []

    def observe(statement: str) -> None:
        if _READS_PRODUCTS.match(statement):
            seen.append(statement)

    def before_cursor_execute(*args: Any) -> None:
        observe(args[2])

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    database.point_reads.observers.append(observe)
    try:
        yield seen
    finally:
        database.point_reads.observers.remove(observe)
        event.remove(engine, "before_cursor_execute", before_cursor_execute)


async def patch(
    http: httpx.AsyncClient, keys: Keys, product: dict[str, Any], **changes: Any
) -> dict[str, Any]:
    response = await http.patch(
        f"{PRODUCTS}/{product['id']}",
        json=changes,
        headers=keys.auth("editor") | MERGE_PATCH | {"If-Match": f'"{product["version"]}"'},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_a_second_get_is_served_without_the_database(
    cached_app: FastAPI, cached: httpx.AsyncClient, keys: Keys
) -> None:
    product = await create(cached, keys.auth("editor"))
    url = f"{PRODUCTS}/{product['id']}"
    with product_reads(cached_app) as reads:
        first = await cached.get(url)
    assert first.status_code == 200
    assert len(reads) == 1
    with product_reads(cached_app) as reads:
        second = await cached.get(url)
        not_modified = await cached.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert reads == []
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"] == '"1"'
    assert second.headers["content-type"] == "application/json"
    assert not_modified.status_code == 304

    # Changed behind the app's back: the cache still answers, until a write through the API.
    async with cached_app.state.container.database.engine.begin() as connection:
        await connection.execute(
            update(Product).where(Product.id == uuid.UUID(product["id"])).values(name="Changed Behind")
        )
    assert (await cached.get(url)).json()["name"] == product["name"]
    await patch(cached, keys, product, stock=3)
    assert (await cached.get(url)).json()["name"] == "Changed Behind"


async def test_a_patch_is_seen_at_once_by_get_and_list(cached: httpx.AsyncClient, keys: Keys) -> None:
    product = await create(cached, keys.auth("editor"))
    url = f"{PRODUCTS}/{product['id']}"
    for _ in range(2):  # the second round is served from the cache
        assert (await cached.get(url)).json() == product
        assert (await cached.get(PRODUCTS)).json()["items"] == [product]
        assert (await cached.get(url, headers=keys.auth("viewer"))).json() == product
    changed = await patch(cached, keys, product, name="Cashmere Scarf", price={"amount": "89"})
    response = await cached.get(url)
    assert response.json() == changed
    assert response.headers["etag"] == '"2"'
    assert (await cached.get(url, headers=keys.auth("viewer"))).json() == changed
    assert (await cached.get(PRODUCTS)).json()["items"] == [changed]
    assert ids(await cached.get(PRODUCTS, params={"q": "cashmere"})) == [product["id"]]


async def test_status_changes_flip_what_anonymous_callers_see_at_once(
    cached: httpx.AsyncClient, keys: Keys
) -> None:
    draft = await create(cached, keys.auth("editor"), status="draft")
    url = f"{PRODUCTS}/{draft['id']}"
    assert_problem(await cached.get(url), 404)  # cached as "not found" for the public
    assert ids(await cached.get(PRODUCTS)) == []
    assert (await cached.get(url, headers=keys.auth("viewer"))).status_code == 200

    active = await patch(cached, keys, draft, status="active")
    assert (await cached.get(url)).json() == active
    assert (await cached.get(url, headers=keys.auth("client"))).json() == active
    assert ids(await cached.get(PRODUCTS)) == [draft["id"]]

    archived = await patch(cached, keys, active, status="archived")
    assert_problem(await cached.get(url), 404)
    assert_problem(await cached.get(url, headers=keys.auth("client")), 404)
    assert ids(await cached.get(PRODUCTS)) == []
    assert (await cached.get(url, headers=keys.auth("viewer"))).json() == archived
    assert ids(await cached.get(PRODUCTS, headers=keys.auth("viewer"))) == [draft["id"]]


@pytest.mark.parametrize("status", ["draft", "archived"])
async def test_anonymous_never_gets_what_staff_had_cached(
    cached: httpx.AsyncClient, keys: Keys, status: str
) -> None:
    hidden = await create(cached, keys.auth("editor"), status=status)
    url = f"{PRODUCTS}/{hidden['id']}"
    for role in ("viewer", "editor", "admin"):
        assert (await cached.get(url, headers=keys.auth(role))).json() == hidden
        assert ids(await cached.get(PRODUCTS, headers=keys.auth(role))) == [hidden["id"]]
    for _ in range(2):
        assert_problem(await cached.get(url), 404)
        assert_problem(await cached.get(url, headers=keys.auth("client")), 404)
        assert ids(await cached.get(PRODUCTS)) == []
        assert ids(await cached.get(PRODUCTS, headers=keys.auth("client"))) == []


async def test_a_burst_of_404s_costs_one_query(cached_app: FastAPI, cached: httpx.AsyncClient) -> None:
    url = f"{PRODUCTS}/{uuid.uuid4()}"
    with product_reads(cached_app) as reads:
        burst = await asyncio.gather(*(cached.get(url) for _ in range(10)))
        later = [await cached.get(url) for _ in range(5)]
    for response in burst + later:
        assert_problem(response, 404)
    assert len(reads) == 1


async def test_concurrent_misses_for_one_product_cost_one_query(
    cached_app: FastAPI, cached: httpx.AsyncClient, keys: Keys
) -> None:
    product = await create(cached, keys.auth("editor"))
    with product_reads(cached_app) as reads:
        responses = await asyncio.gather(*(cached.get(f"{PRODUCTS}/{product['id']}") for _ in range(10)))
    assert [r.status_code for r in responses] == [200] * 10
    assert all(r.content == responses[0].content for r in responses)
    assert responses[0].json() == product
    assert len(reads) == 1


async def test_list_pages_are_cached_per_query_and_retired_by_writes(
    cached_app: FastAPI, cached: httpx.AsyncClient, keys: Keys
) -> None:
    first = await create(cached, keys.auth("editor"), name="Alpaca Gloves")
    second = await create(cached, keys.auth("editor"), name="Wool Hat")
    queries: list[dict[str, Any]] = [{}, {"limit": 1}, {"sort": "name"}, {"q": "wool"}]
    answers = [await cached.get(PRODUCTS, params=params) for params in queries]
    cursor = answers[1].json()["next_cursor"]
    after_cursor = await cached.get(PRODUCTS, params={"limit": 1, "cursor": cursor})
    with product_reads(cached_app) as reads:
        again = [await cached.get(PRODUCTS, params=params) for params in queries]
        again_after_cursor = await cached.get(PRODUCTS, params={"limit": 1, "cursor": cursor})
    assert reads == []
    assert [a.content for a in again] == [a.content for a in answers]
    assert again_after_cursor.content == after_cursor.content
    assert ids(answers[0]) == [second["id"], first["id"]]
    assert ids(answers[1]) == [second["id"]]
    assert ids(after_cursor) == [first["id"]]
    assert ids(answers[2]) == [first["id"], second["id"]]

    third = await create(cached, keys.auth("editor"), name="Wool Socks")
    assert ids(await cached.get(PRODUCTS)) == [third["id"], second["id"], first["id"]]
    assert ids(await cached.get(PRODUCTS, params={"limit": 1})) == [third["id"]]
    assert set(ids(await cached.get(PRODUCTS, params={"q": "wool"}))) >= {second["id"], third["id"]}

    response = await cached.delete(
        f"{PRODUCTS}/{second['id']}", headers=keys.auth("editor") | {"If-Match": '"1"'}
    )
    assert response.status_code == 204
    assert ids(await cached.get(PRODUCTS)) == [third["id"], first["id"]]
    assert_problem(await cached.get(f"{PRODUCTS}/{second['id']}"), 404)


async def test_an_app_without_a_cache_reads_the_database_every_time(
    settings: Settings, container: Container, keys: Keys
) -> None:
    async with serving(settings, cache_enabled=False) as (app, http):
        product = await create(http, keys.auth("editor"))
        with product_reads(app) as reads:
            for _ in range(2):
                assert (await http.get(f"{PRODUCTS}/{product['id']}")).json() == product
        assert len(reads) == 2


async def test_reads_and_writes_succeed_while_redis_is_unreachable(
    settings: Settings, container: Container, keys: Keys
) -> None:
    async with serving(settings, redis_url=CLOSED_PORT_URL, cache_redis_timeout_seconds=0.1) as (app, http):
        cache = app.state.container.cache
        assert isinstance(cache, TwoLevelCache)
        product = await create(http, keys.auth("editor"))
        url = f"{PRODUCTS}/{product['id']}"
        for _ in range(2):
            assert (await http.get(url)).json() == product
            assert ids(await http.get(PRODUCTS)) == [product["id"]]
        changed = await patch(http, keys, product, name="Changed While Redis Is Away")
        assert (await http.get(url)).json() == changed
        assert (await http.get(PRODUCTS)).json()["items"] == [changed]
        response = await http.delete(url, headers=keys.auth("editor") | {"If-Match": '"2"'})
        assert response.status_code == 204
        assert_problem(await http.get(url), 404)
        assert cache.failures > 0
