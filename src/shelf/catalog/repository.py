"""Product storage for the write side. Repositories read and write; they never commit."""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from shelf.catalog.models import Product, ProductTag


class ProductRepository(Protocol):
    async def get(self, product_id: uuid.UUID) -> Product | None: ...
    async def sku_taken(self, sku: str, *, other_than: uuid.UUID | None = None) -> bool: ...
    async def add(self, product: Product) -> None: ...
    async def replace_tags(self, product: Product, tags: list[str]) -> None: ...
    async def delete(self, product: Product) -> None: ...


class SqlProductRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, product_id: uuid.UUID) -> Product | None:
        return await self._session.get(Product, product_id)

    async def sku_taken(self, sku: str, *, other_than: uuid.UUID | None = None) -> bool:
        query = select(Product.id).where(Product.sku == sku)
        if other_than is not None:
            query = query.where(Product.id != other_than)
        return (await self._session.scalar(query.limit(1))) is not None

    async def add(self, product: Product) -> None:
        self._session.add(product)
        await self._session.flush()  # the tag rows reference the product
        self._session.add_all(ProductTag(tag=tag, product_id=product.id) for tag in product.tags)

    async def replace_tags(self, product: Product, tags: list[str]) -> None:
        await self._session.execute(delete(ProductTag).where(ProductTag.product_id == product.id))
        self._session.add_all(ProductTag(tag=tag, product_id=product.id) for tag in tags)
        product.tags = tags

    async def delete(self, product: Product) -> None:
        await self._session.execute(delete(ProductTag).where(ProductTag.product_id == product.id))
        await self._session.delete(product)
