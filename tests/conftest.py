"""Shared fixtures. Integration tests run once per backend: SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from shelf.app import Container, create_app
from shelf.flags.service import ExposureLog
from shelf.identity.permissions import Role
from shelf.platform import migrations
from shelf.settings import Settings
from tests.databases import database

BACKENDS = ["sqlite", "postgresql"]
TABLES = [
    "flags",
    "import_errors",
    "import_jobs",
    "experiments",
    "feedback",
    "analytics_events",
    "analytics_event_ids",
    "analytics_user_days",
    "analytics_product_days",
    "analytics_person_aliases",
    "product_tags",
    "products",
    "idempotency_keys",
    "audit_log",
    "refresh_tokens",
    "login_families",
    "console_sessions",
    "api_keys",
    "users",
]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with database(backend, tmp_path_factory.mktemp(backend)) as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # The shared app serves every test from one loopback address, as if hundreds of people signed
    # in from one IP within a minute; its rate limits are off. The limiter and the login throttle
    # are tested with apps of their own and tiny limits (tests/integration/gateway, identity).
    return Settings(
        database_url=database_url,
        env="test",
        log_level="warning",
        rate_limit_enabled=False,
        analytics_spool_dir=str(tmp_path_factory.mktemp("analytics-spool")),
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    await asyncio.to_thread(migrations.upgrade, settings)
    application = create_app(settings)
    await application.state.container.analytics.start()  # ASGITransport runs no lifespan
    yield application
    await application.state.container.aclose()


@pytest.fixture
async def container(app: FastAPI) -> AsyncIterator[Container]:
    container: Container = app.state.container
    yield container
    # Services emit server-side events (product_created, ...) into the buffer, which writes them
    # out in the background: write them out now, or they land in the next test's empty tables.
    await container.analytics.buffer.flush()
    async with container.database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
        else:
            for table in TABLES:
                await connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
    # The flags were emptied behind the flags service's back: forget its cached definitions too,
    # or the next test evaluates this one's flags.
    await container.flags.forget_definitions()
    # And the exposures it remembers sending: the next test's visitors have not seen a thing.
    container.flags.exposures = ExposureLog(container.flags.exposures.capacity)


@pytest.fixture
async def client(app: FastAPI, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shelf.test") as http:
        yield http


@dataclass(frozen=True)
class Keys:
    admin: str
    editor: str
    viewer: str
    client: str

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}"}


@pytest.fixture
async def keys(container: Container) -> Keys:
    secrets = {}
    for role in Role:
        issued = await container.identity.create_api_key(f"test-{role}", role)
        secrets[role.value] = issued.secret
    return Keys(**secrets)
