"""Recording audit entries inside the transaction of the change, and reading them back."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shelf.audit.models import AuditEntry
from shelf.audit.repository import AuditRepository, list_entries
from shelf.gateway.context import request_id_var
from shelf.identity.permissions import Permission, Principal
from shelf.platform.clock import Clock
from shelf.platform.ids import new_id


def record(
    audit: AuditRepository,
    clock: Clock,
    principal: Principal,
    action: str,
    *,
    entity: tuple[str, object],
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add an entry to the caller's unit of work: it commits or rolls back with the change."""
    audit.add(
        AuditEntry(
            id=new_id(),
            at=clock.now(),
            actor_kind=principal.kind,
            actor_id=principal.id,
            actor_name=principal.name,
            action=action,
            entity_type=entity[0],
            entity_id=str(entity[1]),
            before=before,
            after=after,
            request_id=request_id_var.get(),
        )
    )


class AuditRead(BaseModel):
    id: uuid.UUID
    at: Any
    actor: dict[str, Any]
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str


class AuditPage(BaseModel):
    items: list[AuditRead]
    next_cursor: str | None


class AuditQuery(BaseModel):
    entity_type: str | None = Field(default=None, max_length=32)
    entity_id: str | None = Field(default=None, max_length=64)
    actor_id: uuid.UUID | None = None
    cursor: uuid.UUID | None = None
    limit: int = Field(default=50, ge=1, le=200)


class AuditService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def list(self, principal: Principal, query: AuditQuery) -> AuditPage:
        principal.require(Permission.AUDIT_READ)
        async with self._sessions() as session:
            rows = await list_entries(
                session,
                entity_type=query.entity_type,
                entity_id=query.entity_id,
                actor_id=query.actor_id,
                before_id=query.cursor,
                limit=query.limit + 1,
            )
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        return AuditPage(
            items=[
                AuditRead(
                    id=row.id,
                    at=row.at,
                    actor={"kind": row.actor_kind, "id": row.actor_id, "name": row.actor_name},
                    action=row.action,
                    entity_type=row.entity_type,
                    entity_id=row.entity_id,
                    before=row.before,
                    after=row.after,
                    request_id=row.request_id,
                )
                for row in rows
            ],
            next_cursor=str(rows[-1].id) if more and rows else None,
        )
