"""Stored outcomes of requests sent with an ``Idempotency-Key`` header."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import JSON, Integer, String, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shelf.platform.db import Base
from shelf.platform.types import UtcDateTime

MAX_KEY_LENGTH = 255


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    headers: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]
    headers: dict[str, str]


def request_fingerprint(payload: Any) -> str:
    """A hash of the parsed request body, so formatting differences do not count as a new body."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_canonical)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


class IdempotencyStore(Protocol):
    async def get(self, scope: str, key: str, now: datetime) -> IdempotencyRecord | None: ...
    def add(self, record: IdempotencyRecord) -> None: ...
    async def purge_expired(self, now: datetime) -> None: ...


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, scope: str, key: str, now: datetime) -> IdempotencyRecord | None:
        """The live record for this key; an expired one is deleted and treated as absent."""
        record = await self._session.get(IdempotencyRecord, (scope, key))
        if record is not None and record.expires_at <= now:
            await self._session.delete(record)
            await self._session.flush()
            return None
        return record

    def add(self, record: IdempotencyRecord) -> None:
        self._session.add(record)

    async def purge_expired(self, now: datetime) -> None:
        await self._session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
