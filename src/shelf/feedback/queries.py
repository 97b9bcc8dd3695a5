"""The read side of feedback: inbox pages with keyset cursors, and the numbers of a summary.

Reads bypass the unit of work (plain queries on a session of their own). The product's name is
joined in for the inbox; a deleted product leaves the feedback with its id and no name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shelf.catalog.models import Product
from shelf.feedback.errors import InvalidFeedbackCursor
from shelf.feedback.models import Feedback
from shelf.feedback.schemas import FeedbackQuery

Row = tuple[Feedback, str | None]  # the feedback and its product's name, if the product exists


def _fingerprint(query: FeedbackQuery) -> str:
    """Ties a cursor to the filters it came from: reusing it with others is an error."""
    fields = query.model_dump(mode="json", exclude={"cursor", "limit"})
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def encode_cursor(query: FeedbackQuery, last: Feedback) -> str:
    raw = json.dumps(
        [_fingerprint(query), last.created_at.isoformat(), last.id.hex], separators=(",", ":")
    ).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(query: FeedbackQuery) -> tuple[datetime, uuid.UUID] | None:
    if query.cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(query.cursor + "=" * (-len(query.cursor) % 4))
        fingerprint, created_at, last_id = json.loads(raw)
        position = (datetime.fromisoformat(created_at), uuid.UUID(hex=last_id))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidFeedbackCursor("it is not a cursor this API issued") from None
    if fingerprint != _fingerprint(query):
        raise InvalidFeedbackCursor("it belongs to a query with other filters")
    return position


def _like_pattern(words: str) -> str:
    escaped = words.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(query: FeedbackQuery) -> Select[Feedback, str]:
    statement = select(Feedback, Product.name).outerjoin(Product, Product.id == Feedback.product_id)
    conditions: list[ColumnElement[bool]] = []
    if query.product is not None:
        conditions.append(Feedback.product_id == query.product)
    if query.rating is not None:
        conditions.append(Feedback.rating == query.rating)
    if query.rating_min is not None:
        conditions.append(Feedback.rating >= query.rating_min)
    if query.rating_max is not None:
        conditions.append(Feedback.rating <= query.rating_max)
    if query.status is not None:
        conditions.append(Feedback.status == query.status.value)
    if query.since is not None:
        conditions.append(Feedback.created_at >= query.since)
    if query.until is not None:
        conditions.append(Feedback.created_at < query.until)
    if query.q is not None:
        pattern = _like_pattern(query.q.strip())
        conditions.append(
            or_(
                func.lower(Feedback.text).like(pattern, escape="\\"),
                func.lower(Feedback.note).like(pattern, escape="\\"),
            )
        )
    return statement.where(*conditions)


def _day(column: Any, dialect: str) -> Any:
    """The UTC calendar day of a timestamp column, as the database computes it."""
    if dialect == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite keeps UTC timestamps as ISO text


class SqlFeedbackReader:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str) -> None:
        self._sessions = sessions
        self._dialect = dialect

    async def page(self, query: FeedbackQuery) -> tuple[list[Row], str | None]:
        statement = _filtered(query)
        position = decode_cursor(query)
        if position is not None:
            statement = statement.where(tuple_(Feedback.created_at, Feedback.id) < position)
        statement = statement.order_by(Feedback.created_at.desc(), Feedback.id.desc()).limit(query.limit + 1)
        async with self._sessions() as session:
            rows: list[Row] = [
                (feedback, name) for feedback, name in (await session.execute(statement)).all()
            ]
        next_cursor = None
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            next_cursor = encode_cursor(query, rows[-1][0])
        return rows, next_cursor

    async def one(self, feedback_id: uuid.UUID) -> Row | None:
        statement = (
            select(Feedback, Product.name)
            .outerjoin(Product, Product.id == Feedback.product_id)
            .where(Feedback.id == feedback_id)
        )
        async with self._sessions() as session:
            found = (await session.execute(statement)).first()
        return None if found is None else (found[0], found[1])

    async def rating_counts(self, product_id: uuid.UUID | None) -> dict[int, int]:
        statement = select(Feedback.rating, func.count()).group_by(Feedback.rating)
        if product_id is not None:
            statement = statement.where(Feedback.product_id == product_id)
        async with self._sessions() as session:
            return {int(rating): int(count) for rating, count in (await session.execute(statement)).all()}

    async def daily_counts(
        self, product_id: uuid.UUID | None, since: datetime
    ) -> list[tuple[date, int, int]]:
        """``(day, rating, count)`` for every day since ``since`` that has feedback."""
        day = _day(Feedback.created_at, self._dialect).label("day")
        statement = (
            select(day, Feedback.rating, func.count())
            .where(Feedback.created_at >= since)
            .group_by(day, Feedback.rating)
        )
        if product_id is not None:
            statement = statement.where(Feedback.product_id == product_id)
        async with self._sessions() as session:
            found = (await session.execute(statement)).all()
        return [
            (value if isinstance(value, date) else date.fromisoformat(str(value)), int(rating), int(count))
            for value, rating, count in found
        ]

    async def products(self, limit: int = 200) -> list[tuple[uuid.UUID, str | None, int]]:
        """Products that have feedback, most feedback first: ``(id, name or None, count)``."""
        count = func.count().label("n")
        statement = (
            select(Feedback.product_id, Product.name, count)
            .outerjoin(Product, Product.id == Feedback.product_id)
            .where(Feedback.product_id.is_not(None))
            .group_by(Feedback.product_id, Product.name)
            .order_by(count.desc(), Feedback.product_id)
            .limit(limit)
        )
        async with self._sessions() as session:
            found = (await session.execute(statement)).all()
        return [(product_id, name, int(n)) for product_id, name, n in found if product_id is not None]
