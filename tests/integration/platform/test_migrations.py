"""Migrations: empty → head → base → head on both backends, and models that match the schema."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from shelf.platform import migrations
from shelf.platform.db import Base, create_engine
from shelf.settings import Settings
from tests.conftest import BACKENDS
from tests.databases import database

APP_TABLES = {
    "products",
    "product_tags",
    "idempotency_keys",
    "users",
    "api_keys",
    "login_families",
    "refresh_tokens",
    "console_sessions",
    "audit_log",
    "analytics_events",
    "analytics_event_ids",
    "analytics_user_days",
    "analytics_product_days",
    "feedback",
    "experiments",
}
SEARCH_TABLES = {"products_fts", "product_search_rowids"}  # SQLite's FTS5 index, outside the models


@pytest.fixture(params=BACKENDS)
async def fresh_settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    async with database(str(request.param), tmp_path) as url:
        yield Settings(database_url=url, env="test")


POSTGRES_SEARCH_INDEXES = {"ix_products_search", "ix_products_name_search"}  # GIN, outside the models


def head_revision() -> str:
    head = ScriptDirectory.from_config(migrations.alembic_config(Settings())).get_current_head()
    assert head is not None
    return head


def is_search_table(name: str) -> bool:
    return name in SEARCH_TABLES or name.startswith("products_fts_")  # FTS5 keeps shadow tables


async def tables(settings: Settings) -> set[str]:
    engine = create_engine(settings.async_database_url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    return {name for name in names if not name.startswith("products_fts_")}


async def test_upgrade_downgrade_upgrade(fresh_settings: Settings) -> None:
    assert await asyncio.to_thread(migrations.current_revision, fresh_settings) is None
    await asyncio.to_thread(migrations.upgrade, fresh_settings)
    assert await asyncio.to_thread(migrations.current_revision, fresh_settings) == head_revision()
    assert await tables(fresh_settings) >= APP_TABLES

    await asyncio.to_thread(migrations.downgrade, fresh_settings, "base")
    assert await asyncio.to_thread(migrations.current_revision, fresh_settings) is None
    assert await tables(fresh_settings) <= {"alembic_version"}

    await asyncio.to_thread(migrations.upgrade, fresh_settings)
    assert await tables(fresh_settings) >= APP_TABLES


async def test_models_match_the_migrated_schema(fresh_settings: Settings) -> None:
    await asyncio.to_thread(migrations.upgrade, fresh_settings)
    engine = create_engine(fresh_settings.async_database_url)

    def differences(sync_connection) -> list[object]:  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
        # The search index is database-specific DDL the models deliberately do not describe.
        return [
            d
            for d in diffs
            if not (isinstance(d, tuple) and d[0] == "remove_table" and is_search_table(d[1].name))
            and not (isinstance(d, tuple) and d[0] == "remove_index" and d[1].name in POSTGRES_SEARCH_INDEXES)
            and not (isinstance(d, tuple) and d[0] == "remove_column" and d[3].name == "search_vector")
        ]

    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()
