"""One product by id for the read side, through ``platform.point_reads`` rather than the ORM.

The row comes back as a ``ProductRow`` with the attributes of ``models.Product`` that
``ProductRead.from_product`` reads, converted as the ORM's column types would convert them (the
scaled-integer money of ``ExactDecimal``, UTC datetimes, JSON lists and objects), so a product
read either way serialises to the same bytes (``tests/integration/catalog/test_product_rows.py``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shelf.catalog.bulk import PRODUCT_COLUMNS
from shelf.catalog.models import Product
from shelf.catalog.money import STORAGE_SCALE
from shelf.platform.jsonutil import loads
from shelf.platform.point_reads import PointReads, Row

_COLUMNS = PRODUCT_COLUMNS  # the table's columns, in the order the row is unpacked below
BY_ID = f"SELECT {', '.join(_COLUMNS)} FROM products WHERE id = ?"  # noqa: S608 - fixed names


@dataclass(frozen=True, slots=True)
class ProductRow:
    id: uuid.UUID
    sku: str
    name: str
    description: str
    price_amount: Decimal
    price_currency: str
    status: str
    category: str | None
    tags: list[str]
    attributes: dict[str, Any]
    stock: int
    created_at: datetime
    updated_at: datetime
    version: int


class ProductRows:
    """``product(id)``: a point read when the database allows one, else an ORM read."""

    def __init__(self, point_reads: PointReads, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._point_reads = point_reads
        self._sessions = sessions

    async def product(self, product_id: uuid.UUID) -> ProductRow | Product | None:
        if not self._point_reads.available:
            async with self._sessions() as session:
                return await session.get(Product, product_id)
        row = await self._point_reads.fetch_one(BY_ID, product_id)
        return None if row is None else _product_row(row)


def _product_row(row: Row) -> ProductRow:
    (
        id_,
        sku,
        name,
        description,
        amount,
        currency,
        status,
        category,
        tags,
        attributes,
        stock,
        created,
        updated,
        version,
    ) = row
    return ProductRow(
        id=id_ if isinstance(id_, uuid.UUID) else uuid.UUID(id_),
        sku=sku,
        name=name,
        description=description,
        price_amount=Decimal(int(amount)) / STORAGE_SCALE,
        price_currency=currency,
        status=status,
        category=category,
        tags=_json(tags),
        attributes=_json(attributes),
        stock=stock,
        created_at=_utc(created),
        updated_at=_utc(updated),
        version=version,
    )


def _json(value: Any) -> Any:
    return loads(value) if isinstance(value, str | bytes) else value


def _utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
