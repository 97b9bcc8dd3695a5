"""Console sessions: HttpOnly, SameSite=Lax cookies, server-side revocable, CSRF on every change."""

from __future__ import annotations

import httpx

from tests.integration.catalog.helpers import assert_problem, product_payload
from tests.integration.identity.conftest import PASSWORD, People


async def start(client: httpx.AsyncClient, email: str) -> str:
    response = await client.post("/api/v1/auth/session", data={"username": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development and tests run on plain http://127.0.0.1
    token: str = response.json()["csrf_token"]
    return token


async def test_a_session_cookie_authenticates(client: httpx.AsyncClient, people: People) -> None:
    await start(client, "editor@shelf.test")
    me = (await client.get("/api/v1/auth/me")).json()
    assert (me["kind"], me["role"]) == ("user", "editor")


async def test_state_changes_need_the_csrf_token(client: httpx.AsyncClient, people: People) -> None:
    csrf = await start(client, "editor@shelf.test")
    without = await client.post("/api/v1/products", json=product_payload())
    assert "CSRF" in assert_problem(without, 403)["detail"]
    wrong = await client.post("/api/v1/products", json=product_payload(), headers={"X-CSRF-Token": "0" * 64})
    assert_problem(wrong, 403)
    right = await client.post("/api/v1/products", json=product_payload(), headers={"X-CSRF-Token": csrf})
    assert right.status_code == 201, right.text
    # Reads need no token.
    assert (await client.get("/api/v1/products")).status_code == 200


async def test_the_csrf_token_may_come_in_a_form_field(client: httpx.AsyncClient, people: People) -> None:
    csrf = await start(client, "editor@shelf.test")
    # A form post (as the console's pages send): the body is read for the token, then replayed.
    form = {"username": "viewer@shelf.test", "password": PASSWORD, "csrf_token": csrf}
    assert (await client.post("/api/v1/auth/token", data=form)).status_code == 200
    form["csrf_token"] = "nope"
    assert_problem(await client.post("/api/v1/auth/token", data=form), 403)


async def test_ending_a_session_revokes_it_on_the_server(client: httpx.AsyncClient, people: People) -> None:
    csrf = await start(client, "admin@shelf.test")
    cookie = client.cookies.get("shelf_session")
    assert cookie
    ended = await client.delete("/api/v1/auth/session", headers={"X-CSRF-Token": csrf})
    assert ended.status_code == 204
    assert (await client.get("/api/v1/auth/me")).json()["kind"] == "anonymous"
    client.cookies.set("shelf_session", cookie)  # a stolen copy of the cookie is worthless now
    assert (await client.get("/api/v1/auth/me")).json()["kind"] == "anonymous"


async def test_wrong_passwords_start_no_session(client: httpx.AsyncClient, people: People) -> None:
    response = await client.post(
        "/api/v1/auth/session", data={"username": "admin@shelf.test", "password": "nope nope"}
    )
    assert_problem(response, 401)
    assert "set-cookie" not in response.headers
