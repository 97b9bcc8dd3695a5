"""``shelf feedback erase-emails``, run as an operator's cron job would run it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from shelf.feedback.models import Feedback
from shelf.platform import migrations
from shelf.platform.db import Database
from shelf.platform.ids import new_id
from shelf.settings import Settings
from tests.databases import database
from tests.process import shelf

pytestmark = pytest.mark.xdist_group("cli")


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database(str(request.param), tmp_path) as database_url:
        yield database_url


def feedback(email: str, days_old: int) -> Feedback:
    when = datetime.now(UTC) - timedelta(days=days_old)
    return Feedback(
        id=new_id(), rating=4, text="", email=email, page=None, product_id=None, variants={},
        distinct_id="anon-1", user_agent=None, source="storefront", submitted_by=None,
        created_at=when, status="new", note="", version=1, updated_at=when, triaged_by=None,
    )  # fmt: skip


async def test_erase_emails_forgets_only_those_past_retention(url: str) -> None:
    settings = Settings(database_url=url, env="test")
    await asyncio.to_thread(migrations.upgrade, settings)
    db = Database(settings)
    try:
        async with db.sessions() as session:
            session.add_all([feedback("old@example.com", 40), feedback("new@example.com", 5)])
            await session.commit()
        done = shelf("feedback", "erase-emails", database_url=url, SHELF_FEEDBACK_EMAIL_RETENTION_DAYS="30")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == "1"
        assert "older than 30 days" in done.stderr
        async with db.sessions() as session:
            emails = sorted(str(email) for email in await session.scalars(select(Feedback.email)))
        assert emails == ["None", "new@example.com"]
        again = shelf("feedback", "erase-emails", database_url=url, SHELF_FEEDBACK_EMAIL_RETENTION_DAYS="30")
        assert again.stdout.strip().splitlines()[-1] == "0"
    finally:
        await db.dispose()
