"""GET, PATCH and DELETE of one product: visibility, ETags, preconditions, merge patch."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem, create

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


async def test_get_returns_etag_and_304_on_match(client: httpx.AsyncClient, keys: Keys) -> None:
    product = await create(client, keys.auth("editor"))
    url = f"/api/v1/products/{product['id']}"
    response = await client.get(url)
    assert response.status_code == 200
    assert response.json() == product
    assert response.headers["etag"] == '"1"'
    not_modified = await client.get(url, headers={"If-None-Match": '"0", "1"'})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == '"1"'
    assert (await client.get(url, headers={"If-None-Match": 'W/"1"'})).status_code == 304
    assert (await client.get(url, headers={"If-None-Match": '"2"'})).status_code == 200


@pytest.mark.parametrize("status", ["draft", "archived"])
async def test_anonymous_callers_see_only_active_products(
    client: httpx.AsyncClient, keys: Keys, status: str
) -> None:
    product = await create(client, keys.auth("editor"), status=status)
    url = f"/api/v1/products/{product['id']}"
    assert_problem(await client.get(url), 404)
    assert_problem(await client.get(url, headers=keys.auth("client")), 404)
    for role in ("viewer", "editor", "admin"):
        assert (await client.get(url, headers=keys.auth(role))).status_code == 200


async def test_unknown_and_malformed_ids(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"/api/v1/products/{uuid.uuid4()}"), 404)
    body = assert_problem(await client.get("/api/v1/products/not-a-uuid"), 422)
    assert body["errors"][0]["field"] == "product_id"


async def test_patch_applies_a_merge_patch_and_bumps_the_version(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    product = await create(client, keys.auth("editor"))
    url = f"/api/v1/products/{product['id']}"
    response = await client.patch(
        url,
        json={
            "price": {"amount": "59"},
            "category": None,
            "attributes": {"color": None, "size": "L"},
            "tags": ["sale"],
            "version": 42,
        },
        headers=keys.auth("editor") | MERGE_PATCH | {"If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["etag"] == '"2"'
    assert body["version"] == 2
    assert body["price"] == {"amount": "59.00", "currency": "EUR"}
    assert body["category"] is None
    assert body["attributes"] == {"weight_g": 180, "organic": True, "size": "L"}
    assert body["tags"] == ["sale"]
    assert body["updated_at"] > body["created_at"]
    assert body["created_at"] == product["created_at"]
    assert (await client.get(url)).json() == body
    tagged = await client.get("/api/v1/products", params={"tag": "sale"})
    assert [item["id"] for item in tagged.json()["items"]] == [product["id"]]
    assert (await client.get("/api/v1/products", params={"tag": "wool"})).json()["items"] == []


async def test_patch_accepts_plain_json_too(client: httpx.AsyncClient, keys: Keys) -> None:
    product = await create(client, keys.auth("editor"))
    response = await client.patch(
        f"/api/v1/products/{product['id']}",
        json={"stock": 3},
        headers=keys.auth("editor") | {"If-Match": '"1"'},
    )
    assert response.status_code == 200
    assert response.json()["stock"] == 3


async def test_patch_without_if_match_is_428_and_stale_is_412(client: httpx.AsyncClient, keys: Keys) -> None:
    product = await create(client, keys.auth("editor"))
    url = f"/api/v1/products/{product['id']}"
    assert_problem(await client.patch(url, json={"stock": 1}, headers=keys.auth("editor")), 428)
    ok = await client.patch(url, json={"stock": 1}, headers=keys.auth("editor") | {"If-Match": '"1"'})
    assert ok.status_code == 200
    stale = await client.patch(url, json={"stock": 2}, headers=keys.auth("editor") | {"If-Match": '"1"'})
    body = assert_problem(stale, 412)
    assert body["current_etag"] == '"2"'
    assert (await client.get(url)).json()["stock"] == 1


async def test_concurrent_patches_with_the_same_etag_do_not_both_win(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    product = await create(client, keys.auth("editor"))
    url = f"/api/v1/products/{product['id']}"
    headers = keys.auth("editor") | {"If-Match": '"1"'}
    responses = await asyncio.gather(
        *(client.patch(url, json={"stock": n}, headers=headers) for n in range(5))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 412}
    assert (await client.get(url)).json()["version"] == 2


async def test_an_unchanged_patch_keeps_the_version(client: httpx.AsyncClient, keys: Keys) -> None:
    product = await create(client, keys.auth("editor"))
    response = await client.patch(
        f"/api/v1/products/{product['id']}",
        json={"stock": product["stock"], "price": {"amount": "49.9"}},
        headers=keys.auth("editor") | {"If-Match": "*"},
    )
    assert response.status_code == 200
    assert response.json()["version"] == 1


async def test_an_invalid_patch_changes_nothing(client: httpx.AsyncClient, keys: Keys) -> None:
    product = await create(client, keys.auth("editor"))
    url = f"/api/v1/products/{product['id']}"
    headers = keys.auth("editor") | {"If-Match": '"1"'}
    for patch in (
        {"name": None},
        {"price": {"amount": "-3"}},
        {"stock": 5, "sku": "no spaces allowed"},
        {"price": {"currency": "JPY"}},  # 49.90 has decimals that yen does not allow
    ):
        body = assert_problem(await client.patch(url, json=patch, headers=headers), 422)
        assert body["errors"]
    assert_problem(await client.patch(url, json=[1], headers=headers), 422)
    assert (await client.get(url)).json() == product


async def test_patch_to_a_taken_sku_is_409(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys.auth("editor"), sku="TAKEN")
    product = await create(client, keys.auth("editor"))
    response = await client.patch(
        f"/api/v1/products/{product['id']}",
        json={"sku": "TAKEN"},
        headers=keys.auth("editor") | {"If-Match": '"1"'},
    )
    assert_problem(response, 409)


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("client", 403), ("viewer", 403)])
async def test_only_editors_change_or_delete(
    client: httpx.AsyncClient, keys: Keys, role: str | None, status: int
) -> None:
    product = await create(client, keys.auth("editor"))
    url = f"/api/v1/products/{product['id']}"
    headers = (keys.auth(role) if role else {}) | {"If-Match": '"1"'}
    assert_problem(await client.patch(url, json={"stock": 0}, headers=headers), status)
    assert_problem(await client.delete(url, headers=headers), status)
    assert (await client.get(url)).json() == product


async def test_delete_needs_if_match(client: httpx.AsyncClient, keys: Keys) -> None:
    product = await create(client, keys.auth("editor"))
    url = f"/api/v1/products/{product['id']}"
    assert_problem(await client.delete(url, headers=keys.auth("editor")), 428)
    assert_problem(await client.delete(url, headers=keys.auth("editor") | {"If-Match": '"7"'}), 412)
    deleted = await client.delete(url, headers=keys.auth("admin") | {"If-Match": '"1"'})
    assert deleted.status_code == 204
    assert_problem(await client.get(url, headers=keys.auth("admin")), 404)
    assert_problem(await client.delete(url, headers=keys.auth("admin") | {"If-Match": "*"}), 404)
    search = await client.get("/api/v1/products", params={"q": "merino"})
    assert search.json()["items"] == []
