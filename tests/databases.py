"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL database per run."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get(
    "SHELF_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def server_missing(what: str, how: str) -> None:
    """Under CI a missing server is a failure; on a laptop it is a skip that says what to do."""
    message = f"{what} is not reachable. {how}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        server_missing(
            f"PostgreSQL at {POSTGRES_ADMIN_URL} ({error})",
            "Start PostgreSQL or point SHELF_TEST_POSTGRES_URL at a server where you may create databases.",
        )
    name = f"shelf_test_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield str(make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def sqlite_database(directory: Path) -> AsyncIterator[str]:
    yield f"sqlite:///{directory / f'shelf-{uuid.uuid4().hex[:8]}.db'}"


@asynccontextmanager
async def database(backend: str, directory: Path) -> AsyncIterator[str]:
    factory = postgres_database() if backend == "postgresql" else sqlite_database(directory)
    async with factory as url:
        yield url
