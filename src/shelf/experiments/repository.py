"""Experiment storage for the write side. Repositories read and write; they never commit."""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shelf.experiments.models import Experiment


class ExperimentRepository(Protocol):
    async def get(self, experiment_id: uuid.UUID) -> Experiment | None: ...
    async def key_taken(self, key: str) -> bool: ...
    async def all(self) -> list[Experiment]: ...
    def add(self, experiment: Experiment) -> None: ...
    async def delete(self, experiment: Experiment) -> None: ...


class SqlExperimentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, experiment_id: uuid.UUID) -> Experiment | None:
        return await self._session.get(Experiment, experiment_id)

    async def key_taken(self, key: str) -> bool:
        found = await self._session.scalar(select(Experiment.id).where(Experiment.key == key))
        return found is not None

    async def all(self) -> list[Experiment]:
        """Every experiment, newest first (there are tens, not thousands)."""
        rows = await self._session.scalars(select(Experiment).order_by(Experiment.created_at.desc()))
        return list(rows)

    def add(self, experiment: Experiment) -> None:
        self._session.add(experiment)

    async def delete(self, experiment: Experiment) -> None:
        await self._session.delete(experiment)
