"""Sign-in with JWT access tokens and single-use, rotating refresh tokens."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest

from shelf.settings import Settings
from tests.integration.catalog.helpers import assert_problem
from tests.integration.identity.conftest import PASSWORD, People, bearer, login


async def test_login_returns_a_token_pair_that_authenticates(
    client: httpx.AsyncClient, people: People
) -> None:
    pair = await login(client, "EDITOR@shelf.test")  # emails are case-insensitive
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 900
    assert isinstance(pair["refresh_token"], str)
    assert len(pair["refresh_token"]) >= 40
    me = await client.get("/api/v1/auth/me", headers=bearer(pair["access_token"]))
    assert me.json()["kind"] == "user"
    assert me.json()["role"] == "editor"
    claims = jwt.decode(str(pair["access_token"]), options={"verify_signature": False})
    assert {"iss", "aud", "exp", "iat", "jti", "sub", "role", "sid"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 900


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("editor@shelf.test", "wrong password here"),
        ("nobody@shelf.test", PASSWORD),
        ("", ""),
        ("editor@shelf.test", ""),
    ],
)
async def test_wrong_credentials_are_401_without_saying_which(
    client: httpx.AsyncClient, people: People, email: str, password: str
) -> None:
    response = await client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code in (401, 422)
    if response.status_code == 401:
        assert "email or password" in assert_problem(response, 401)["detail"]


def forge(settings: Settings, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "sub": str(uuid.uuid4()),
        "role": "admin",
        "sid": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return claims


async def test_jwt_hygiene(client: httpx.AsyncClient, people: People, settings: Settings) -> None:
    real = str((await login(client, "admin@shelf.test"))["access_token"])
    real_claims = jwt.decode(real, options={"verify_signature": False})
    secret = settings.secret_key.get_secret_value()
    header, payload, signature = real.split(".")
    escalated_payload = jwt.utils.base64url_encode(b'{"role": "admin", "sub": "x"}').decode()
    bad_tokens = {
        "alg none": jwt.encode(real_claims, key=None, algorithm="none"),
        "other algorithm": jwt.encode(real_claims, secret + "x" * 64, algorithm="HS512"),
        "HS384 with the real secret": jwt.encode(real_claims, secret, algorithm="HS384"),
        "tampered signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "tampered payload": f"{header}.{escalated_payload}.{signature}",
        "wrong audience": jwt.encode(real_claims | {"aud": "someone-else"}, secret, algorithm="HS256"),
        "wrong issuer": jwt.encode(real_claims | {"iss": "evil"}, secret, algorithm="HS256"),
        "expired": jwt.encode(real_claims | {"exp": int(time.time()) - 60}, secret, algorithm="HS256"),
        "missing sid": jwt.encode(
            {k: v for k, v in real_claims.items() if k != "sid"}, secret, algorithm="HS256"
        ),
        "forged session": jwt.encode(forge(settings), secret, algorithm="HS256"),
        "role escalation": jwt.encode(real_claims | {"role": "client"}, secret, algorithm="HS256"),
        "garbage": "a.b.c",
    }
    for case, token in bad_tokens.items():
        response = await client.get("/api/v1/products", headers=bearer(token))
        assert response.status_code == 401, case
        assert response.headers["www-authenticate"].startswith("Bearer"), case
    assert (await client.get("/api/v1/products", headers=bearer(real))).status_code == 200


async def test_refresh_rotates_and_reuse_revokes_the_whole_sign_in(
    client: httpx.AsyncClient, people: People
) -> None:
    first = await login(client, "editor@shelf.test")
    second = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(second["access_token"]))).status_code == 200

    replay = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert "already used" in assert_problem(replay, 401)["detail"]
    # Every token of that sign-in is now dead: the newest access and refresh tokens too.
    assert (await client.get("/api/v1/auth/me", headers=bearer(second["access_token"]))).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=bearer(first["access_token"]))).status_code == 401
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert_problem(again, 401)
    # Another sign-in of the same user is unaffected.
    other = await login(client, "editor@shelf.test")
    assert (await client.get("/api/v1/auth/me", headers=bearer(other["access_token"]))).status_code == 200


async def test_refresh_with_an_unknown_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/api/v1/auth/refresh", json={"refresh_token": "nope"}), 401)
    assert_problem(await client.post("/api/v1/auth/refresh", json={}), 422)


async def test_logout_ends_every_token_of_the_sign_in(client: httpx.AsyncClient, people: People) -> None:
    pair = await login(client, "viewer@shelf.test")
    response = await client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": pair["refresh_token"]},
        headers=bearer(pair["access_token"]),
    )
    assert response.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=bearer(pair["access_token"]))).status_code == 401
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_problem(refreshed, 401)


async def test_logout_with_only_the_access_token(client: httpx.AsyncClient, people: People) -> None:
    pair = await login(client, "viewer@shelf.test")
    assert (await client.post("/api/v1/auth/logout", headers=bearer(pair["access_token"]))).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=bearer(pair["access_token"]))).status_code == 401


async def test_disabling_a_user_or_changing_the_role_ends_their_tokens(
    client: httpx.AsyncClient, people: People
) -> None:
    admin = bearer((await login(client, "admin@shelf.test"))["access_token"])
    users = {u["email"]: u["id"] for u in (await client.get("/api/v1/users", headers=admin)).json()}
    for email, change in (
        ("editor@shelf.test", {"role": "viewer"}),
        ("viewer@shelf.test", {"disabled": True}),
    ):
        pair = await login(client, email)
        updated = await client.patch(f"/api/v1/users/{users[email]}", json=change, headers=admin)
        assert updated.status_code == 200, updated.text
        assert (await client.get("/api/v1/auth/me", headers=bearer(pair["access_token"]))).status_code == 401
        refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert refreshed.status_code == 401
    disabled = await client.post(
        "/api/v1/auth/token", data={"username": "viewer@shelf.test", "password": PASSWORD}
    )
    assert_problem(disabled, 401)
