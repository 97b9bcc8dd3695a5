"""Storage of imports: batches of products upserted by SKU, jobs and their refused rows.

Repositories read and write; they never commit (``transfer.service`` owns each batch's transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shelf.catalog.bulk import insert_tags, upsert_products
from shelf.catalog.models import Product, ProductTag
from shelf.transfer.models import ImportJob, RejectedRow

PRODUCT_FIELDS = (
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
)


class TransferRepository(Protocol):
    async def existing(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]: ...
    async def upsert(self, rows: list[dict[str, Any]]) -> None: ...
    async def set_tags(self, tags: dict[uuid.UUID, list[str]], *, replace: bool) -> None: ...
    def add_job(self, job: ImportJob) -> None: ...
    async def job(self, job_id: uuid.UUID) -> ImportJob | None: ...
    async def update_job(self, job_id: uuid.UUID, **values: Any) -> None: ...
    async def add_rejections(self, rows: list[dict[str, Any]]) -> None: ...
    async def rejections(self, job_id: uuid.UUID, after_seq: int, limit: int) -> list[RejectedRow]: ...


class SqlTransferRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def existing(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored products among ``skus`` (one indexed query: ``sku`` is unique), by SKU."""
        if not skus:
            return {}
        columns = [getattr(Product, name) for name in ("id", "created_at", "version", *PRODUCT_FIELDS)]
        result = await self._session.execute(select(*columns).where(Product.sku.in_(skus)))
        return {row.sku: row._asdict() for row in result}

    async def upsert(self, rows: list[dict[str, Any]]) -> None:
        """``INSERT ... ON CONFLICT (sku) DO UPDATE`` of new and changed products (``catalog.bulk``).

        Each changed row carries the version it was read at plus one; the update applies only when
        the stored version is still the one read, so a product someone saved meanwhile (or one a
        concurrent import created) is left as they saved it, never overwritten unseen.
        """
        await upsert_products(self._session, rows)

    async def set_tags(self, tags: dict[uuid.UUID, list[str]], *, replace: bool) -> None:
        """The tag index rows of these products (``replace``: drop their old ones first)."""
        if replace and tags:
            await self._session.execute(delete(ProductTag).where(ProductTag.product_id.in_(list(tags))))
        await insert_tags(
            self._session, [(tag, product_id) for product_id, names in tags.items() for tag in names]
        )

    def add_job(self, job: ImportJob) -> None:
        self._session.add(job)

    async def job(self, job_id: uuid.UUID) -> ImportJob | None:
        return await self._session.get(ImportJob, job_id)

    async def update_job(self, job_id: uuid.UUID, **values: Any) -> None:
        await self._session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))

    async def add_rejections(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self._session.execute(insert(RejectedRow), rows)

    async def rejections(self, job_id: uuid.UUID, after_seq: int, limit: int) -> list[RejectedRow]:
        result = await self._session.scalars(
            select(RejectedRow)
            .where(RejectedRow.job_id == job_id, RejectedRow.seq > after_seq)
            .order_by(RejectedRow.seq)
            .limit(limit)
        )
        return list(result)
