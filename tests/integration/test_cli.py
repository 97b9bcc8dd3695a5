"""The ``shelf`` command line, run as a user would run it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from shelf.app import create_app
from shelf.settings import Settings
from tests.databases import database
from tests.integration.platform.test_migrations import head_revision
from tests.process import shelf

pytestmark = pytest.mark.xdist_group("cli")


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database(str(request.param), tmp_path) as database_url:
        yield database_url


async def test_migrate_seed_and_create_keys(url: str) -> None:
    assert shelf("db", "current", database_url=url).stdout.strip().startswith("base")
    upgraded = shelf("db", "upgrade", database_url=url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert shelf("db", "current", database_url=url).stdout.strip() == head_revision()

    seeded = shelf("seed", "--products", "120", database_url=url)
    assert seeded.returncode == 0, seeded.stderr
    assert "seeded 120 products" in seeded.stderr
    again = shelf("seed", "--products", "50", "--if-empty", database_url=url)
    assert "already has 120 products" in again.stderr

    created = shelf("apikeys", "create", "--name", "ci", "--role", "editor", database_url=url)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("shelf_")

    app = create_app(Settings(database_url=url, env="test"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        staff = await client.get(
            "/api/v1/products", params={"limit": 100}, headers={"Authorization": f"Bearer {secret}"}
        )
        assert len(staff.json()["items"]) == 100
        page = (await client.get("/api/v1/products", params={"category": "apparel", "sort": "price"})).json()
        prices = [item["price"]["amount"] for item in page["items"]]
        assert prices == sorted(prices, key=float)
        assert all(item["status"] == "active" for item in page["items"])
    await app.state.container.aclose()

    downgraded = shelf("db", "downgrade", "base", database_url=url)
    assert downgraded.returncode == 0, downgraded.stderr
    assert shelf("db", "current", database_url=url).stdout.strip().startswith("base")


async def test_users_create(url: str) -> None:
    assert shelf("db", "upgrade", database_url=url).returncode == 0
    ok = shelf(
        "users",
        "create",
        "--email",
        "Ada@Example.com",
        "--role",
        "admin",
        "--password-stdin",
        database_url=url,
        stdin="correct horse battery\n",
    )
    assert ok.returncode == 0, ok.stderr
    assert "created admin Ada@Example.com" in ok.stderr
    duplicate = shelf(
        "users",
        "create",
        "--email",
        "ada@example.COM",
        "--password-stdin",
        database_url=url,
        stdin="another one 123\n",
    )
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    short = shelf(
        "users", "create", "--email", "bob@example.com", "--password-stdin", database_url=url, stdin="short\n"
    )
    assert short.returncode == 1
    assert "8 to 128" in short.stderr
    client_role = shelf(
        "users",
        "create",
        "--email",
        "c@example.com",
        "--role",
        "client",
        "--password-stdin",
        database_url=url,
        stdin="long enough pw\n",
    )
    assert client_role.returncode == 2


def test_production_refuses_to_start_with_the_default_secret(tmp_path: Path) -> None:
    result = shelf("db", "upgrade", database_url=f"sqlite:///{tmp_path}/x.db", SHELF_ENV="production")
    assert result.returncode == 2
    assert "SHELF_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr
