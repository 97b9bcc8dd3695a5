"""The catalog at a glance, for the console's dashboard: counts by status, what changed last, and
active products running out. A read-side query like ``catalog.queries``, cached with the list pages
(and retired with them by every write), since two of its three parts read every row."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shelf.catalog.models import Product, ProductStatus
from shelf.catalog.schemas import ProductRead
from shelf.catalog.service import PAGES
from shelf.identity.permissions import Permission, Principal
from shelf.platform.cache import Cache

LOW_STOCK = 5  # as the shop says "Only 5 left" (web/formatting.py)
LISTED = 8


class Overview(BaseModel):
    counts: dict[ProductStatus, int]
    recently_changed: list[ProductRead]  # newest change first
    low_stock: list[ProductRead]  # active products with LOW_STOCK or fewer, fewest first

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def read_overview(session: AsyncSession, *, listed: int = LISTED) -> Overview:
    rows = await session.execute(select(Product.status, func.count()).group_by(Product.status))
    counts = dict.fromkeys(ProductStatus, 0)
    counts.update({ProductStatus(status): count for status, count in rows})
    newest_first = (Product.updated_at.desc(), Product.id.desc())
    recent = await session.scalars(select(Product).order_by(*newest_first).limit(listed))
    low = await session.scalars(
        select(Product)
        .where(Product.status == ProductStatus.ACTIVE.value, Product.stock <= LOW_STOCK)
        .order_by(Product.stock, Product.name, Product.id)
        .limit(listed)
    )
    return Overview(
        counts=counts,
        recently_changed=[ProductRead.from_product(product) for product in recent],
        low_stock=[ProductRead.from_product(product) for product in low],
    )


class CatalogOverview:
    """The dashboard's figures for staff (``catalog:read_all``), through the catalog's cache."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], cache: Cache, ttl_seconds: float) -> None:
        self._sessions = sessions
        self._cache = cache
        self._ttl_seconds = ttl_seconds

    async def read(self, principal: Principal) -> Overview:
        principal.require(Permission.CATALOG_READ_ALL)
        key = f"{await self._cache.scope(PAGES)}overview"
        cached = await self._cache.get(key)
        if cached is not None:
            return Overview.model_validate_json(cached)
        async with self._sessions() as session:
            overview = await read_overview(session)
        await self._cache.set(key, overview.model_dump_json().encode(), self._ttl_seconds)
        return overview
