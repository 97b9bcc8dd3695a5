"""Fixtures of the security suite.

The shared app (``app``/``client``) runs with its rate limits off; tests of limits and of the login
throttle build apps of their own with ``make_app``, which keep the limits on. Every client here
connects from an address of its own (``connect``), because limits and the login throttle are keyed
on the client address and a limiter's buckets outlive the test that filled them.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.routing import BaseRoute, Mount

from shelf.app import Container, create_app
from shelf.audit.models import AuditEntry
from shelf.identity.permissions import Principal, Role
from shelf.settings import Settings

PASSWORD = "correct horse battery staple"
BASE_URL = "http://shelf.test"
# Creates what the tests need without going through the API under test.
SETUP = Principal(kind="cli", name="security test setup", role=Role.ADMIN)


def new_address() -> str:
    """A client address no other test uses (10.0.0.0/8, never 127.0.0.1)."""
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"


def connect(app: FastAPI, address: str | None = None, **transport: Any) -> httpx.AsyncClient:
    """A client for ``app`` whose requests come from ``address`` (a fresh one by default)."""
    asgi = httpx.ASGITransport(app=app, client=(address or new_address(), 50000), **transport)
    return httpx.AsyncClient(transport=asgi, base_url=BASE_URL)


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def http(app: FastAPI, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``client``, against the same app and database, but from an address of this test's own."""
    async with connect(app) as client:
        yield client


@pytest.fixture
async def users(container: Container) -> dict[str, str]:
    """One user per role, by role: ``{"admin": "admin@security.test", ...}``."""
    emails = {}
    for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER):
        user = await container.identity.create_user(f"{role}@security.test", PASSWORD, role)
        emails[role.value] = user.email
    return emails


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await http.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


async def audit_count(container: Container) -> int:
    async with container.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


AppMaker = Callable[..., FastAPI]


@pytest.fixture
async def make_app(app: FastAPI, container: Container, settings: Settings) -> AsyncIterator[AppMaker]:
    """Build extra apps on the test database with other settings (tiny rate limits, production...).

    Depends on ``app`` (the schema is migrated) and ``container`` (the tables are emptied after).
    """
    made: list[FastAPI] = []

    def make(**overrides: Any) -> FastAPI:
        unknown = overrides.keys() - Settings.model_fields.keys()
        assert not unknown, f"not settings (they would be ignored silently): {sorted(unknown)}"
        base: dict[str, Any] = {"database_url": settings.database_url, "env": "test", "log_level": "warning"}
        application = create_app(Settings(**(base | overrides)))
        made.append(application)
        return application

    yield make
    for application in made:
        await application.state.container.aclose()


def _flat(routes: Iterable[BaseRoute]) -> Iterator[Any]:
    """The app's routes with included routers expanded (recent FastAPI versions include them lazily)."""
    expand = getattr(fastapi.routing, "iter_route_contexts", None)
    yield from (expand(list(routes)) if expand else routes)


def routed_pairs(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, HEAD aside; a mount of static files is ``GET <mount>/{path}``."""
    pairs: set[tuple[str, str]] = set()
    for route in _flat(app.routes):
        original = getattr(route, "original_route", route)
        if isinstance(original, Mount):
            if original.routes:
                raise AssertionError(f"{original.path} mounts routes: teach routed_pairs() to list them")
            pairs.add(("GET", f"{original.path}/{{path}}"))
            continue
        methods = route.methods or {"WEBSOCKET"}
        pairs.update((method, route.path) for method in methods if method != "HEAD")
    return pairs


@pytest.fixture
async def route_table(tmp_path: Path) -> set[tuple[str, str]]:
    """The route table of a freshly built app (no database needed, so not run per backend)."""
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'routes.db'}", env="test", log_level="warning")
    )
    try:
        return routed_pairs(app)
    finally:
        await app.state.container.aclose()
