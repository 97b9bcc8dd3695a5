"""OWASP API3:2023 Broken Object Property Level Authorization.

Mass assignment: server-owned properties (``id``, ``version``, timestamps) sent by a client are
ignored, and properties nobody may set (password hashes, key secrets, a user's ``disabled`` flag
at creation, a role through any self-service path) are refused. Excessive data exposure: password
hashes, API key secrets and their hashes, and refresh tokens never appear in any response,
audit entries included, and an API key's secret is shown exactly once.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text

from shelf.app import Container
from shelf.identity.secrets import hash_api_key
from shelf.identity.tokens import hash_token
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem, create, product_payload
from tests.security.conftest import PASSWORD, bearer, sign_in

FORGED = {
    "id": "00000000-0000-7000-8000-000000000001",
    "version": 99,
    "created_at": "2000-01-01T00:00:00Z",
    "updated_at": "2000-01-01T00:00:00Z",
}


async def test_server_owned_product_properties_are_ignored_on_create(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    created = await http.post("/api/v1/products", json=product_payload(**FORGED), headers=keys.auth("editor"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] != FORGED["id"]
    assert uuid.UUID(body["id"]).version == 7
    assert body["version"] == 1
    assert not body["created_at"].startswith("2000")
    assert not body["updated_at"].startswith("2000")
    assert_problem(await http.get(f"/api/v1/products/{FORGED['id']}", headers=keys.auth("admin")), 404)


async def test_server_owned_product_properties_are_ignored_on_patch(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    product = await create(http, keys.auth("editor"))
    url = f"/api/v1/products/{product['id']}"
    patched = await http.patch(
        url, json=FORGED | {"stock": 5}, headers=keys.auth("editor") | {"If-Match": '"1"'}
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["id"] == product["id"]
    assert body["version"] == 2  # the server's count, not the client's 99
    assert body["created_at"] == product["created_at"]
    assert not body["updated_at"].startswith("2000")
    assert body["stock"] == 5
    assert patched.headers["etag"] == '"2"'


@pytest.mark.parametrize(
    "extra",
    [{"owner": "someone-else"}, {"password_hash": "x"}, {"is_admin": True}, {"visible_to": ["client"]}],
)
async def test_unknown_product_properties_are_refused_not_stored(
    http: httpx.AsyncClient, keys: Keys, extra: dict[str, Any]
) -> None:
    created = await http.post("/api/v1/products", json=product_payload(**extra), headers=keys.auth("editor"))
    body = assert_problem(created, 422)
    assert next(iter(extra)) in {error["field"] for error in body["errors"]}
    product = await create(http, keys.auth("editor"))
    patched = await http.patch(
        f"/api/v1/products/{product['id']}", json=extra, headers=keys.auth("editor") | {"If-Match": '"1"'}
    )
    assert_problem(patched, 422)


@pytest.mark.parametrize(
    "extra",
    [
        {"id": "00000000-0000-7000-8000-000000000002"},
        {"password_hash": "$argon2id$v=19$m=65536,t=3,p=4$forged"},
        {"disabled": True},
        {"created_at": "2000-01-01T00:00:00Z"},
        {"email_normalized": "admin@security.test"},
    ],
)
async def test_user_creation_refuses_properties_the_server_owns(
    http: httpx.AsyncClient, keys: Keys, extra: dict[str, Any]
) -> None:
    new = {"email": "mass@security.test", "password": PASSWORD, "role": "viewer"} | extra
    assert_problem(await http.post("/api/v1/users", json=new, headers=keys.auth("admin")), 422)
    listed = (await http.get("/api/v1/users", headers=keys.auth("admin"))).json()
    assert "mass@security.test" not in {user["email"] for user in listed}


@pytest.mark.parametrize(
    "change",
    [{"email": "other@security.test"}, {"password": "a new long password"}, {"id": str(uuid.uuid4())}],
)
async def test_user_updates_change_only_role_and_disabled(
    http: httpx.AsyncClient, keys: Keys, users: dict[str, str], change: dict[str, Any]
) -> None:
    listed = (await http.get("/api/v1/users", headers=keys.auth("admin"))).json()
    viewer = next(user for user in listed if user["email"] == users["viewer"])
    assert_problem(
        await http.patch(f"/api/v1/users/{viewer['id']}", json=change, headers=keys.auth("admin")), 422
    )
    assert (await sign_in(http, users["viewer"]))["access_token"]  # the password is unchanged


async def test_api_key_creation_refuses_a_chosen_secret_or_hash(http: httpx.AsyncClient, keys: Keys) -> None:
    for extra in ({"secret": "shelf_chosen-by-attacker"}, {"secret_hash": "0" * 64}, {"prefix": "shelf_"}):
        response = await http.post(
            "/api/v1/apikeys", json={"name": "mine"} | extra, headers=keys.auth("admin")
        )
        assert_problem(response, 422)
    assert_problem(await http.get("/api/v1/auth/me", headers=bearer("shelf_chosen-by-attacker")), 401)


async def test_no_self_service_path_sets_a_role(http: httpx.AsyncClient, users: dict[str, str]) -> None:
    # A role sent along with a sign-in is ignored: the token carries the account's role.
    response = await http.post(
        "/api/v1/auth/token",
        data={"username": users["viewer"], "password": PASSWORD, "role": "admin", "scope": "admin"},
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["role"] == "viewer"
    me = await http.get("/api/v1/auth/me", headers=bearer(token))
    assert me.json()["role"] == "viewer"
    # There is no route through which users edit themselves.
    for method in ("PATCH", "PUT", "POST"):
        attempt = await http.request(method, "/api/v1/auth/me", json={"role": "admin"}, headers=bearer(token))
        assert_problem(attempt, 405)
    users_list = await http.get("/api/v1/users", headers=bearer(token))
    assert_problem(users_list, 403)


async def test_secrets_never_appear_in_any_response(
    http: httpx.AsyncClient, keys: Keys, container: Container, users: dict[str, str]
) -> None:
    admin = keys.auth("admin")
    seen: list[httpx.Response] = []

    async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await http.request(method, url, **kwargs)
        assert response.status_code < 300, f"{method} {url}: {response.text}"
        seen.append(response)
        return response

    created_key = await call(
        "POST", "/api/v1/apikeys", json={"name": "leaky?", "role": "editor"}, headers=admin
    )
    secret = created_key.json()["secret"]
    assert created_key.headers["cache-control"] == "no-store"
    seen.remove(created_key)  # the one response allowed to show the secret, once
    new_user = await call(
        "POST",
        "/api/v1/users",
        json={"email": "fresh@security.test", "password": PASSWORD, "role": "editor"},
        headers=admin,
    )
    await call("PATCH", f"/api/v1/users/{new_user.json()['id']}", json={"role": "viewer"}, headers=admin)
    issued = await call(
        "POST", "/api/v1/auth/token", data={"username": users["editor"], "password": PASSWORD}
    )
    seen.remove(issued)  # shows its own tokens, once
    pair = issued.json()
    session = await call(
        "POST", "/api/v1/auth/session", data={"username": users["admin"], "password": PASSWORD}
    )
    session_cookie = http.cookies["shelf_session"]
    http.cookies.clear()
    await call("GET", "/api/v1/auth/me", headers=bearer(secret))
    await call("GET", "/api/v1/auth/me", headers=bearer(pair["access_token"]))
    await call("GET", "/api/v1/users", headers=admin)
    await call("GET", "/api/v1/apikeys", headers=admin)
    await call("DELETE", f"/api/v1/apikeys/{created_key.json()['id']}", headers=admin)
    for entity_type in ("user", "api_key", "product"):
        await call("GET", "/api/v1/audit", params={"entity_type": entity_type, "limit": 200}, headers=admin)
    await call("GET", "/api/v1/audit", params={"limit": 200}, headers=admin)

    async with container.database.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT password_hash FROM users"))).scalars().all()
    assert stored
    forbidden = {
        "an API key secret": secret,
        "an API key hash": hash_api_key(secret),
        "a refresh token": pair["refresh_token"],
        "a refresh token hash": hash_token(pair["refresh_token"]),
        "a session cookie": session_cookie,
        "a session cookie hash": hash_token(session_cookie),
        "a password": PASSWORD,
        "an argon2 hash": "$argon2",
        **{f"the password hash of user {n}": value for n, value in enumerate(stored)},
    }
    for response in seen:
        where = f"{response.request.method} {response.request.url.path}"
        for what, value in forbidden.items():
            assert value not in response.text, f"{what} appears in the body of {where}"
        for name in ("password", "password_hash", "secret", "secret_hash", "token_hash"):
            assert f'"{name}"' not in response.text, f"a '{name}' property in {where}"
    for response in (created_key, issued, session):
        assert PASSWORD not in response.text
        assert "$argon2" not in response.text
        assert '"password' not in response.text


async def test_validation_errors_do_not_echo_passwords(http: httpx.AsyncClient, keys: Keys) -> None:
    for password in ("password123", "Sh0rt!", "y" * 129, "z" * 2000):
        response = await http.post(
            "/api/v1/users",
            json={"email": "echo@security.test", "password": password},
            headers=keys.auth("admin"),
        )
        assert_problem(response, 422)
        assert password not in response.text
