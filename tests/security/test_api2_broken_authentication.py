"""OWASP API2:2023 Broken Authentication.

Access tokens are accepted only when signed with HS256 by this server's secret for this audience and
still valid; refresh tokens are single use, and a replay ends the whole sign-in; wrong passwords
are throttled per account and per client address; bad credentials are never mistaken for anonymous
access; a console session cannot be ridden by another site (CSRF) on any state-changing route.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from shelf.analytics.api import CAPTURE_PATHS
from shelf.app import Container
from shelf.identity.permissions import Role
from shelf.settings import DEVELOPMENT_SECRET_KEY, Settings
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem
from tests.security.conftest import PASSWORD, AppMaker, bearer, connect, new_address, routed_pairs, sign_in

WRONG = "not the password at all"
NONE_HEADER = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], claims: dict[str, Any], secret: str) -> str:
    """A JWT built by hand, HMAC-SHA256 signed whatever its header claims (algorithm confusion)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def forgeries(real: str, secret: str) -> dict[str, str]:
    claims = jwt.decode(real, options={"verify_signature": False})
    header, payload, signature = real.split(".")
    now = int(time.time())
    escalated = b64(json.dumps(claims | {"role": "admin"}).encode())
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    return {
        "alg none": jwt.encode(claims, key=None, algorithm="none"),
        "alg none, signature kept": f"{NONE_HEADER}.{payload}.{signature}",
        "alg None capitalised": hand_signed({"alg": "None", "typ": "JWT"}, claims, secret),
        "HS384 with the real secret": jwt.encode(claims, secret, algorithm="HS384"),
        "RS256 header, HMAC signature": hand_signed({"alg": "RS256", "typ": "JWT"}, claims, secret),
        "tampered signature": f"{header}.{payload}.{flipped}",
        "tampered payload": f"{header}.{escalated}.{signature}",
        "signature stripped": f"{header}.{payload}.",
        "wrong audience": jwt.encode(claims | {"aud": "someone-else"}, secret, algorithm="HS256"),
        "no audience": jwt.encode({k: v for k, v in claims.items() if k != "aud"}, secret, algorithm="HS256"),
        "wrong issuer": jwt.encode(claims | {"iss": "evil"}, secret, algorithm="HS256"),
        "expired": jwt.encode(claims | {"exp": now - 60}, secret, algorithm="HS256"),
        "no expiry": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, secret, algorithm="HS256"),
        "another user's id": jwt.encode(claims | {"sub": str(uuid.uuid4())}, secret, algorithm="HS256"),
        "other secret": jwt.encode(claims, "x" * 64, algorithm="HS256"),
    }


async def test_forged_or_stale_access_tokens_are_refused_everywhere(
    http: httpx.AsyncClient, users: dict[str, str], settings: Settings
) -> None:
    real = str((await sign_in(http, users["admin"]))["access_token"])
    assert (await http.get("/api/v1/users", headers=bearer(real))).status_code == 200
    for case, token in forgeries(real, settings.secret_key.get_secret_value()).items():
        for url in ("/api/v1/users", "/api/v1/products"):  # admin-only, and public
            response = await http.get(url, headers=bearer(token))
            assert response.status_code == 401, f"{case} on {url}: {response.status_code}"
            assert response.headers["www-authenticate"].startswith("Bearer"), case
            assert response.headers["content-type"] == "application/problem+json", case


async def test_tokens_signed_with_the_development_secret_are_refused_once_a_real_secret_is_set(
    make_app: AppMaker, users: dict[str, str]
) -> None:
    app = make_app(secret_key="k" * 24 + uuid.uuid4().hex)
    async with connect(app) as http:
        real = str((await sign_in(http, users["admin"]))["access_token"])
        claims = jwt.decode(real, options={"verify_signature": False})
        assert (await http.get("/api/v1/users", headers=bearer(real))).status_code == 200
        forged = jwt.encode(claims, DEVELOPMENT_SECRET_KEY, algorithm="HS256")
        assert_problem(await http.get("/api/v1/users", headers=bearer(forged)), 401)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer shelf_not-a-real-key",
        "Bearer ",
        "Bearer",
        "Basic YWRtaW5Ac2VjdXJpdHkudGVzdDpjb3JyZWN0IGhvcnNlIGJhdHRlcnkgc3RhcGxl",
        "Token shelf_whatever",
        "Bearer a.b.c",
    ],
)
async def test_bad_credentials_are_401_even_on_public_routes(
    http: httpx.AsyncClient, authorization: str
) -> None:
    response = await http.get("/api/v1/products", headers={"Authorization": authorization})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_revoked_keys_stop_working_at_once(http: httpx.AsyncClient, keys: Keys) -> None:
    created = await http.post(
        "/api/v1/apikeys", json={"name": "soon gone", "role": "editor"}, headers=keys.auth("admin")
    )
    secret, key_id = created.json()["secret"], created.json()["id"]
    assert (await http.get("/api/v1/auth/me", headers=bearer(secret))).json()["role"] == "editor"
    assert (await http.delete(f"/api/v1/apikeys/{key_id}", headers=keys.auth("admin"))).status_code == 204
    assert_problem(await http.get("/api/v1/products", headers=bearer(secret)), 401)


async def test_refresh_and_access_tokens_are_not_interchangeable(
    http: httpx.AsyncClient, users: dict[str, str]
) -> None:
    pair = await sign_in(http, users["viewer"])
    assert_problem(await http.get("/api/v1/auth/me", headers=bearer(pair["refresh_token"])), 401)
    as_refresh = await http.post("/api/v1/auth/refresh", json={"refresh_token": pair["access_token"][:200]})
    assert_problem(as_refresh, 401)


async def test_a_replayed_refresh_token_ends_every_token_of_the_sign_in(
    http: httpx.AsyncClient, users: dict[str, str]
) -> None:
    stolen = await sign_in(http, users["editor"])
    # The legitimate client rotates first...
    rotated = await http.post("/api/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    current = rotated.json()
    assert current["refresh_token"] != stolen["refresh_token"]
    assert current["access_token"] != stolen["access_token"]
    other_sign_in = await sign_in(http, users["editor"])
    # ...then the thief replays the stolen refresh token: refused, and the whole family dies.
    replay = await http.post("/api/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    assert_problem(replay, 401)
    for access in (stolen["access_token"], current["access_token"]):
        assert_problem(await http.get("/api/v1/auth/me", headers=bearer(access)), 401)
    assert_problem(
        await http.post("/api/v1/auth/refresh", json={"refresh_token": current["refresh_token"]}), 401
    )
    # Only that sign-in: the same user's other sign-in goes on.
    me = await http.get("/api/v1/auth/me", headers=bearer(other_sign_in["access_token"]))
    assert me.json()["role"] == "editor"


async def test_wrong_passwords_unknown_and_disabled_accounts_look_alike(
    http: httpx.AsyncClient, container: Container, users: dict[str, str], keys: Keys
) -> None:
    disabled = await container.identity.create_user("gone@security.test", PASSWORD, Role.VIEWER)
    patched = await http.patch(
        f"/api/v1/users/{disabled.id}", json={"disabled": True}, headers=keys.auth("admin")
    )
    assert patched.status_code == 200, patched.text
    details = set()
    for email, password in (
        (users["viewer"], WRONG),
        ("nobody@security.test", PASSWORD),
        (disabled.email, PASSWORD),
    ):
        response = await http.post("/api/v1/auth/token", data={"username": email, "password": password})
        details.add(assert_problem(response, 401)["detail"])
        assert password not in response.text
    assert len(details) == 1


async def fail_login(http: httpx.AsyncClient, email: str) -> httpx.Response:
    return await http.post("/api/v1/auth/token", data={"username": email, "password": WRONG})


async def test_logins_are_throttled_per_account_whatever_the_address(
    make_app: AppMaker, container: Container
) -> None:
    """The default budget (10 failures per account): the 11th try is a 429 even with the right password."""
    app = make_app()
    user = await container.identity.create_user(
        f"victim-{uuid.uuid4().hex[:8]}@security.test", PASSWORD, Role.EDITOR
    )
    for _ in range(10):  # a distributed guesser: every try from another address
        async with connect(app) as http:
            assert_problem(await fail_login(http, user.email), 401)
    async with connect(app) as http:
        for attempt in (
            http.post("/api/v1/auth/token", data={"username": user.email, "password": PASSWORD}),
            http.post(
                "/api/v1/auth/token", data={"username": f"  {user.email.upper()} ", "password": PASSWORD}
            ),
            http.post("/api/v1/auth/session", data={"username": user.email, "password": PASSWORD}),
        ):
            throttled = await attempt
            assert_problem(throttled, 429)
            assert int(throttled.headers["retry-after"]) > 0
            assert "set-cookie" not in throttled.headers
        # Another account from the same address is not affected by this account's failures.
        other = await container.identity.create_user("bystander@security.test", PASSWORD, Role.VIEWER)
        assert (await sign_in(http, other.email))["access_token"]


async def test_guessing_at_unknown_accounts_is_throttled_too(make_app: AppMaker) -> None:
    app = make_app()
    ghost = f"ghost-{uuid.uuid4().hex[:8]}@security.test"
    for _ in range(10):
        async with connect(app) as http:
            assert_problem(await fail_login(http, ghost), 401)
    async with connect(app) as http:
        assert_problem(await fail_login(http, ghost), 429)


async def test_logins_are_throttled_per_address_across_accounts(
    make_app: AppMaker, users: dict[str, str]
) -> None:
    app = make_app(rate_limit_failed_logins_per_ip="5/hour", rate_limit_auth="1000/minute")
    guesser = new_address()
    async with connect(app, guesser) as http:
        for n in range(5):  # one failure each on five accounts: no account reaches its own budget
            assert_problem(await fail_login(http, f"spray-{n}@security.test"), 401)
        throttled = await http.post(
            "/api/v1/auth/token", data={"username": users["viewer"], "password": PASSWORD}
        )
        assert_problem(throttled, 429)
        assert int(throttled.headers["retry-after"]) > 0
    async with connect(app) as elsewhere:  # the account itself is fine from another address
        assert (await sign_in(elsewhere, users["viewer"]))["access_token"]


async def test_a_session_cookie_alone_changes_nothing_anywhere(
    app: FastAPI, http: httpx.AsyncClient, users: dict[str, str]
) -> None:
    """Every state-changing route, from the route table, refuses a cookie without its CSRF token."""
    started = await http.post("/api/v1/auth/session", data={"username": users["admin"], "password": PASSWORD})
    assert started.status_code == 201, started.text
    assert http.cookies.get("shelf_session")
    writes = sorted(pair for pair in routed_pairs(app) if pair[0] in {"POST", "PUT", "PATCH", "DELETE"})
    assert len(writes) >= 10
    for method, path in writes:
        url = path.replace("{product_id}", str(uuid.uuid4())).replace("{user_id}", str(uuid.uuid4()))
        url = url.replace("{key_id}", str(uuid.uuid4()))
        response = await http.request(method, url, json={}, headers={"Origin": "https://evil.example.net"})
        if path in CAPTURE_PATHS:
            # Event capture ignores a cookie without its token (tracker beacons carry the cookie but
            # authenticate with a key in the body): with no key, nothing is captured either.
            assert_problem(response, 401)
            continue
        assert "CSRF" in assert_problem(response, 403)["detail"], f"{method} {path}"
    # The session is still alive (the refusals did not end it) and reads need no token.
    assert (await http.get("/api/v1/auth/me")).json()["role"] == "admin"


async def test_production_session_cookies_are_secure_httponly_and_same_site(
    make_app: AppMaker, users: dict[str, str]
) -> None:
    app = make_app(env="production", secret_key="p" * 16 + uuid.uuid4().hex)
    async with connect(app) as http:
        started = await http.post(
            "/api/v1/auth/session", data={"username": users["admin"], "password": PASSWORD}
        )
        assert started.status_code == 201, started.text
        cookie = started.headers["set-cookie"].lower()
        assert "secure" in cookie
        assert "httponly" in cookie
        assert "samesite=lax" in cookie or "samesite=strict" in cookie
        assert started.headers["cache-control"] == "no-store"


async def test_a_refresh_token_is_single_use_even_when_presented_concurrently(
    http: httpx.AsyncClient, users: dict[str, str]
) -> None:
    for round_ in range(3):  # a race may be lost by chance; three rounds make it near certain
        pair = await sign_in(http, users["editor"])
        presented = [
            http.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}) for _ in range(6)
        ]
        statuses = sorted(response.status_code for response in await asyncio.gather(*presented))
        assert statuses == [200, 401, 401, 401, 401, 401], f"round {round_}"


async def test_logging_out_of_a_console_session_ends_it(
    http: httpx.AsyncClient, users: dict[str, str]
) -> None:
    started = await http.post("/api/v1/auth/session", data={"username": users["admin"], "password": PASSWORD})
    assert started.status_code == 201, started.text
    assert (await http.get("/api/v1/auth/me")).json()["role"] == "admin"
    ended = await http.post("/api/v1/auth/logout", headers={"X-CSRF-Token": started.json()["csrf_token"]})
    assert ended.status_code == 204
    assert (await http.get("/api/v1/auth/me")).json()["kind"] == "anonymous"
