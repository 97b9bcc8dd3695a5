"""Feedback storage for the write side. Repositories read and write; they never commit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession

from shelf.feedback.models import Feedback


class FeedbackRepository(Protocol):
    async def get(self, feedback_id: uuid.UUID) -> Feedback | None: ...
    def add(self, feedback: Feedback) -> None: ...
    async def erase_emails_before(self, cutoff: datetime) -> int: ...


class SqlFeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, feedback_id: uuid.UUID) -> Feedback | None:
        return await self._session.get(Feedback, feedback_id)

    def add(self, feedback: Feedback) -> None:
        self._session.add(feedback)

    async def erase_emails_before(self, cutoff: datetime) -> int:
        """Forget the emails of feedback sent before ``cutoff``; the feedback itself stays.

        Not a versioned change (a triage in flight is not made to conflict): the email is never
        part of what is triaged. Runs on the ``created_at`` index.
        """
        result = await self._session.execute(
            update(Feedback)
            .where(Feedback.created_at < cutoff, Feedback.email.is_not(None))
            .values(email=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount) if isinstance(result, CursorResult) else 0
