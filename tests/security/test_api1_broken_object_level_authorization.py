"""OWASP API1:2023 Broken Object Level Authorization.

Knowing an object's id must never be enough: unpublished products stay invisible to the public and
to client keys however they are asked for (by id, with an ETag, in lists, searches and cursors),
keys and accounts belong to admins, and one caller's idempotency records are not another's.
"""

from __future__ import annotations

import itertools
import uuid

import httpx
import pytest

from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem, create
from tests.security.conftest import PASSWORD, bearer, sign_in

OUTSIDERS = ["anonymous", "client"]


def as_(keys: Keys, who: str) -> dict[str, str]:
    return {} if who == "anonymous" else keys.auth(who)


@pytest.mark.parametrize("status", ["draft", "archived"])
@pytest.mark.parametrize("who", OUTSIDERS)
async def test_unpublished_products_look_exactly_like_missing_ones_to_outsiders(
    http: httpx.AsyncClient, keys: Keys, who: str, status: str
) -> None:
    hidden = await create(http, keys.auth("editor"), status=status)
    url = f"/api/v1/products/{hidden['id']}"
    etag = (await http.get(url, headers=keys.auth("viewer"))).headers["etag"]

    denied = assert_problem(await http.get(url, headers=as_(keys, who)), 404)
    missing = assert_problem(await http.get(f"/api/v1/products/{uuid.uuid4()}", headers=as_(keys, who)), 404)
    assert denied["detail"] == missing["detail"]  # no oracle for "exists but hidden"
    # A conditional request must not confirm the object either (a 304 would).
    conditional = await http.get(url, headers=as_(keys, who) | {"If-None-Match": etag})
    assert_problem(conditional, 404)
    assert "etag" not in conditional.headers
    assert (await http.get(url, headers=keys.auth("viewer"))).status_code == 200


@pytest.mark.parametrize("who", OUTSIDERS)
async def test_lists_filters_and_searches_never_return_unpublished_products(
    http: httpx.AsyncClient, keys: Keys, who: str
) -> None:
    editor = keys.auth("editor")
    hidden = {
        (await create(http, editor, name="Zyzzogeton Draft Lamp", status="draft", tags=["zyz"]))["id"],
        (await create(http, editor, name="Zyzzogeton Old Lamp", status="archived", tags=["zyz"]))["id"],
    }
    public = (await create(http, editor, name="Zyzzogeton Lamp", status="active", tags=["zyz"]))["id"]
    queries = [
        {},
        {"status": "draft"},
        {"status": "archived"},
        {"q": "zyzzogeton"},
        {"q": "draft"},
        {"tag": "zyz"},
        {"category": "apparel"},
        {"sort": "-price"},
    ]
    for params in queries:
        outsider = await http.get("/api/v1/products", params=params | {"limit": 100}, headers=as_(keys, who))
        assert outsider.status_code == 200, outsider.text
        seen = {item["id"] for item in outsider.json()["items"]}
        assert not seen & hidden, params
        assert all(item["status"] == "active" for item in outsider.json()["items"]), params
    staff = await http.get("/api/v1/products", params={"tag": "zyz"}, headers=keys.auth("viewer"))
    assert {item["id"] for item in staff.json()["items"]} == hidden | {public}


@pytest.mark.parametrize("who", OUTSIDERS)
async def test_a_staff_cursor_does_not_page_outsiders_into_drafts(
    http: httpx.AsyncClient, keys: Keys, who: str
) -> None:
    for status in ("draft", "draft", "active"):
        await create(http, keys.auth("editor"), status=status)
    staff_page = (await http.get("/api/v1/products?limit=1", headers=keys.auth("viewer"))).json()
    cursor = staff_page["next_cursor"]
    assert cursor
    replayed = await http.get(
        "/api/v1/products", params={"limit": 1, "cursor": cursor}, headers=as_(keys, who)
    )
    body = assert_problem(replayed, 422)
    assert "cursor" in {error["field"] for error in body["errors"]}


@pytest.mark.parametrize("who", ["client", "viewer", "editor"])
async def test_only_admins_revoke_keys_even_with_the_exact_id(
    http: httpx.AsyncClient, keys: Keys, who: str
) -> None:
    listed = (await http.get("/api/v1/apikeys", headers=keys.auth("admin"))).json()
    ids = {key["name"]: key["id"] for key in listed}
    for victim in ("test-admin", f"test-{who}"):  # someone else's key, and the caller's own
        assert_problem(await http.delete(f"/api/v1/apikeys/{ids[victim]}", headers=keys.auth(who)), 403)
    assert_problem(await http.delete(f"/api/v1/apikeys/{ids['test-admin']}"), 401)
    # Both keys still work, and nothing was recorded as revoked.
    assert (await http.get("/api/v1/auth/me", headers=keys.auth("admin"))).json()["role"] == "admin"
    assert (await http.get("/api/v1/auth/me", headers=keys.auth(who))).json()["role"] == who
    after = (await http.get("/api/v1/apikeys", headers=keys.auth("admin"))).json()
    assert all(key["revoked_at"] is None for key in after)


@pytest.mark.parametrize("who", ["viewer", "editor"])
async def test_users_cannot_change_another_account_or_their_own(
    http: httpx.AsyncClient, keys: Keys, users: dict[str, str], who: str
) -> None:
    token = bearer((await sign_in(http, users[who]))["access_token"])
    accounts = {
        u["email"]: u["id"] for u in (await http.get("/api/v1/users", headers=keys.auth("admin"))).json()
    }
    for target, change in (
        (users["admin"], {"disabled": True}),
        (users["admin"], {"role": "viewer"}),
        (users[who], {"role": "admin"}),
    ):
        response = await http.patch(f"/api/v1/users/{accounts[target]}", json=change, headers=token)
        assert_problem(response, 403)
    assert (await sign_in(http, users["admin"]))["access_token"]
    me = await http.get("/api/v1/auth/me", headers=token)
    assert me.json()["role"] == who  # still signed in, and not promoted


async def test_ids_are_uuidv7_with_random_bits_so_they_cannot_be_enumerated(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    ids = [uuid.UUID((await create(http, keys.auth("editor"), status="draft"))["id"]) for _ in range(8)]
    user = await http.post(
        "/api/v1/users",
        json={"email": "v7@security.test", "password": PASSWORD, "role": "viewer"},
        headers=keys.auth("admin"),
    )
    key = await http.post("/api/v1/apikeys", json={"name": "v7"}, headers=keys.auth("admin"))
    ids += [uuid.UUID(user.json()["id"]), uuid.UUID(key.json()["id"])]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    random_tails = [i.int & ((1 << 62) - 1) for i in ids]
    assert len(set(random_tails)) == len(ids)
    # Consecutive ids are not neighbours: the next id is not the last one plus one.
    assert all(abs(b - a) > 1 for a, b in itertools.pairwise(random_tails))
    # A guess next to a real id finds nothing, even for staff; outsiders do not see the real one.
    neighbour = uuid.UUID(int=ids[0].int + 1)
    assert_problem(await http.get(f"/api/v1/products/{neighbour}", headers=keys.auth("admin")), 404)
    assert_problem(await http.get(f"/api/v1/products/{ids[0]}"), 404)


async def test_idempotency_records_are_scoped_to_the_caller(http: httpx.AsyncClient, keys: Keys) -> None:
    key = {"Idempotency-Key": "shared-key-0001"}
    first = await http.post(
        "/api/v1/products",
        json={"sku": "IDEM-A", "name": "A's secret draft", "price": {"amount": "1", "currency": "EUR"}},
        headers=keys.auth("editor") | key,
    )
    assert first.status_code == 201, first.text
    # The same key from another principal is a new request: never a replay of the first one's body.
    other = await http.post(
        "/api/v1/products",
        json={"sku": "IDEM-B", "name": "B's draft", "price": {"amount": "2", "currency": "EUR"}},
        headers=keys.auth("admin") | key,
    )
    assert other.status_code == 201, other.text
    assert "idempotent-replayed" not in other.headers
    assert other.json()["id"] != first.json()["id"]
    assert "secret" not in other.text
    # And callers without the right to create get a refusal, not someone's cached 201.
    for who in ("viewer", "client"):
        refused = await http.post(
            "/api/v1/products",
            json={"sku": "IDEM-A", "name": "A's secret draft", "price": {"amount": "1", "currency": "EUR"}},
            headers=keys.auth(who) | key,
        )
        assert_problem(refused, 403)
        assert "secret" not in refused.text
