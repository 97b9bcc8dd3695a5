"""Bulk writes for seeding and imports: batches of rows, COPY on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    records = [
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
    await driver.copy_records_to_table("products", records=records, columns=PRODUCT_COLUMNS)
    tag_records = [(t, row["id"]) for row in rows for t in row["tags"]]
    if tag_records:
        await driver.copy_records_to_table("product_tags", records=tag_records, columns=("tag", "product_id"))
