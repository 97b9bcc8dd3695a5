"""Logging in to the console and out of it, through the pages, as a browser does."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from shelf.app import Container, create_app
from shelf.gateway.auth import SESSION_COOKIE
from shelf.settings import Settings
from tests.integration.web.admin.conftest import PASSWORD, Staff, log_in
from tests.integration.web.helpers import BROWSER, assert_self_contained, csrf_token_of


async def _login_form(client: httpx.AsyncClient, next_path: str | None = None) -> str:
    url = "/admin/login" + (f"?next={next_path}" if next_path else "")
    page = await client.get(url, headers=BROWSER)
    assert page.status_code == 200
    return page.text


async def _post_login(
    client: httpx.AsyncClient,
    email: str,
    password: str,
    *,
    next_path: str = "/admin",
    token: str | None = None,
) -> httpx.Response:
    token = token if token is not None else csrf_token_of(await _login_form(client))
    form = {"email": email, "password": password, "next": next_path, "csrf_token": token}
    return await client.post("/admin/login", data=form, headers=BROWSER)


async def test_an_anonymous_visitor_is_sent_to_the_login_page_and_back(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    sent = await client.get("/admin?welcome=1", headers=BROWSER)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/admin/login?next=/admin%3Fwelcome%3D1"
    assert sent.headers["cache-control"] == "no-store"

    form = await client.get(sent.headers["location"], headers=BROWSER)
    html = form.text
    assert '<label class="field__label" for="field-email">Email' in html
    assert '<label class="field__label" for="field-password">Password' in html
    assert re.search(r'<button class="button button--primary" type="submit">Log in</button>', html)
    assert 'name="next" value="/admin?welcome=1"' in html
    assert 'autocomplete="current-password"' in html
    assert_self_contained(html)

    answer = await _post_login(client, staff.editor, PASSWORD, next_path="/admin?welcome=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin?welcome=1"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # tests serve plain http
    page = await client.get("/admin", headers=BROWSER)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "editor@console.test" in page.text
    assert (await client.get("/api/v1/auth/me")).json()["role"] == "editor"
    # Signed in already: the login page says so and leads on.
    again = await client.get("/admin/login?next=/admin/x", headers=BROWSER)
    assert again.status_code == 200
    assert "You are logged in as editor@console.test." in again.text
    assert '<a href="/admin/x">Continue to the console</a>' in again.text
    assert 'name="password"' not in again.text


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/admin",
        "//evil.example/admin",
        "/\\evil.example",
        "/admin/../../products",
        "/products",
        "javascript:alert(1)",
        "/admin/login",
        "/admin\r\nSet-Cookie: x=1",
        "",
    ],
)
async def test_next_is_never_an_open_redirect(
    client: httpx.AsyncClient, staff: Staff, next_path: str
) -> None:
    answer = await _post_login(client, staff.viewer, PASSWORD, next_path=next_path)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin"


async def test_a_wrong_password_shows_an_inline_error_and_keeps_the_email(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    answer = await _post_login(client, staff.admin, "not the password")
    assert answer.status_code == 422
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    assert "The email or password is wrong, or the account is disabled." in answer.text
    assert 'role="alert"' in answer.text
    assert f'value="{staff.admin}"' in answer.text
    assert 'type="password" value=""' in answer.text  # the password is never sent back
    assert (await client.get("/api/v1/auth/me")).json()["kind"] == "anonymous"

    empty = await _post_login(client, "", "")
    assert empty.status_code == 422
    assert "Enter your email address." in empty.text
    assert "Enter your password." in empty.text
    assert 'aria-invalid="true"' in empty.text
    assert 'aria-describedby="field-email-error"' in empty.text


async def test_the_login_form_must_come_from_this_site(client: httpx.AsyncClient, staff: Staff) -> None:
    await _login_form(client)  # a shopper cookie, but a token another site made up
    forged = await _post_login(client, staff.admin, PASSWORD, token="f" * 64)
    assert forged.status_code == 403
    assert "This form had expired" in forged.text
    assert SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    assert (await client.get("/api/v1/auth/me")).json()["kind"] == "anonymous"


@pytest.fixture
async def throttled(settings: Settings, container: Container) -> AsyncIterator[FastAPI]:
    app = create_app(
        settings.model_copy(
            update={"rate_limit_enabled": True, "rate_limit_failed_logins_per_account": "2/hour"}
        )
    )
    yield app
    await app.state.container.aclose()


async def test_throttled_logins_read_as_a_message(throttled: FastAPI, staff: Staff) -> None:
    transport = httpx.ASGITransport(app=throttled, client=("10.9.8.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://shelf.test") as client:
        for _ in range(2):
            assert (await _post_login(client, staff.admin, "wrong guess")).status_code == 422
        blocked = await _post_login(client, staff.admin, PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert blocked.headers["content-type"] == "text/html; charset=utf-8"
    assert "Too many failed attempts to log in" in blocked.text
    assert re.search(r"Wait \d+ minutes?, then try again", blocked.text)
    assert f'value="{staff.admin}"' in blocked.text


async def test_production_cookies_are_secure(settings: Settings, container: Container, staff: Staff) -> None:
    secret = SecretStr("p" * 16 + uuid.uuid4().hex)
    app = create_app(settings.model_copy(update={"env": "production", "secret_key": secret}))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://shelf.test") as client:
            answer = await _post_login(client, staff.admin, PASSWORD)
        assert answer.status_code == 303
        assert "secure" in answer.headers["set-cookie"].lower()
    finally:
        await app.state.container.aclose()


async def test_logging_out_ends_the_session_on_the_server(client: httpx.AsyncClient, staff: Staff) -> None:
    csrf = await log_in(client, staff.admin)
    cookie = client.cookies[SESSION_COOKIE]
    refused = await client.post("/admin/logout", headers=BROWSER)  # no token: another site's form
    assert refused.status_code == 403
    assert (await client.get("/api/v1/auth/me")).json()["role"] == "admin"

    out = await client.post("/admin/logout", data={"csrf_token": csrf}, headers=BROWSER)
    assert out.status_code == 303
    assert out.headers["location"] == "/admin/login?signed_out=1"
    assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
    assert "You have logged out." in (await client.get(out.headers["location"], headers=BROWSER)).text
    client.cookies.set(SESSION_COOKIE, cookie)  # a copy of the old cookie is worth nothing now
    assert (await client.get("/admin", headers=BROWSER)).status_code == 303
