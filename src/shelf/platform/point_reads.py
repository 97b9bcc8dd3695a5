"""Point reads: one row by primary key, without the ORM, its session or SQLAlchemy's pool.

A product read by id is the hot path of every storefront. Through the ORM it costs about a
millisecond of CPU on either backend (measured in ADR 0019): a session, a pool checkout with its
ping and its reset, identity-map bookkeeping and, on SQLite, several hops to aiosqlite's thread.
The database's own work is a few microseconds. So the read side of a feature may ask for a row
through this small interface instead:

- ``SqlitePointReads``: a plain ``sqlite3`` connection of its own, read-only, in autocommit mode
  (every statement sees the last commit, WAL lets it read while a writer works), used on the
  event loop's thread. A primary-key lookup is ~20 µs, less than one hop to a worker thread.
- ``AsyncpgPointReads``: a small asyncpg pool of its own, statements prepared once per
  connection (asyncpg's statement cache), no ping per checkout: a connection the server dropped
  fails its query, is discarded by the pool, and the read is retried once on a fresh one.
- ``NoPointReads``: for databases a second connection cannot see (SQLite in memory): callers
  fall back to their ORM read.

Statements are written once with ``?`` placeholders and rewritten for asyncpg (``$1``...). Rows come
back as the driver gives them (SQLite: UUIDs as 32 hex digits, datetimes and JSON as text;
asyncpg: ``uuid.UUID``, aware datetimes, JSON as text); converting them is the caller's business.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import URL

Row = Sequence[Any]

_PLACEHOLDER = re.compile(r"\?")


class PointReads(Protocol):
    """Fetch at most one row; ``available`` is False when callers must read another way.

    ``observers`` are called with each statement before it runs (as SQLAlchemy's
    ``before_cursor_execute`` would be for the engine): tests count reads with them.
    """

    observers: list[Callable[[str], None]]

    @property
    def available(self) -> bool: ...
    async def fetch_one(self, statement: str, *parameters: Any) -> Row | None: ...
    async def aclose(self) -> None: ...


class NoPointReads:
    available = False

    def __init__(self) -> None:
        self.observers: list[Callable[[str], None]] = []

    async def fetch_one(self, statement: str, *parameters: Any) -> Row | None:
        raise RuntimeError("point reads are not available for this database")

    async def aclose(self) -> None:
        return None


class SqlitePointReads:
    available = True

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self.observers: list[Callable[[str], None]] = []

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            f"file:{self._path}?mode=ro",
            uri=True,
            isolation_level=None,  # autocommit: each SELECT reads the latest commit
            check_same_thread=False,  # used from the loop's thread, closed from wherever aclose runs
            cached_statements=64,
        )
        connection.execute("PRAGMA busy_timeout=10000")
        connection.execute("PRAGMA query_only=ON")
        return connection

    async def fetch_one(self, statement: str, *parameters: Any) -> Row | None:
        if self._connection is None:
            self._connection = self._connect()
        for observer in self.observers:
            observer(statement)
        values = tuple(each.hex if isinstance(each, uuid.UUID) else each for each in parameters)
        row: Row | None = self._connection.execute(statement, values).fetchone()
        return row

    async def aclose(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class AsyncpgPointReads:
    available = True

    def __init__(self, dsn: str, *, max_size: int) -> None:
        self._dsn = dsn
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._statements: dict[str, str] = {}
        self.observers: list[Callable[[str], None]] = []

    async def _opened(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=self._max_size)
        return self._pool

    async def fetch_one(self, statement: str, *parameters: Any) -> Row | None:
        numbered = self._statements.get(statement)
        if numbered is None:
            numbered = _numbered(statement)
            self._statements[statement] = numbered
        for observer in self.observers:
            observer(statement)
        pool = self._pool or await self._opened()
        try:
            row: Row | None = await pool.fetchrow(numbered, *parameters)
        except (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError, ConnectionError, OSError):
            row = await pool.fetchrow(numbered, *parameters)  # once more, on a fresh connection
        return row

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def _numbered(statement: str) -> str:
    count = 0

    def number(_match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, statement)


def point_reads_for(url: URL, *, max_size: int) -> PointReads:
    """The implementation for the database at ``url`` (as configured, any driver name)."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return NoPointReads()
        return SqlitePointReads(database)
    if backend == "postgresql":
        plain = url.set(drivername="postgresql")
        return AsyncpgPointReads(plain.render_as_string(hide_password=False), max_size=max_size)
    return NoPointReads()
