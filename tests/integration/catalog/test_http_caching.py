"""HTTP caching of catalog reads: ETags on products and pages, 304s, and who may keep what.

Public reads (anonymous callers and client keys, who see active products only) may be kept by
shared caches for a short while; reads by staff, who also see drafts, are private; everything else
is never stored. Every catalog read varies with the credentials it was asked with.
"""

from __future__ import annotations

import httpx
import pytest

from shelf.gateway.http import CachePolicy
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem, create

PRODUCTS = "/api/v1/products"
PUBLIC = CachePolicy().cache_control(public=True)
PRIVATE = "private, no-cache"
VARY = "Authorization, Cookie"


def test_the_default_public_policy_is_short_and_shared() -> None:
    assert PUBLIC == "public, max-age=5, stale-while-revalidate=30"
    assert CachePolicy(max_age_seconds=60, stale_while_revalidate_seconds=0).cache_control(public=True) == (
        "public, max-age=60, stale-while-revalidate=0"
    )
    assert CachePolicy().cache_control(public=False) == PRIVATE


def assert_caching(response: httpx.Response, cache_control: str) -> None:
    assert response.headers["cache-control"] == cache_control, response.request.url
    assert response.headers["vary"] == VARY
    assert response.headers["etag"].startswith('"')


@pytest.mark.parametrize(
    ("role", "cache_control"),
    [(None, PUBLIC), ("client", PUBLIC), ("viewer", PRIVATE), ("editor", PRIVATE), ("admin", PRIVATE)],
)
async def test_a_product_read_is_shared_only_when_it_is_what_the_public_sees(
    client: httpx.AsyncClient, keys: Keys, role: str | None, cache_control: str
) -> None:
    product = await create(client, keys.auth("editor"))
    headers = keys.auth(role) if role else {}
    response = await client.get(f"{PRODUCTS}/{product['id']}", headers=headers)
    assert response.status_code == 200
    assert_caching(response, cache_control)
    assert response.headers["etag"] == '"1"'
    page = await client.get(PRODUCTS, headers=headers)
    assert page.status_code == 200
    assert_caching(page, cache_control)


async def test_a_draft_read_by_staff_is_private_and_hidden_from_the_public(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    draft = await create(client, keys.auth("editor"), status="draft")
    staff = await client.get(f"{PRODUCTS}/{draft['id']}", headers=keys.auth("viewer"))
    assert_caching(staff, PRIVATE)
    hidden = await client.get(f"{PRODUCTS}/{draft['id']}")
    assert_problem(hidden, 404)
    assert hidden.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "if_none_match",
    ['"1"', 'W/"1"', "*", '"7", "1"', '"7",W/"1"'],
)
async def test_a_matching_if_none_match_is_a_304_with_the_same_caching_headers(
    client: httpx.AsyncClient, keys: Keys, if_none_match: str
) -> None:
    product = await create(client, keys.auth("editor"))
    url = f"{PRODUCTS}/{product['id']}"
    full = await client.get(url)
    response = await client.get(url, headers={"If-None-Match": if_none_match})
    assert response.status_code == 304
    assert response.content == b""
    for name in ("etag", "cache-control", "vary"):
        assert response.headers[name] == full.headers[name]


@pytest.mark.parametrize("if_none_match", ['"2"', 'W/"2"', '"1 "', "", '"a", "b"'])
async def test_an_if_none_match_that_does_not_match_gets_the_body(
    client: httpx.AsyncClient, keys: Keys, if_none_match: str
) -> None:
    product = await create(client, keys.auth("editor"))
    response = await client.get(f"{PRODUCTS}/{product['id']}", headers={"If-None-Match": if_none_match})
    assert response.status_code == 200
    assert response.json() == product


async def test_list_and_search_pages_have_etags_that_follow_their_content(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    product = await create(client, keys.auth("editor"), name="Alpaca Throw")
    for params in ({}, {"q": "alpaca"}, {"category": "apparel", "sort": "-price", "limit": 5}):
        first = await client.get(PRODUCTS, params=params)
        again = await client.get(PRODUCTS, params=params)
        assert first.status_code == 200
        assert_caching(first, PUBLIC)
        assert again.headers["etag"] == first.headers["etag"]
        assert len(first.headers["etag"]) == 34  # 128 bits in hex, quoted
        revalidated = await client.get(
            PRODUCTS, params=params, headers={"If-None-Match": first.headers["etag"]}
        )
        assert revalidated.status_code == 304
        assert revalidated.headers["etag"] == first.headers["etag"]
        assert revalidated.headers["cache-control"] == PUBLIC

    before = await client.get(PRODUCTS, params={"q": "alpaca"})
    response = await client.patch(
        f"{PRODUCTS}/{product['id']}",
        json={"stock": 1},
        headers=keys.auth("editor") | {"If-Match": '"1"', "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200
    after = await client.get(
        PRODUCTS, params={"q": "alpaca"}, headers={"If-None-Match": before.headers["etag"]}
    )
    assert after.status_code == 200  # the page changed, so the old ETag no longer matches
    assert after.headers["etag"] != before.headers["etag"]
    assert after.json()["items"][0]["stock"] == 1


async def test_the_public_and_the_staff_page_have_different_etags_when_they_differ(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create(client, keys.auth("editor"))
    await create(client, keys.auth("editor"), status="draft")
    public = await client.get(PRODUCTS)
    staff = await client.get(PRODUCTS, headers=keys.auth("viewer"))
    assert len(public.json()["items"]) == 1
    assert len(staff.json()["items"]) == 2
    assert public.headers["etag"] != staff.headers["etag"]
    assert_caching(staff, PRIVATE)


async def test_responses_that_are_not_catalog_reads_are_never_stored(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    product = await create(client, keys.auth("editor"))
    responses = [
        await client.get("/healthz"),
        await client.get("/api/v1/auth/me", headers=keys.auth("viewer")),
        await client.get("/api/v1/apikeys", headers=keys.auth("admin")),
        await client.get(f"{PRODUCTS}/not-a-uuid"),
        await client.get(PRODUCTS, params={"limit": 0}),
        await client.post(PRODUCTS, json={}, headers=keys.auth("editor")),
        await client.patch(
            f"{PRODUCTS}/{product['id']}",
            json={"stock": 2},
            headers=keys.auth("editor") | {"If-Match": '"1"', "Content-Type": "application/merge-patch+json"},
        ),
    ]
    for response in responses:
        assert response.headers["cache-control"] == "no-store", (response.request.url, response.status_code)
