"""Catalog tables. The search index (SQLite FTS5 / PostgreSQL tsvector) is maintained by the
database itself, set up in the migration, so every write path keeps it current."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shelf.catalog.money import ExactDecimal
from shelf.platform.db import Base
from shelf.platform.types import UtcDateTime


class ProductStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class Product(Base):
    __tablename__ = "products"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price_amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    price_currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index("ix_products_status_created", "status", "created_at", "id"),
        Index("ix_products_status_name", "status", "name", "id"),
        Index("ix_products_status_price", "status", "price_amount", "id"),
        Index("ix_products_category_status_created", "category", "status", "created_at", "id"),
        Index("ix_products_category_status_price", "category", "status", "price_amount", "id"),
        Index("ix_products_category_status_name", "category", "status", "name", "id"),  # migration 0007
        # Staff see every status, so their sorted listings need indexes not led by status.
        Index("ix_products_created", "created_at", "id"),
        Index("ix_products_name", "name", "id"),
        Index("ix_products_price", "price_amount", "id"),
    )
    # The service sets each new version itself; the mapper adds "WHERE version = :seen" to every
    # UPDATE and DELETE, so a concurrent writer makes the statement match nothing, which surfaces
    # as a conflict instead of a lost update.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012


class ProductTag(Base):
    """One row per (tag, product): the index behind the ``tag`` filter. ``products.tags`` keeps
    the ordered list for reading without a join."""

    __tablename__ = "product_tags"

    tag: Mapped[str] = mapped_column(String(40), primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_product_tags_product", "product_id"),)
