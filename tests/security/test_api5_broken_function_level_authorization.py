"""OWASP API5:2023 Broken Function Level Authorization.

Administrative functions (users, API keys, the audit log) are refused to editors, viewers and
client keys with 403 and to anonymous callers with 401, whichever credential carries the role;
catalog changes are refused below editor. Checks live in the services, so no spelling of the path,
method override header or HTTP method gets around them, and a role change or a revoked key takes
effect on the very next request.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from shelf.app import Container
from shelf.identity.permissions import Role
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem, create, product_payload
from tests.security.conftest import PASSWORD, audit_count, bearer, sign_in


@dataclass(frozen=True)
class Function:
    name: str
    method: str
    url: str  # "{user}", "{key}" and "{product}" are replaced by real ids
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


ADMIN_FUNCTIONS = [
    Function("list users", "GET", "/api/v1/users"),
    Function("create a user", "POST", "/api/v1/users", {"email": "x@security.test", "password": PASSWORD}),
    Function("promote a user", "PATCH", "/api/v1/users/{user}", {"role": "admin"}),
    Function("disable a user", "PATCH", "/api/v1/users/{user}", {"disabled": True}),
    Function("list API keys", "GET", "/api/v1/apikeys"),
    Function("create an admin API key", "POST", "/api/v1/apikeys", {"name": "backdoor", "role": "admin"}),
    Function("revoke an API key", "DELETE", "/api/v1/apikeys/{key}"),
    Function("read the audit log", "GET", "/api/v1/audit"),
]
EDITOR_FUNCTIONS = [
    Function("create a product", "POST", "/api/v1/products", product_payload()),
    Function(
        "change a product",
        "PATCH",
        "/api/v1/products/{product}",
        {"price": {"amount": "0.01"}},
        {"If-Match": "*"},
    ),
    Function("delete a product", "DELETE", "/api/v1/products/{product}", None, {"If-Match": "*"}),
]


async def ids(http: httpx.AsyncClient, keys: Keys, container: Container) -> dict[str, str]:
    user = await container.identity.create_user(
        f"target-{uuid.uuid4().hex[:6]}@security.test", PASSWORD, Role.EDITOR
    )
    key = await container.identity.create_api_key("target", Role.CLIENT)
    product = await create(http, keys.auth("editor"))
    return {"user": str(user.id), "key": str(key.key.id), "product": product["id"]}


async def refused(
    http: httpx.AsyncClient,
    container: Container,
    function: Function,
    where: dict[str, str],
    auth: dict[str, str],
) -> httpx.Response:
    before = await audit_count(container)
    kwargs: dict[str, Any] = {"headers": auth | (function.headers or {})}
    if function.body is not None:
        kwargs["json"] = function.body
    response = await http.request(function.method, function.url.format(**where), **kwargs)
    assert await audit_count(container) == before, f"{function.name} was refused but changed something"
    return response


async def callers(
    http: httpx.AsyncClient, keys: Keys, users: dict[str, str], roles: tuple[str, ...]
) -> dict[str, dict[str, str]]:
    found = {f"{role} key": keys.auth(role) for role in ("client", *roles)}
    for role in roles:
        found[f"{role} jwt"] = bearer((await sign_in(http, users[role]))["access_token"])
    return found


@pytest.mark.parametrize("function", ADMIN_FUNCTIONS, ids=lambda f: f.name)
async def test_admin_functions_are_refused_to_everyone_but_admins(
    http: httpx.AsyncClient, keys: Keys, container: Container, users: dict[str, str], function: Function
) -> None:
    where = await ids(http, keys, container)
    for who, auth in (await callers(http, keys, users, ("viewer", "editor"))).items():
        response = await refused(http, container, function, where, auth)
        assert response.status_code == 403, f"{function.name} as {who}: {response.status_code}"
        assert_problem(response, 403)
    response = await refused(http, container, function, where, {})
    assert_problem(response, 401)
    allowed = await http.request(
        function.method,
        function.url.format(**where),
        headers=keys.auth("admin"),
        **({"json": function.body} if function.body is not None else {}),
    )
    assert allowed.status_code < 300, allowed.text  # the refusals were about the caller, not the request


@pytest.mark.parametrize("function", EDITOR_FUNCTIONS, ids=lambda f: f.name)
async def test_catalog_changes_are_refused_below_editor(
    http: httpx.AsyncClient, keys: Keys, container: Container, users: dict[str, str], function: Function
) -> None:
    where = await ids(http, keys, container)
    for who, auth in (await callers(http, keys, users, ("viewer",))).items():
        response = await refused(http, container, function, where, auth)
        assert response.status_code == 403, f"{function.name} as {who}: {response.status_code}"
    assert_problem(await refused(http, container, function, where, {}), 401)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/",
        "/api/v1//users",
        "/API/V1/USERS",
        "/api/v1/Users",
        "/api/v1/%75sers",
        "/api/v1/users%2F",
        "/api/v1/users;.json",
        "/api/v1/users.json",
        "/api/v1/audit/",
        "/api/v2/users",
        "/api/users",
        "/users",
    ],
)
async def test_no_spelling_of_an_admin_path_gets_around_the_check(
    http: httpx.AsyncClient, keys: Keys, path: str
) -> None:
    response = await http.get(path, headers=keys.auth("viewer"))
    assert response.status_code in {301, 307, 308, 403, 404, 405}, f"{path}: {response.status_code}"
    if response.is_redirect:
        followed = await http.get(response.headers["location"], headers=keys.auth("viewer"))
        assert followed.status_code in {403, 404}, f"{path} -> {response.headers['location']}"
    else:
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("header", ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"])
async def test_method_override_headers_are_ignored(http: httpx.AsyncClient, keys: Keys, header: str) -> None:
    product = await create(http, keys.auth("editor"))
    url = f"/api/v1/products/{product['id']}"
    override = {header: "DELETE", "If-Match": "*"}
    assert (await http.post(url, headers=keys.auth("viewer") | override)).status_code == 405
    assert (await http.post(url, headers=keys.auth("editor") | override)).status_code == 405
    assert (await http.get(url)).status_code == 200
    new_user = {"email": "override@security.test", "password": PASSWORD}
    as_get = await http.post("/api/v1/users", json=new_user, headers=keys.auth("viewer") | {header: "GET"})
    assert_problem(as_get, 403)


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE", "PUT", "CONNECT"])
async def test_other_methods_on_admin_routes_reveal_nothing(
    http: httpx.AsyncClient, keys: Keys, method: str
) -> None:
    for path in ("/api/v1/users", "/api/v1/apikeys", "/api/v1/audit"):
        response = await http.request(method, path, headers=keys.auth("viewer"))
        assert response.status_code in {403, 405}, f"{method} {path}: {response.status_code}"
        assert "@security.test" not in response.text
        assert '"items"' not in response.text


async def test_a_demotion_or_revocation_takes_effect_on_the_next_request(
    http: httpx.AsyncClient, keys: Keys, container: Container, users: dict[str, str]
) -> None:
    second_admin = await container.identity.create_user("second-admin@security.test", PASSWORD, Role.ADMIN)
    token = bearer((await sign_in(http, second_admin.email))["access_token"])
    assert (await http.get("/api/v1/users", headers=token)).status_code == 200
    demoted = await http.patch(
        f"/api/v1/users/{second_admin.id}", json={"role": "viewer"}, headers=keys.auth("admin")
    )
    assert demoted.status_code == 200, demoted.text
    assert_problem(await http.get("/api/v1/users", headers=token), 401)  # the old grant is gone
    fresh = bearer((await sign_in(http, second_admin.email))["access_token"])
    assert_problem(await http.get("/api/v1/users", headers=fresh), 403)  # and the new one is a viewer's

    admin_key = await http.post(
        "/api/v1/apikeys", json={"name": "temp admin", "role": "admin"}, headers=keys.auth("admin")
    )
    secret, key_id = admin_key.json()["secret"], admin_key.json()["id"]
    assert (await http.get("/api/v1/audit", headers=bearer(secret))).status_code == 200
    assert (await http.delete(f"/api/v1/apikeys/{key_id}", headers=keys.auth("admin"))).status_code == 204
    assert_problem(await http.get("/api/v1/audit", headers=bearer(secret)), 401)


async def test_a_viewer_console_session_with_its_csrf_token_still_cannot_administer(
    http: httpx.AsyncClient, users: dict[str, str]
) -> None:
    started = await http.post(
        "/api/v1/auth/session", data={"username": users["viewer"], "password": PASSWORD}
    )
    csrf = {"X-CSRF-Token": started.json()["csrf_token"]}
    assert_problem(await http.post("/api/v1/apikeys", json={"name": "x", "role": "admin"}, headers=csrf), 403)
    assert_problem(await http.post("/api/v1/products", json=product_payload(), headers=csrf), 403)
    assert_problem(await http.get("/api/v1/audit"), 403)


@pytest.mark.parametrize(
    "function",
    [f for f in ADMIN_FUNCTIONS if f.body is not None and f.name != "disable a user"],
    ids=lambda f: f.name,
)
async def test_a_refusal_does_not_depend_on_the_body(
    http: httpx.AsyncClient, keys: Keys, container: Container, function: Function
) -> None:
    where = await ids(http, keys, container)
    for body in ({}, {"unexpected": True}):
        response = await http.request(
            function.method, function.url.format(**where), json=body, headers=keys.auth("editor")
        )
        assert_problem(response, 403)


async def test_concurrent_demotions_cannot_remove_the_last_admin(
    http: httpx.AsyncClient, keys: Keys, container: Container, backend: str, request: pytest.FixtureRequest
) -> None:
    # Two admin keys act (keys, so that a demotion cannot sign the other actor out), used once
    # beforehand so that authenticating them writes nothing and serializes nothing.
    actors = [
        keys.auth("admin"),
        bearer((await container.identity.create_api_key("admin 2", Role.ADMIN)).secret),
    ]
    for actor in actors:
        assert (await http.get("/api/v1/auth/me", headers=actor)).status_code == 200
    for round_ in range(3):  # a race may be lost by chance; three rounds make it near certain
        pair = [
            await container.identity.create_user(f"admin-{round_}-{n}@security.test", PASSWORD, Role.ADMIN)
            for n in range(2)
        ]
        listed = (await http.get("/api/v1/users", headers=actors[0])).json()
        for user in listed:  # leave the new pair as the only admins
            if user["role"] == "admin" and user["id"] not in {str(u.id) for u in pair}:
                demoted = await http.patch(
                    f"/api/v1/users/{user['id']}", json={"role": "viewer"}, headers=actors[0]
                )
                assert demoted.status_code == 200, demoted.text
        demotions = [
            http.patch(f"/api/v1/users/{user.id}", json={"role": "viewer"}, headers=actor)
            for user, actor in zip(pair, actors, strict=True)
        ]
        statuses = sorted(response.status_code for response in await asyncio.gather(*demotions))
        listed = (await http.get("/api/v1/users", headers=actors[0])).json()
        remaining = [user["email"] for user in listed if user["role"] == "admin" and not user["disabled"]]
        assert len(remaining) == 1, f"round {round_}: answers {statuses}, admins left {remaining}"
        assert statuses == [200, 409]
