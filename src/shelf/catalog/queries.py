"""The read side of the catalog: filtered, sorted, searched pages with opaque keyset cursors.

Keyset paging (``WHERE (sort_key, id) > (:last_key, :last_id)``) costs the same on page 1 and on
page 50,000, and stays stable while rows are inserted, which offset paging does not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from sqlalchemy import ColumnElement, Select, exists, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shelf.catalog.errors import InvalidCursor
from shelf.catalog.models import Product, ProductStatus, ProductTag
from shelf.catalog.money import STORAGE_SCALE, parse_amount
from shelf.catalog.schemas import SLUG_PATTERN, ProductPage, ProductRead
from shelf.catalog.search import apply_search, tokens

SortKey = Literal["created_at", "-created_at", "name", "-name", "price", "-price"]


def _filter_amount(value: object) -> Decimal:
    amount = parse_amount(value)
    if amount != amount.quantize(Decimal(1) / STORAGE_SCALE):
        raise ValueError("price filters allow at most 4 decimal places")
    return amount


class ProductQuery(BaseModel):
    """Query parameters of ``GET /products``. Unknown parameters are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, max_length=200)
    status: ProductStatus | None = None
    category: str | None = Field(default=None, pattern=SLUG_PATTERN, max_length=64)
    tag: str | None = Field(default=None, max_length=40)
    price_min: Annotated[Decimal, BeforeValidator(_filter_amount)] | None = None
    price_max: Annotated[Decimal, BeforeValidator(_filter_amount)] | None = None
    sort: SortKey | None = None
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=512)

    @field_validator("q")
    @classmethod
    def _blank_is_absent(cls, q: str | None) -> str | None:
        return q if q and q.strip() else None


@dataclass(frozen=True)
class _Order:
    name: str  # "created_at", "name", "price" or "relevance"
    descending: bool


def _order_of(query: ProductQuery, searching: bool) -> _Order:
    if query.sort is None:
        return _Order("relevance", False) if searching else _Order("created_at", True)
    return _Order(query.sort.lstrip("-"), query.sort.startswith("-"))


def _fingerprint(query: ProductQuery, visible_all: bool) -> str:
    """Ties a cursor to the query it came from: reusing it with other filters is an error."""
    fields = query.model_dump(mode="json", exclude={"cursor", "limit"})
    fields["visible_all"] = visible_all
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    return digest[:12]


def _encode_cursor(fingerprint: str, key: Any, last_id: uuid.UUID) -> str:
    raw = json.dumps([fingerprint, key, last_id.hex], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, fingerprint: str, order: _Order) -> tuple[Any, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_fingerprint, key, last_id = json.loads(raw)
        parsed_id = uuid.UUID(hex=last_id)
        parsed_key = _parse_key(order.name, key)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidCursor("it is not a cursor this API issued") from None
    if cursor_fingerprint != fingerprint:
        raise InvalidCursor("it belongs to a query with other filters or sort order")
    return parsed_key, parsed_id


def _key_of(order: _Order, product: Product, rank: float | None) -> Any:
    match order.name:
        case "created_at":
            return product.created_at.isoformat()
        case "name":
            return product.name
        case "price":
            return str(product.price_amount)
        case _:
            return rank


def _parse_key(order_name: str, key: Any) -> Any:
    match order_name:
        case "created_at":
            return datetime.fromisoformat(key)
        case "name":
            if not isinstance(key, str):
                raise TypeError("bad name key")
            return key
        case "price":
            return Decimal(key)
        case _:
            if isinstance(key, bool) or not isinstance(key, int | float):
                raise TypeError("bad rank key")
            return float(key)


def _filtered(query: ProductQuery, *, visible_all: bool) -> Select[Product]:
    statement = select(Product)
    if not visible_all:
        statement = statement.where(Product.status == ProductStatus.ACTIVE)
    if query.status is not None:
        statement = statement.where(Product.status == query.status)
    if query.category is not None:
        statement = statement.where(Product.category == query.category)
    if query.tag is not None:
        statement = statement.where(
            exists().where(ProductTag.product_id == Product.id, ProductTag.tag == query.tag)
        )
    if query.price_min is not None:
        statement = statement.where(Product.price_amount >= query.price_min)
    if query.price_max is not None:
        statement = statement.where(Product.price_amount <= query.price_max)
    return statement


SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "created_at": Product.__table__.c.created_at,
    "name": Product.__table__.c.name,
    "price": Product.__table__.c.price_amount,
}


async def list_products(
    session: AsyncSession, dialect: str, query: ProductQuery, *, visible_all: bool
) -> ProductPage:
    statement = _filtered(query, visible_all=visible_all)
    rank: ColumnElement[float] | None = None
    if query.q:
        words = tokens(query.q)
        if not words:  # only punctuation: nothing can match
            return ProductPage(items=[], next_cursor=None)
        statement, rank = apply_search(statement, dialect, words)

    order = _order_of(query, searching=rank is not None)
    sort_column = rank if order.name == "relevance" and rank is not None else SORT_COLUMNS[order.name]
    fingerprint = _fingerprint(query, visible_all)
    if query.cursor:
        last_key, last_id = _decode_cursor(query.cursor, fingerprint, order)
        position = tuple_(sort_column, Product.id)
        after = (last_key, last_id)
        statement = statement.where(position < after if order.descending else position > after)
    if order.descending:
        statement = statement.order_by(sort_column.desc(), Product.id.desc())
    else:
        statement = statement.order_by(sort_column.asc(), Product.id.asc())

    products: list[tuple[Product, float | None]]
    if rank is not None:
        rows = (await session.execute(statement.add_columns(rank).limit(query.limit + 1))).all()
        products = [(row[0], float(row[1])) for row in rows]
    else:
        found = await session.scalars(statement.limit(query.limit + 1))
        products = [(product, None) for product in found]

    has_more = len(products) > query.limit
    products = products[: query.limit]
    next_cursor = None
    if has_more:
        last, last_rank = products[-1]
        next_cursor = _encode_cursor(fingerprint, _key_of(order, last, last_rank), last.id)
    return ProductPage(items=[ProductRead.from_product(p) for p, _ in products], next_cursor=next_cursor)
