"""Admin management of users and API keys, and the audit log they leave."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem, create
from tests.integration.identity.conftest import PASSWORD, People, bearer, login


async def test_admins_create_and_list_users(client: httpx.AsyncClient, people: People) -> None:
    admin = bearer((await login(client, "admin@shelf.test"))["access_token"])
    created = await client.post(
        "/api/v1/users",
        json={"email": "New@Shelf.test", "password": "a long unusual phrase", "role": "editor"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "New@Shelf.test"
    assert "password" not in created.text
    assert "hash" not in created.text
    listed = (await client.get("/api/v1/users", headers=admin)).json()
    assert {u["email"] for u in listed} >= {"New@Shelf.test", "admin@shelf.test"}
    assert (await login(client, "new@shelf.test", "a long unusual phrase"))["access_token"]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"email": "x@shelf.test", "password": "password123"}, 422, "password"),  # on the common list
        ({"email": "x@shelf.test", "password": "short"}, 422, "password"),
        ({"email": "x@shelf.test", "password": "y" * 129}, 422, "password"),
        ({"email": "not-an-email", "password": PASSWORD}, 422, "email"),
        ({"email": "x@shelf.test", "password": PASSWORD, "role": "client"}, 422, None),
        ({"email": "ADMIN@shelf.test", "password": PASSWORD}, 409, None),
    ],
)
async def test_user_creation_rules(
    client: httpx.AsyncClient, people: People, change: dict[str, str], status: int, field: str | None
) -> None:
    admin = bearer((await login(client, "admin@shelf.test"))["access_token"])
    body = assert_problem(await client.post("/api/v1/users", json=change, headers=admin), status)
    if field:
        assert field in {e["field"] for e in body["errors"]}


async def test_nobody_can_remove_the_last_admin(client: httpx.AsyncClient, people: People) -> None:
    admin = bearer((await login(client, "admin@shelf.test"))["access_token"])
    users = {u["email"]: u["id"] for u in (await client.get("/api/v1/users", headers=admin)).json()}
    admin_id = users["admin@shelf.test"]
    for change in ({"role": "editor"}, {"disabled": True}):
        assert_problem(await client.patch(f"/api/v1/users/{admin_id}", json=change, headers=admin), 409)
    # With a second admin, the first may step down.
    promoted = await client.patch(
        f"/api/v1/users/{users['editor@shelf.test']}", json={"role": "admin"}, headers=admin
    )
    assert promoted.status_code == 200
    stepped_down = await client.patch(f"/api/v1/users/{admin_id}", json={"role": "viewer"}, headers=admin)
    assert stepped_down.status_code == 200


@pytest.mark.parametrize("role", ["editor", "viewer", "client"])
async def test_only_admins_manage_users_and_keys(client: httpx.AsyncClient, keys: Keys, role: str) -> None:
    headers = keys.auth(role)
    assert_problem(await client.get("/api/v1/users", headers=headers), 403)
    assert_problem(await client.get("/api/v1/apikeys", headers=headers), 403)
    assert_problem(await client.post("/api/v1/apikeys", json={"name": "x"}, headers=headers), 403)
    assert_problem(await client.get("/api/v1/audit", headers=headers), 403)
    assert_problem(await client.get("/api/v1/users"), 401)


async def test_api_keys_are_shown_once_listed_without_secret_and_revocable(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    created = await client.post(
        "/api/v1/apikeys", json={"name": "storefront", "role": "editor"}, headers=keys.auth("admin")
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    key_id = created.json()["id"]
    assert created.headers["cache-control"] == "no-store"
    assert (await client.get("/api/v1/auth/me", headers=bearer(secret))).json()["name"] == "storefront"
    listed = await client.get("/api/v1/apikeys", headers=keys.auth("admin"))
    assert secret not in listed.text
    entry = next(k for k in listed.json() if k["id"] == key_id)
    assert entry["last_used_at"] is not None
    assert secret.startswith(entry["prefix"])
    assert (await client.delete(f"/api/v1/apikeys/{key_id}", headers=keys.auth("admin"))).status_code == 204
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer(secret)), 401)
    assert_problem(await client.delete(f"/api/v1/apikeys/{key_id}x", headers=keys.auth("admin")), 422)


async def test_changes_are_audited_with_before_and_after(client: httpx.AsyncClient, keys: Keys) -> None:
    product = await create(client, keys.auth("editor"), sku="AUDIT-1")
    url = f"/api/v1/products/{product['id']}"
    await client.patch(url, json={"stock": 1}, headers=keys.auth("editor") | {"If-Match": '"1"'})
    await client.delete(url, headers=keys.auth("admin") | {"If-Match": '"2"'})
    page = (
        await client.get(
            "/api/v1/audit",
            params={"entity_type": "product", "entity_id": product["id"]},
            headers=keys.auth("admin"),
        )
    ).json()
    actions = [entry["action"] for entry in page["items"]]
    assert actions == ["product.delete", "product.update", "product.create"]
    delete, update, create_entry = page["items"]
    assert create_entry["before"] is None
    assert create_entry["after"]["sku"] == "AUDIT-1"
    assert update["before"]["stock"] == 12
    assert update["after"]["stock"] == 1
    assert delete["after"] is None
    assert delete["actor"]["name"] == "test-admin"
    assert update["actor"]["name"] == "test-editor"
    assert all(entry["request_id"] != "-" for entry in page["items"])
    keys_page = (
        await client.get("/api/v1/audit", params={"entity_type": "api_key"}, headers=keys.auth("admin"))
    ).json()
    assert len(keys_page["items"]) == 4  # one per role created by the fixture
    assert all("secret" not in str(entry) for entry in keys_page["items"])


async def test_a_failed_change_leaves_no_audit_entry(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys.auth("editor"), sku="AUDIT-2")
    await client.post(
        "/api/v1/products",
        json={"sku": "AUDIT-2", "name": "Dup", "price": {"amount": "1", "currency": "EUR"}},
        headers=keys.auth("editor"),
    )
    page = (
        await client.get("/api/v1/audit", params={"entity_type": "product"}, headers=keys.auth("admin"))
    ).json()
    assert len(page["items"]) == 1


async def test_audit_pages_with_a_cursor(client: httpx.AsyncClient, keys: Keys) -> None:
    for n in range(5):
        await create(client, keys.auth("editor"), sku=f"AUDIT-P{n}")
    seen, cursor = [], None
    while True:
        params = {"entity_type": "product", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/audit", params=params, headers=keys.auth("admin"))).json()
        seen += [entry["after"]["sku"] for entry in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"AUDIT-P{n}" for n in reversed(range(5))]
