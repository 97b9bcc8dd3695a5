"""OWASP API4:2023 Unrestricted Resource Consumption.

Bodies are capped (1 MiB by default) before any handler reads them, declared or streamed; pages,
search terms, cursors and every free-text field are bounded; and token buckets cap each caller per
route group, announce themselves in ``RateLimit-Policy``/``RateLimit`` headers and refuse with a
429 problem carrying ``Retry-After``.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shelf.app import Container
from shelf.catalog.models import Product
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem, product_payload
from tests.security.conftest import PASSWORD, AppMaker, bearer, connect, new_address

MIB = 1024 * 1024


async def product_count(container: Container) -> int:
    async with container.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Product)) or 0)


def padded_product(size: int) -> bytes:
    """A valid product document padded with JSON whitespace to exactly ``size`` bytes."""
    body = httpx.Request("POST", "/", json=product_payload()).content
    return body[:-1] + b" " * (size - len(body)) + b"}"


async def test_bodies_over_one_mebibyte_are_refused_before_they_are_read(
    http: httpx.AsyncClient, keys: Keys, container: Container
) -> None:
    editor = keys.auth("editor") | {"Content-Type": "application/json"}
    too_big = padded_product(MIB + 1)
    assert_problem(await http.post("/api/v1/products", content=too_big, headers=editor), 413)

    async def stream() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(too_big), 64 * 1024):
            yield too_big[start : start + 64 * 1024]

    streamed = await http.post("/api/v1/products", content=stream(), headers=editor)
    assert "content-length" not in streamed.request.headers
    assert_problem(streamed, 413)
    # A small Content-Length that lies does not get a big body in.
    lying = await http.post("/api/v1/products", content=too_big, headers=editor | {"Content-Length": "100"})
    assert lying.request.headers["content-length"] == "100"
    assert_problem(lying, 413)
    # Anonymous sign-in forms too.
    form = {"username": "a@security.test", "password": "p" * (MIB + 1)}
    assert_problem(await http.post("/api/v1/auth/token", data=form), 413)
    assert await product_count(container) == 0
    # At the limit exactly the body is read, and the product is created.
    accepted = await http.post("/api/v1/products", content=padded_product(MIB), headers=editor)
    assert accepted.status_code == 201, accepted.text[:300]


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/v1/products", {"limit": 101}),
        ("/api/v1/products", {"limit": 0}),
        ("/api/v1/products", {"limit": -1}),
        ("/api/v1/products", {"limit": 10**30}),
        ("/api/v1/products", {"q": "w" * 201}),
        ("/api/v1/products", {"cursor": "c" * 513}),
        ("/api/v1/products", {"tag": "t" * 41}),
        ("/api/v1/products", {"category": "c" * 65}),
        ("/api/v1/products", {"expand": "everything"}),  # unknown parameters are refused, not ignored
        ("/api/v1/audit", {"limit": 201}),
        ("/api/v1/audit", {"entity_id": "e" * 65}),
    ],
)
async def test_page_sizes_and_query_parameters_are_bounded(
    http: httpx.AsyncClient, keys: Keys, url: str, params: dict[str, Any]
) -> None:
    body = assert_problem(await http.get(url, params=params, headers=keys.auth("admin")), 422)
    assert body["errors"]


async def test_the_largest_allowed_page_and_query_are_served(http: httpx.AsyncClient, keys: Keys) -> None:
    for params in ({"limit": 100}, {"q": "w" * 200}):
        assert (await http.get("/api/v1/products", params=params)).status_code == 200
    assert (
        await http.get("/api/v1/audit", params={"limit": 200}, headers=keys.auth("admin"))
    ).status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"description": "d" * 10_001},
        {"name": "n" * 201},
        {"tags": [f"tag-{n}" for n in range(21)]},
        {"attributes": {f"k{n}": n for n in range(51)}},
        {"attributes": {"k": "v" * 501}},
        {"sku": "S" * 65},
    ],
)
async def test_free_text_and_collections_in_products_are_bounded(
    http: httpx.AsyncClient, keys: Keys, overrides: dict[str, Any]
) -> None:
    response = await http.post(
        "/api/v1/products", json=product_payload(**overrides), headers=keys.auth("editor")
    )
    assert_problem(response, 422)


async def test_oversized_credentials_and_keys_are_refused_before_hashing(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    huge = "p" * 1025  # argon2id over an attacker-sized password would cost the server, not them
    assert_problem(
        await http.post("/api/v1/auth/token", data={"username": "a@b.test", "password": huge}), 422
    )
    assert_problem(await http.post("/api/v1/auth/token", data={"username": "u" * 321, "password": "x"}), 422)
    too_long_key = {"Idempotency-Key": "k" * 256}
    created = await http.post(
        "/api/v1/products", json=product_payload(), headers=keys.auth("editor") | too_long_key
    )
    assert_problem(created, 422)
    assert_problem(await http.post("/api/v1/auth/refresh", json={"refresh_token": "r" * 201}), 422)


def assert_limited(response: httpx.Response, policy: str, quota: int) -> int:
    """A 429 problem with Retry-After and both RateLimit headers; returns the seconds to wait."""
    assert_problem(response, 429)
    wait = int(response.headers["retry-after"])
    assert 0 < wait <= 3600
    assert response.headers["ratelimit-policy"].startswith(f'"{policy}";q={quota};')
    assert response.headers["ratelimit"].startswith(f'"{policy}";r=0;')
    return wait


async def test_anonymous_callers_are_limited_per_address(make_app: AppMaker) -> None:
    app = make_app(rate_limit_anonymous="3/minute")
    async with connect(app) as http:
        for remaining in (2, 1, 0):
            ok = await http.get("/api/v1/products")
            assert ok.status_code == 200
            assert ok.headers["ratelimit-policy"] == '"anonymous";q=3;w=60'
            assert ok.headers["ratelimit"].startswith(f'"anonymous";r={remaining};t=')
        assert_limited(await http.get("/api/v1/products"), "anonymous", 3)
        # Claiming another address in a header does not buy a new budget.
        spoofed = {"X-Forwarded-For": new_address(), "X-Real-IP": new_address(), "Forwarded": "for=10.9.9.9"}
        assert_limited(await http.get("/api/v1/products", headers=spoofed), "anonymous", 3)
        # The liveness probe answers however busy the caller is.
        assert (await http.get("/healthz")).status_code == 200
    async with connect(app) as elsewhere:
        assert (await elsewhere.get("/api/v1/products")).status_code == 200


async def test_authenticated_callers_are_limited_per_principal_and_writes_separately(
    make_app: AppMaker, keys: Keys
) -> None:
    app = make_app(rate_limit_authenticated="2/minute", rate_limit_writes="1/minute")
    async with connect(app) as http:
        editor = keys.auth("editor")
        first = await http.post("/api/v1/products", json=product_payload(), headers=editor)
        assert first.status_code == 201, first.text
        assert first.headers["ratelimit-policy"] == '"writes";q=1;w=60'
        assert_limited(
            await http.post("/api/v1/products", json=product_payload(), headers=editor), "writes", 1
        )
        for _ in range(2):  # reads have their own bucket
            assert (await http.get("/api/v1/products", headers=editor)).status_code == 200
        assert_limited(await http.get("/api/v1/products", headers=editor), "authenticated", 2)
        # The same address with another key is another caller.
        assert (await http.get("/api/v1/products", headers=keys.auth("viewer"))).status_code == 200


async def test_sign_in_routes_have_a_tight_budget_of_their_own(
    make_app: AppMaker, users: dict[str, str]
) -> None:
    app = make_app(rate_limit_auth="2/minute")
    async with connect(app) as http:
        creds = {"username": users["viewer"], "password": PASSWORD}
        for _ in range(2):
            assert (await http.post("/api/v1/auth/token", data=creds)).status_code == 200
        assert_limited(await http.post("/api/v1/auth/token", data=creds), "auth", 2)
        assert_limited(await http.post("/api/v1/auth/refresh", json={"refresh_token": "x"}), "auth", 2)
        # Reads elsewhere are unaffected.
        assert (await http.get("/api/v1/products")).status_code == 200


async def test_requests_with_bad_credentials_spend_a_budget_of_the_address(make_app: AppMaker) -> None:
    """Each rejected key or token costs a lookup: an address that keeps guessing is turned away."""
    app = make_app(rate_limit_bad_credentials="3/minute")
    guesser = new_address()
    async with connect(app, guesser) as http:
        for n in range(3):
            assert_problem(await http.get("/api/v1/products", headers=bearer(f"shelf_guess-{n:04d}")), 401)
        for guess in ("shelf_guess-0003", "a.b.c", "shelf_guess-0004"):
            blocked = await http.get("/api/v1/products", headers=bearer(guess))
            assert_problem(blocked, 429)
            assert int(blocked.headers["retry-after"]) > 0
        assert (await http.get("/api/v1/products")).status_code == 200  # plain anonymous reads go on
    async with connect(app) as elsewhere:
        assert_problem(await elsewhere.get("/api/v1/products", headers=bearer("shelf_guess-0005")), 401)


async def test_password_hashing_does_not_block_the_event_loop(
    http: httpx.AsyncClient, users: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shelf.identity.service as identity_service  # noqa: PLC0415 - patched just below

    loop_thread = threading.get_ident()
    on_the_loop: list[bool] = []
    real_verify = identity_service.verify_password

    def watched_verify(password_hash: str, password: str) -> bool:
        on_the_loop.append(threading.get_ident() == loop_thread)
        return real_verify(password_hash, password)

    monkeypatch.setattr(identity_service, "verify_password", watched_verify)
    for password in (PASSWORD, "a wrong password"):
        await http.post("/api/v1/auth/token", data={"username": users["viewer"], "password": password})
    assert on_the_loop, "the password check was not observed: update this test to where it moved"
    assert not any(on_the_loop), "argon2 ran on the event loop thread"
