"""Sign-ins are throttled per account and per client IP: repeated failures get 429."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from shelf.app import create_app
from shelf.identity.permissions import Role
from shelf.settings import Settings
from tests.integration.catalog.helpers import assert_problem
from tests.integration.identity.conftest import PASSWORD


@pytest.fixture
async def throttled_app(settings: Settings, container: object) -> AsyncIterator[FastAPI]:
    app = create_app(
        settings.model_copy(
            update={
                "rate_limit_enabled": True,
                "rate_limit_failed_logins_per_account": "3/hour",
                "rate_limit_failed_logins_per_ip": "5/hour",
            }
        )
    )
    for name in ("ada", "bob", "cy"):
        await app.state.container.identity.create_user(f"{name}@shelf.test", PASSWORD, Role.EDITOR)
    yield app
    await app.state.container.aclose()


def client_from(app: FastAPI, ip: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url="http://t")


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": email, "password": password})


async def test_an_account_is_throttled_after_repeated_failures(throttled_app: FastAPI) -> None:
    async with client_from(throttled_app, "10.0.0.1") as client:
        for _ in range(3):
            assert (await sign_in(client, "ada@shelf.test", "wrong guess 1")).status_code == 401
        blocked = await sign_in(client, "ada@shelf.test", PASSWORD)  # even the right password waits
        assert_problem(blocked, 429)
        assert int(blocked.headers["retry-after"]) >= 1
    async with client_from(throttled_app, "10.0.0.2") as elsewhere:
        assert_problem(await sign_in(elsewhere, "ADA@shelf.test", PASSWORD), 429)  # per account, any IP
        assert (await sign_in(elsewhere, "bob@shelf.test", PASSWORD)).status_code == 200


async def test_an_ip_is_throttled_across_accounts(throttled_app: FastAPI) -> None:
    async with client_from(throttled_app, "10.0.0.3") as client:
        for email in (
            "ada@shelf.test",
            "ada@shelf.test",
            "bob@shelf.test",
            "bob@shelf.test",
            "nobody@shelf.test",
        ):
            assert (await sign_in(client, email, "wrong guess 2")).status_code == 401
        assert_problem(await sign_in(client, "cy@shelf.test", PASSWORD), 429)
    async with client_from(throttled_app, "10.0.0.4") as other_ip:
        assert (await sign_in(other_ip, "cy@shelf.test", PASSWORD)).status_code == 200


async def test_a_success_clears_the_account_count(throttled_app: FastAPI) -> None:
    async with client_from(throttled_app, "10.0.0.5") as client:
        for _ in range(2):
            assert (await sign_in(client, "bob@shelf.test", "wrong guess 3")).status_code == 401
        assert (await sign_in(client, "bob@shelf.test", PASSWORD)).status_code == 200
    async with client_from(throttled_app, "10.0.0.6") as client:
        for _ in range(2):
            assert (await sign_in(client, "bob@shelf.test", "wrong guess 4")).status_code == 401
        assert (await sign_in(client, "bob@shelf.test", PASSWORD)).status_code == 200


async def test_console_sign_in_is_throttled_too(throttled_app: FastAPI) -> None:
    async with client_from(throttled_app, "10.0.0.7") as client:
        for _ in range(3):
            response = await client.post(
                "/api/v1/auth/session", data={"username": "cy@shelf.test", "password": "x" * 9}
            )
            assert response.status_code == 401
        blocked = await client.post(
            "/api/v1/auth/session", data={"username": "cy@shelf.test", "password": PASSWORD}
        )
        assert_problem(blocked, 429)
        assert "set-cookie" not in blocked.headers


async def test_an_address_presenting_bad_credentials_is_slowed_down(
    settings: Settings, container: object
) -> None:
    app = create_app(
        settings.model_copy(update={"rate_limit_enabled": True, "rate_limit_bad_credentials": "3/hour"})
    )
    try:
        async with client_from(app, "10.0.0.9") as client:
            for _ in range(3):
                bad = await client.get("/api/v1/products", headers={"Authorization": "Bearer shelf_guess"})
                assert_problem(bad, 401)
            blocked = await client.get("/api/v1/products", headers={"Authorization": "Bearer shelf_guess"})
            assert_problem(blocked, 429)
            assert int(blocked.headers["retry-after"]) >= 1
            assert (await client.get("/api/v1/products")).status_code == 200  # anonymous reads go on
        async with client_from(app, "10.0.0.10") as other:
            assert_problem(await other.get("/api/v1/products", headers={"Authorization": "Bearer x"}), 401)
    finally:
        await app.state.container.aclose()
