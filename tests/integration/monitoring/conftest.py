"""Fixtures of the monitoring tests: apps with their own settings or tracing, and metric readings."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shelf.app import create_app
from shelf.settings import Settings
from tests.databases import server_missing

METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef"
REDIS_URL = os.environ.get("SHELF_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MakeApp = Callable[..., FastAPI]


@pytest.fixture
async def make_app(app: FastAPI, settings: Settings) -> AsyncIterator[MakeApp]:
    """Apps of their own over the test database (``app`` is requested so its migrations have run)."""
    made: list[FastAPI] = []

    def make(*, tracing: Any = None, **overrides: Any) -> FastAPI:
        base: dict[str, Any] = {"database_url": settings.database_url, "env": "test", "log_level": "warning"}
        application = create_app(Settings(**(base | overrides)), tracing=tracing)
        made.append(application)
        return application

    yield make
    for application in made:
        await application.state.container.aclose()


@pytest.fixture
async def redis_url() -> str:
    """The test Redis, once it answered (under CI a missing Redis fails the test)."""
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        server_missing(f"Redis at {REDIS_URL} ({error})", "Start redis-server or set SHELF_TEST_REDIS_URL.")
    finally:
        await client.aclose()
    return REDIS_URL


def connect(app: FastAPI, address: str = "10.9.8.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://shelf.test")


def sample(name: str, **labels: str) -> float:
    """A value of this process's registry (0 when the series does not exist yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def promtool() -> str:
    """Debian's promtool (package ``prometheus``, which .ci/run installs)."""
    found = shutil.which("promtool") or ("/usr/bin/promtool" if os.path.exists("/usr/bin/promtool") else None)
    if found is None:
        server_missing("promtool", "Install Debian's 'prometheus' package (apt-get install prometheus).")
    assert found is not None
    return found


def promtool_check_metrics(text: str) -> None:
    result = subprocess.run(  # noqa: S603 - a fixed tool with fixed arguments
        [promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, (
        f"promtool check metrics refused the exposition:\n{result.stdout}{result.stderr}"
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
