"""Database engine and sessions. Nothing here connects until a session is first used."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry

from shelf.platform import jsonutil
from shelf.platform.point_reads import point_reads_for
from shelf.settings import Settings


class Base(DeclarativeBase):
    """Declarative base of every ORM model. The schema itself comes from Alembic migrations."""


def _tune_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers and the single writer work at once; NORMAL is durable across app crashes
    # in WAL mode; busy_timeout queues writers instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA busy_timeout=10000",
        "PRAGMA cache_size=-65536",
    ):
        cursor.execute(pragma)
    cursor.close()


def create_engine(url: URL, *, pool_size: int = 10) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, json_serializer=jsonutil.dumps, json_deserializer=jsonutil.loads)
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        json_serializer=jsonutil.dumps,
        json_deserializer=jsonutil.loads,
    )


class Database:
    """The engine and the session factory, created once by the composition root."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings.async_database_url, pool_size=settings.database_pool_size)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession)
        # Rows by primary key for the hot read paths, on connections of their own (point_reads.py).
        self.point_reads = point_reads_for(settings.async_database_url, max_size=settings.database_pool_size)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.point_reads.aclose()
        await self.engine.dispose()
