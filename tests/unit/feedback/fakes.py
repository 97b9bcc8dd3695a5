"""In-memory stand-ins for the feedback service's unit of work, reader, provider and emitter."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shelf.feedback.models import Feedback
from tests.fakes import FakeUnitOfWork


class FakeFeedback:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Feedback] = {}
        self.erasures: list[datetime] = []

    async def get(self, feedback_id: uuid.UUID) -> Feedback | None:
        return self.rows.get(feedback_id)

    def add(self, feedback: Feedback) -> None:
        self.rows[feedback.id] = feedback

    async def erase_emails_before(self, cutoff: datetime) -> int:
        self.erasures.append(cutoff)
        erased = 0
        for row in self.rows.values():
            if row.created_at < cutoff and row.email is not None:
                row.email = None
                erased += 1
        return erased


class FeedbackUnitOfWork(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.feedback = FakeFeedback()


class FakeReader:
    def __init__(self, uow: FeedbackUnitOfWork) -> None:
        self._uow = uow

    async def one(self, feedback_id: uuid.UUID) -> tuple[Feedback, str | None] | None:
        row = self._uow.feedback.rows.get(feedback_id)
        return None if row is None else (row, None)


class FakeVariants:
    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.answer = answer if answer is not None else {}
        self.error = error
        self.asked: list[str] = []

    async def for_visitor(self, distinct_id: str) -> dict[str, str]:
        self.asked.append(distinct_id)
        if self.error is not None:
            raise self.error
        return dict(self.answer)


class FakeEmitter:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    async def emit(self, event: str, distinct_id: str, properties: Mapping[str, Any]) -> None:
        self.events.append((event, distinct_id, dict(properties)))
