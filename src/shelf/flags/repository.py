"""Flag storage for the write side. Repositories read and write; they never commit."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shelf.flags.models import Flag


class FlagRepository(Protocol):
    async def get(self, key: str) -> Flag | None: ...
    async def all(self) -> Sequence[Flag]: ...
    def add(self, flag: Flag) -> None: ...
    async def delete(self, flag: Flag) -> None: ...
    async def mark_evaluated(self, keys: Collection[str], at: datetime) -> None: ...


class SqlFlagRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key: str) -> Flag | None:
        return (await self._session.execute(select(Flag).where(Flag.key == key))).scalar_one_or_none()

    async def all(self) -> Sequence[Flag]:
        return (await self._session.execute(select(Flag).order_by(Flag.key))).scalars().all()

    def add(self, flag: Flag) -> None:
        self._session.add(flag)

    async def delete(self, flag: Flag) -> None:
        await self._session.delete(flag)

    async def mark_evaluated(self, keys: Collection[str], at: datetime) -> None:
        """One statement for every flag evaluated since the last batch; not a versioned change
        (an edit in flight does not conflict with being evaluated)."""
        await self._session.execute(
            update(Flag)
            .where(Flag.key.in_(sorted(keys)))
            .values(last_evaluated_at=at)
            .execution_options(synchronize_session=False)
        )
