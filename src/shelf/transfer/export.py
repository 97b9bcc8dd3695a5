"""Export: every product, in the format the importer reads back unchanged.

Pages of ``EXPORT_PAGE`` products are read by keyset on the primary key (``WHERE id > :last ORDER
BY id``), each in its own short transaction, so an export of a million products holds neither a
long transaction nor more than one page in memory, and costs the same on its last page as on its
first. Products written while an export runs may or may not be in it (there is no snapshot across
pages); each row is whole.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shelf.catalog.models import Product
from shelf.catalog.money import format_amount
from shelf.platform.jsonutil import dumps
from shelf.transfer.formats import SHELF_CSV_COLUMNS, Format, tags_cell

EXPORT_PAGE = 2_000
EXPORT_FORMATS = (Format.SHELF_CSV, Format.JSONL)
MEDIA_TYPES = {Format.SHELF_CSV: "text/csv; charset=utf-8", Format.JSONL: "application/x-ndjson"}


async def product_pages(
    sessions: async_sessionmaker[AsyncSession], page_size: int = EXPORT_PAGE
) -> AsyncIterator[list[Product]]:
    last: uuid.UUID | None = None
    while True:
        query = select(Product).order_by(Product.id).limit(page_size)
        if last is not None:
            query = query.where(Product.id > last)
        async with sessions() as session:
            page = list(await session.scalars(query))
        if not page:
            return
        yield page
        if len(page) < page_size:
            return
        last = page[-1].id


def writable(product: Product) -> dict[str, Any]:
    """The product as the REST API takes it (what JSONL lines hold)."""
    return {
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "price": {
            "amount": format_amount(product.price_amount, product.price_currency),
            "currency": product.price_currency,
        },
        "status": product.status,
        "category": product.category,
        "stock": product.stock,
        "tags": list(product.tags),
        "attributes": dict(product.attributes),
    }


def csv_cells(product: Product) -> list[str]:
    return [
        product.sku,
        product.name,
        product.description,
        format_amount(product.price_amount, product.price_currency),
        product.price_currency,
        product.status,
        product.category or "",
        str(product.stock),
        tags_cell(list(product.tags)),
        dumps(dict(product.attributes)) if product.attributes else "",
    ]


async def export_chunks(
    sessions: async_sessionmaker[AsyncSession], export_format: Format
) -> AsyncIterator[str]:
    """The export as text, one chunk per page (the CSV's header first)."""
    if export_format == Format.SHELF_CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(SHELF_CSV_COLUMNS)
        yield buffer.getvalue()
        async for page in product_pages(sessions):
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerows(csv_cells(product) for product in page)
            yield buffer.getvalue()
        return
    async for page in product_pages(sessions):
        yield "".join(dumps(writable(product)) + "\n" for product in page)
