"""A category's page sorted by name walks ``(category, status, name, id)`` (migration 0007), price
band or not, on both backends' terms.

At 1M products SQLite's planner preferred a price range on ``(category, status, price)`` and then
sorted the whole band (170-410 ms); ``catalog/queries.py`` writes the price filter as ``+price``
there unless the page is sorted by price, so it walks the name index instead (0.3 ms). PostgreSQL
gets the plain column and picks by its statistics.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, text

from shelf.app import Container
from shelf.catalog.bulk import insert_products
from shelf.catalog.queries import ProductQuery, list_products

CATEGORIES = ("apparel", "garden", "books", "furniture")


def rows(count: int) -> list[dict[str, Any]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "id": uuid.UUID(int=n + 1),
            "sku": f"LIST-{n:05d}",
            "name": f"Item {n:05d}",
            "description": "",
            "price_amount": Decimal(n % 200) + Decimal("0.50"),
            "price_currency": "EUR",
            "status": "active",
            "category": CATEGORIES[n % len(CATEGORIES)],
            "tags": [],
            "attributes": {},
            "stock": 1,
            "created_at": start + timedelta(minutes=n),
            "updated_at": start + timedelta(minutes=n),
            "version": 1,
        }
        for n in range(count)
    ]


@pytest.fixture
async def catalog(container: Container) -> Container:
    async with container.database.sessions() as session:
        await insert_products(session, rows(4_000))
        await session.commit()
    async with container.database.engine.connect() as connection:
        await connection.execute(text("ANALYZE"))
        await connection.commit()
    return container


async def page_and_sql(container: Container, query: ProductQuery) -> tuple[list[str], str, Any]:
    """The page's names, and the SELECT of products it sent (with its parameters)."""
    sent: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT PRODUCTS.ID"):
            sent.append((statement, parameters))

    engine = container.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        async with container.database.sessions() as session:
            page = await list_products(session, container.database.dialect, query, visible_all=False)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert len(sent) == 1
    return [item.name for item in page.items], *sent[0]


@pytest.mark.parametrize("sort", ["name", "-name"])
async def test_a_price_band_sorted_by_name_walks_the_category_name_index(
    catalog: Container, sort: str
) -> None:
    query = ProductQuery(category="garden", price_min="40", price_max="80.50", sort=sort, limit=5)
    names, statement, parameters = await page_and_sql(catalog, query)
    garden = [r for r in rows(4_000) if r["category"] == "garden"]
    expected = sorted(
        (r["name"] for r in garden if Decimal(40) <= r["price_amount"] <= Decimal("80.50")),
        reverse=sort.startswith("-"),
    )[:5]
    assert names == expected
    if catalog.database.dialect == "postgresql":
        assert "+" not in statement  # the planner decides; no hint
        return
    async with catalog.database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        cursor = await driver.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
        plan = " / ".join(str(row[-1]) for row in await cursor.fetchall())
    assert "ix_products_category_status_name" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


async def test_a_page_sorted_by_price_still_uses_the_price_index(catalog: Container) -> None:
    query = ProductQuery(category="garden", price_min="40", price_max="80.50", sort="price", limit=5)
    names, statement, _ = await page_and_sql(catalog, query)
    assert len(names) == 5
    assert "+" not in statement
