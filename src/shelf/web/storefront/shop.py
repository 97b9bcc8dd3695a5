"""The storefront's read side: the catalog as shoppers see it.

Every read is made as the anonymous principal, whoever is signed in: the shop shows active products
only, exactly as a customer sees them (see ``web.pages``). Reads go through ``CatalogService``, so
they share its cache and its visibility rules; no SQL here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shelf.catalog.categories import CategoryDirectory
from shelf.catalog.errors import ProductNotFound
from shelf.catalog.queries import ProductQuery
from shelf.catalog.schemas import ProductPage, ProductRead
from shelf.catalog.service import CatalogService
from shelf.identity.permissions import ANONYMOUS

FEATURED_TAG = "featured"
FEATURED_COUNT = 8


@dataclass(frozen=True)
class FrontPage:
    categories: list[str]
    featured: list[ProductRead]
    featured_tagged: bool  # False: no product is tagged "featured", so these are the newest


@dataclass(frozen=True)
class Aisle:
    """One page of the product list, and the categories to filter by."""

    categories: list[str]
    page: ProductPage | None  # None when the filters could not be read


class Shop:
    def __init__(self, catalog: CatalogService, categories: CategoryDirectory) -> None:
        self._catalog = catalog
        self._categories = categories

    async def front_page(self) -> FrontPage:
        """Categories, and the products tagged "featured" (newest first), else the newest products."""
        featured = await self._catalog.list_products(
            ANONYMOUS, ProductQuery(tag=FEATURED_TAG, limit=FEATURED_COUNT)
        )
        tagged = bool(featured.items)
        if not tagged:
            featured = await self._catalog.list_products(ANONYMOUS, ProductQuery(limit=FEATURED_COUNT))
        return FrontPage(await self._categories.active(), featured.items, tagged)

    async def aisle(self, query: ProductQuery | None) -> Aisle:
        page = await self._catalog.list_products(ANONYMOUS, query) if query is not None else None
        return Aisle(await self._categories.active(), page)

    async def product(self, product_id: uuid.UUID | str) -> ProductRead:
        """An active product; ``ProductNotFound`` for anything else, a malformed id included."""
        try:
            wanted = product_id if isinstance(product_id, uuid.UUID) else uuid.UUID(product_id)
        except ValueError:
            raise ProductNotFound from None
        body, _etag = await self._catalog.get_product(ANONYMOUS, wanted)
        return ProductRead.model_validate(body)
