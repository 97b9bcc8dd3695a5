"""Writing events: exactly once by uuid, with the rollups, in one transaction per batch.

Every batch first registers its uuids in ``analytics_event_ids`` with an insert that ignores
conflicts and returns what it inserted; only those events are appended, and only they are added
to the rollups. A batch replayed after a crash, or sent twice by a client, therefore changes
nothing the second time.

PostgreSQL: the batch is COPYed into a temporary table, then one statement with data-modifying
CTEs does the register, the append and both rollup upserts. SQLite: executemany, with the rollups
summed in Python first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shelf.analytics.capture import Row
from shelf.analytics.models import ADD_TO_CART, MS_PER_DAY, PRODUCT_VIEWED, person_of
from shelf.analytics.partitions import Partitions, months_of

COLUMNS = ("uuid", "event", "distinct_id", "timestamp_ms", "properties", "product_id", "person")
SQLITE_CHUNK = 500  # rows per multi-row VALUES (SQLite allows 32766 parameters)


class EventWriter(Protocol):
    async def prepare(self, now: datetime) -> None:
        """Get storage ready before the first write (PostgreSQL: this month's partitions)."""
        ...

    async def write(self, rows: Sequence[Row]) -> int:
        """Store the rows whose uuid is new; return how many were new. Idempotent."""
        ...


def unique_by_uuid(rows: Sequence[Row]) -> list[Row]:
    seen: dict[str, Row] = {}
    for row in rows:
        seen.setdefault(row[0], row)
    return list(seen.values())


_PG_CREATE_INCOMING = (
    "CREATE TEMP TABLE IF NOT EXISTS analytics_incoming (uuid uuid, event text, distinct_id text,"
    " timestamp_ms bigint, properties jsonb, product_id text, person bigint) ON COMMIT DELETE ROWS"
)
# Several statements in one round trip (no parameters: the batch is in the temporary table).
# First the uuid register drops every row already stored (or repeated) from the batch; then the
# rest is appended and summed into the rollups. (One statement with data-modifying CTEs did the
# same at a third of the speed: aggregating a CTE's RETURNING rows is slow.)
_PG_STORE = f"""
WITH fresh AS (
    INSERT INTO analytics_event_ids (uuid) SELECT uuid FROM analytics_incoming
    ON CONFLICT DO NOTHING RETURNING uuid
)
DELETE FROM analytics_incoming i WHERE NOT EXISTS (SELECT FROM fresh WHERE fresh.uuid = i.uuid);
INSERT INTO analytics_events (uuid, event, distinct_id, person, timestamp_ms, properties, product_id)
SELECT uuid, event, distinct_id, person, timestamp_ms, properties, product_id FROM analytics_incoming;
INSERT INTO analytics_user_days AS r (event, day, person, events, first_ms, last_ms)
SELECT event, timestamp_ms / {MS_PER_DAY}, person, count(*), min(timestamp_ms), max(timestamp_ms)
FROM analytics_incoming GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
ON CONFLICT (event, day, person) DO UPDATE SET events = r.events + excluded.events,
    first_ms = least(r.first_ms, excluded.first_ms), last_ms = greatest(r.last_ms, excluded.last_ms);
INSERT INTO analytics_product_days AS p (day, product_id, views, adds)
SELECT timestamp_ms / {MS_PER_DAY}, product_id,
    count(*) FILTER (WHERE event = '{PRODUCT_VIEWED}'), count(*) FILTER (WHERE event = '{ADD_TO_CART}')
FROM analytics_incoming WHERE product_id IS NOT NULL AND event IN ('{PRODUCT_VIEWED}', '{ADD_TO_CART}')
GROUP BY 1, 2 ORDER BY 1, 2
ON CONFLICT (day, product_id) DO UPDATE SET views = p.views + excluded.views,
    adds = p.adds + excluded.adds
"""  # noqa: S608 - constants only
_PG_COUNT = "SELECT count(*) FROM analytics_incoming"


class PostgresEventWriter:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.partitions = Partitions(engine)

    async def prepare(self, now: datetime) -> None:
        await self.partitions.ensure_ahead(now)

    async def write(self, rows: Sequence[Row]) -> int:
        batch = unique_by_uuid(rows)
        if not batch:
            return 0
        await self.partitions.ensure(months_of(row[3] for row in batch))
        try:
            return await self._store(batch)
        except DBAPIError as error:
            if "no partition of relation" not in str(error):
                raise
            self.partitions.forget()  # someone dropped a partition: create it again, once
            await self.partitions.ensure(months_of(row[3] for row in batch))
            return await self._store(batch)

    async def _store(self, batch: list[Row]) -> int:
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            pg = raw.driver_connection
            if pg is None:  # pragma: no cover - a pooled connection always has one
                raise RuntimeError("no asyncpg connection")
            async with pg.transaction():
                await pg.execute(_PG_CREATE_INCOMING)
                records = [(*row, person_of(row[2])) for row in batch]
                await pg.copy_records_to_table("analytics_incoming", records=records, columns=COLUMNS)
                await pg.execute(_PG_STORE)
                stored: int = await pg.fetchval(_PG_COUNT)  # what the register let through
            return stored


_SQLITE_USER_DAYS = (
    "INSERT INTO analytics_user_days (event, day, person, events, first_ms, last_ms)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event, day, person) DO UPDATE SET"
    " events = analytics_user_days.events + excluded.events,"
    " first_ms = min(analytics_user_days.first_ms, excluded.first_ms),"
    " last_ms = max(analytics_user_days.last_ms, excluded.last_ms)"
)
_SQLITE_PRODUCT_DAYS = (
    "INSERT INTO analytics_product_days (day, product_id, views, adds) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (day, product_id) DO UPDATE SET views = analytics_product_days.views + excluded.views,"
    " adds = analytics_product_days.adds + excluded.adds"
)


class SqliteEventWriter:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def prepare(self, now: datetime) -> None:
        return None

    async def write(self, rows: Sequence[Row]) -> int:
        batch = unique_by_uuid(rows)
        if not batch:
            return 0
        async with self._engine.begin() as connection:
            fresh = await self._register(connection, batch)
            stored = [row for row in batch if row[0].replace("-", "") in fresh]
            if not stored:
                return 0
            await connection.exec_driver_sql(
                "INSERT INTO analytics_events"
                " (uuid, event, distinct_id, timestamp_ms, properties, product_id, person)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(row[0].replace("-", ""), *row[1:], person_of(row[2])) for row in stored],
            )
            days: dict[tuple[str, int, int], list[int]] = {}
            products: dict[tuple[int, str], list[int]] = {}
            for _, event, distinct_id, ms, _, product_id in stored:
                day = ms // MS_PER_DAY
                key = (event, day, person_of(distinct_id))
                totals = days.get(key)
                if totals is None:
                    days[key] = [1, ms, ms]
                else:
                    totals[0] += 1
                    totals[1] = min(totals[1], ms)
                    totals[2] = max(totals[2], ms)
                if product_id is not None and event in (PRODUCT_VIEWED, ADD_TO_CART):
                    counts = products.setdefault((day, product_id), [0, 0])
                    counts[0 if event == PRODUCT_VIEWED else 1] += 1
            await connection.exec_driver_sql(
                _SQLITE_USER_DAYS, [(*key, *totals) for key, totals in sorted(days.items())]
            )
            if products:
                await connection.exec_driver_sql(
                    _SQLITE_PRODUCT_DAYS, [(*key, *counts) for key, counts in sorted(products.items())]
                )
            return len(stored)

    async def _register(self, connection: AsyncConnection, batch: list[Row]) -> set[str]:
        fresh: set[str] = set()
        for start in range(0, len(batch), SQLITE_CHUNK):
            chunk = [row[0].replace("-", "") for row in batch[start : start + SQLITE_CHUNK]]
            placeholders = ", ".join("(?)" for _ in chunk)
            result = await connection.exec_driver_sql(
                f"INSERT INTO analytics_event_ids (uuid) VALUES {placeholders}"  # noqa: S608 - only placeholders
                " ON CONFLICT DO NOTHING RETURNING uuid",
                tuple(chunk),
            )
            fresh.update(str(value) for (value,) in result.all())
        return fresh


def event_writer(engine: AsyncEngine) -> EventWriter:
    if engine.dialect.name == "postgresql":
        return PostgresEventWriter(engine)
    return SqliteEventWriter(engine)
