from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from shelf.analytics.models import events
from shelf.app import Container


async def stored(container: Container, **where: Any) -> int:
    """Events in the database, after writing out everything the buffer holds."""
    await container.analytics.buffer.flush()
    query = select(func.count()).select_from(events)
    for column, value in where.items():
        query = query.where(events.c[column] == value)
    async with container.database.engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


def event(name: str = "clicked", distinct_id: str = "user-1", **fields: Any) -> dict[str, Any]:
    return {"event": name, "distinct_id": distinct_id, "uuid": str(uuid.uuid4()), **fields}
