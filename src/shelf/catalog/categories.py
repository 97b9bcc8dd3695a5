"""The categories shoppers can browse: each category that has at least one active product.

A loose index scan: "the next category after X" is one seek in the ``(category, status, ...)``
index, and "has it an active product" is another, so listing a dozen categories costs a few dozen
index probes, however many products there are (a ``GROUP BY`` would read every row). The list is
cached with the catalog's list pages, and retired with them whenever a product changes.
"""

from __future__ import annotations

import json

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shelf.catalog.models import Product, ProductStatus
from shelf.catalog.service import PAGES
from shelf.platform.cache import Cache

MAX_CATEGORIES = 200


async def active_categories(
    session: AsyncSession, limit: int = MAX_CATEGORIES, *, sold_only: bool = True
) -> list[str]:
    """Categories in order; with ``sold_only=False`` every category any product has (for staff)."""
    found: list[str] = []
    after: str | None = None
    while len(found) < limit:
        following = select(Product.category).where(Product.category.is_not(None))
        if after is not None:
            following = following.where(Product.category > after)
        category = await session.scalar(following.order_by(Product.category).limit(1))
        if category is None:
            break
        sold = exists().where(Product.category == category, Product.status == ProductStatus.ACTIVE.value)
        if not sold_only or await session.scalar(select(sold)):
            found.append(category)
        after = category
    return found


class CategoryDirectory:
    """Active categories, read through the catalog's cache."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], cache: Cache, ttl_seconds: float) -> None:
        self._sessions = sessions
        self._cache = cache
        self._ttl_seconds = ttl_seconds

    async def active(self) -> list[str]:
        return await self._read("categories", sold_only=True)

    async def all(self) -> list[str]:
        """Every category in use, drafts' and archived products' too (the console's filters)."""
        return await self._read("categories:all", sold_only=False)

    async def _read(self, name: str, *, sold_only: bool) -> list[str]:
        key = f"{await self._cache.scope(PAGES)}{name}"
        cached = await self._cache.get(key)
        if cached is not None:
            categories: list[str] = json.loads(cached)
            return categories
        async with self._sessions() as session:
            categories = await active_categories(session, sold_only=sold_only)
        await self._cache.set(key, json.dumps(categories).encode(), self._ttl_seconds)
        return categories
