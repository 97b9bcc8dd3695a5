"""Writing and reading audit entries."""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shelf.audit.models import AuditEntry


class AuditRepository(Protocol):
    def add(self, entry: AuditEntry) -> None: ...


class SqlAuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, entry: AuditEntry) -> None:
        self._session.add(entry)


async def list_entries(
    session: AsyncSession,
    *,
    entity_type: str | None,
    entity_id: str | None,
    actor_id: uuid.UUID | None,
    before_id: uuid.UUID | None,
    limit: int,
) -> list[AuditEntry]:
    """Newest first; ``before_id`` is the keyset cursor (ids are time-ordered UUIDv7)."""
    query = select(AuditEntry)
    if entity_type is not None:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
