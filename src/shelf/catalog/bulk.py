"""Bulk writes for seeding and imports: batches of rows, COPY on PostgreSQL, upserts by SKU."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shelf.catalog.models import Product, ProductTag
from shelf.catalog.money import STORAGE_SCALE
from shelf.platform.jsonutil import dumps

PRODUCT_COLUMNS = (
    "id",
    "sku",
    "name",
    "description",
    "price_amount",
    "price_currency",
    "status",
    "category",
    "tags",
    "attributes",
    "stock",
    "created_at",
    "updated_at",
    "version",
)


def batched(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


async def count_products(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Product)) or 0)


async def insert_products(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert one batch of new products (and their tag rows) in the caller's transaction."""
    if (await session.connection()).dialect.name == "postgresql":
        await _copy_products(session, rows)
        return
    await session.execute(insert(Product), rows)
    tags = [{"tag": t, "product_id": row["id"]} for row in rows for t in row["tags"]]
    if tags:
        await session.execute(insert(ProductTag), tags)


async def _copy_products(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:
        raise RuntimeError("the database connection is closed")
    await driver.copy_records_to_table("products", records=_copy_records(rows), columns=PRODUCT_COLUMNS)
    tag_records = [(t, row["id"]) for row in rows for t in row["tags"]]
    if tag_records:
        await driver.copy_records_to_table("product_tags", records=tag_records, columns=("tag", "product_id"))


def _copy_records(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows in COPY's binary form: amounts scaled to integers, JSON columns as text."""
    return [
        tuple(
            int(row[c] * STORAGE_SCALE)
            if c == "price_amount"
            else dumps(row[c])
            if c in ("tags", "attributes")
            else row[c]
            for c in PRODUCT_COLUMNS
        )
        for row in rows
    ]


# Upserts by SKU (bulk import) ---------------------------------------------------------------------

UPDATED_ON_CONFLICT = (
    *("sku", "name", "description", "price_amount", "price_currency", "status"),
    *("category", "tags", "attributes", "stock", "updated_at", "version"),
)
_COLUMN_LIST = ", ".join(PRODUCT_COLUMNS)
# A changed row carries the version it was read at plus one: the update applies only when the stored
# version is still that one, so a product someone saved meanwhile is never overwritten unseen.
_ON_CONFLICT = (
    "ON CONFLICT (sku) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in UPDATED_ON_CONFLICT)
    + " WHERE products.version = excluded.version - 1"
)
# The statements are built from the constant column names above, never from input (hence the S608s).
_PLACEHOLDERS = ", ".join("?" * len(PRODUCT_COLUMNS))
_SQLITE_UPSERT = f"INSERT INTO products ({_COLUMN_LIST}) VALUES ({_PLACEHOLDERS}) {_ON_CONFLICT}"  # noqa: S608
_TIMESTAMPS = frozenset({"created_at", "updated_at"})
_SEARCH_TRIGGER = "products_search_insert"  # migration 0001: one FTS5 row per inserted product
_INDEX_NEW_PRODUCTS = (
    "INSERT INTO product_search_rowids (product_id) SELECT p.id FROM json_each(?) AS j"
    " JOIN products AS p ON p.id = j.value"
    " WHERE NOT EXISTS (SELECT 1 FROM product_search_rowids AS r WHERE r.product_id = p.id)"
)
_INDEX_NEW_TEXT = (
    "INSERT INTO products_fts (rowid, name, description, tags, category)"
    " SELECT r.rowid, p.name, p.description, p.tags, coalesce(p.category, '')"
    " FROM product_search_rowids AS r JOIN products AS p ON p.id = r.product_id WHERE r.rowid > ?"
)
_PG_STAGE = (
    "CREATE TEMPORARY TABLE import_products ON COMMIT DROP AS "  # noqa: S608
    f"SELECT {_COLUMN_LIST} FROM products WITH NO DATA"
)
_PG_UPSERT = (
    f"INSERT INTO products ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM import_products {_ON_CONFLICT}"  # noqa: S608
)


async def upsert_products(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """``INSERT ... ON CONFLICT (sku) DO UPDATE`` of new and changed products, in the caller's transaction.

    Rows carry every column of ``PRODUCT_COLUMNS``: new ones version 1, changed ones their stored
    ``id`` and ``created_at`` and the version read plus one (applied only if still current).
    """
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await _upsert_postgresql(connection, rows)
    else:
        await _upsert_sqlite(connection, rows)


async def _upsert_sqlite(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """One ``executemany`` of the upsert, with the search index fed once for the batch.

    The per-row insert trigger costs more than the insert itself (a statement pair per row); the
    batch drops it, upserts, indexes its new products with two ``INSERT ... SELECT``, and creates
    the trigger again, all inside the caller's transaction. SQLite's DDL is transactional and it
    has one writer at a time: no other connection ever sees the schema without the trigger, and a
    crash rolls the drop back with the rows, so the index never misses a committed product.
    """
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:
        raise RuntimeError("the database connection is closed")
    if not driver.in_transaction:
        # pysqlite opens a transaction only before DML; the DROP TRIGGER below must be inside one.
        await connection.exec_driver_sql("BEGIN IMMEDIATE")
    trigger = (
        await connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (_SEARCH_TRIGGER,)
        )
    ).scalar()
    if trigger is not None:
        await connection.exec_driver_sql(f"DROP TRIGGER {_SEARCH_TRIGGER}")
        last = (
            await connection.exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM product_search_rowids")
        ).scalar()
    records = _stored_forms(connection.dialect, rows)
    await connection.exec_driver_sql(_SQLITE_UPSERT, records)
    if trigger is not None:
        id_column = PRODUCT_COLUMNS.index("id")
        version_column = PRODUCT_COLUMNS.index("version")
        new_ids = [record[id_column] for record in records if record[version_column] == 1]
        if new_ids:
            await connection.exec_driver_sql(_INDEX_NEW_PRODUCTS, (dumps(new_ids),))
            await connection.exec_driver_sql(_INDEX_NEW_TEXT, (last,))
        await connection.exec_driver_sql(trigger)


def _stored_forms(dialect: Dialect, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Each row's values as SQLAlchemy would bind them (the column types' own processors), so the
    stored form is exactly what the ORM writes. A batch shares its timestamps: each converted once."""
    columns = Product.__table__.c
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for index, name in enumerate(PRODUCT_COLUMNS):
        process = columns[name].type.bind_processor(dialect)
        if process is not None:
            converters.append((index, functools.cache(process) if name in _TIMESTAMPS else process))
    records = []
    for row in rows:
        values = [row[name] for name in PRODUCT_COLUMNS]
        for index, convert in converters:
            values[index] = convert(values[index])
        records.append(tuple(values))
    return records


async def _upsert_postgresql(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """COPY the batch into a temporary table, then one ``INSERT ... SELECT ... ON CONFLICT``."""
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:
        raise RuntimeError("the database connection is closed")
    await connection.exec_driver_sql(_PG_STAGE)
    await driver.copy_records_to_table(
        "import_products", records=_copy_records(rows), columns=PRODUCT_COLUMNS
    )
    await connection.exec_driver_sql(_PG_UPSERT)


async def insert_tags(session: AsyncSession, tags: list[tuple[str, uuid.UUID]]) -> None:
    """Tag index rows ``(tag, product_id)`` in the caller's transaction (COPY on PostgreSQL)."""
    if not tags:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        if driver is None:
            raise RuntimeError("the database connection is closed")
        await driver.copy_records_to_table("product_tags", records=tags, columns=("tag", "product_id"))
        return
    process = ProductTag.__table__.c.product_id.type.bind_processor(connection.dialect)
    records = tags if process is None else [(tag, process(product_id)) for tag, product_id in tags]
    await connection.exec_driver_sql("INSERT INTO product_tags (tag, product_id) VALUES (?, ?)", records)
