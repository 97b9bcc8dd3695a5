"""Feedback posts have a budget of their own (SHELF_RATE_LIMIT_FEEDBACK), per key or address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from shelf.app import Container, create_app
from shelf.identity.permissions import Role
from shelf.settings import Settings
from tests.integration.catalog.helpers import assert_problem
from tests.integration.feedback.helpers import FEEDBACK, app_body, shopper
from tests.integration.web.helpers import BROWSER


@pytest.fixture
async def limited(
    app: FastAPI, container: Container, settings: Settings, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    """An app of its own on the test database, with a tiny feedback budget (and roomy others)."""
    own = create_app(
        Settings(
            database_url=settings.database_url,
            env="test",
            log_level="warning",
            rate_limit_feedback="2/minute",
            rate_limit_anonymous="100/minute",
            rate_limit_writes="100/minute",
            analytics_spool_dir=str(tmp_path / "spool"),
        )
    )
    await own.state.container.analytics.start()
    yield own
    await own.state.container.aclose()


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 50000)), base_url="http://shelf.test"
    )


async def test_the_third_post_in_a_minute_is_a_429_per_key_and_per_address(limited: FastAPI) -> None:
    key = (await limited.state.container.identity.create_api_key("limited-app", Role.CLIENT)).secret
    auth = {"Authorization": f"Bearer {key}"}
    async with client_from(limited, "10.9.8.7") as http:
        for _ in range(2):
            answer = await http.post(FEEDBACK, json=app_body(), headers=auth)
            assert answer.status_code == 201, answer.text
            assert answer.headers["ratelimit-policy"] == '"feedback";q=2;w=60'
        refused = await http.post(FEEDBACK, json=app_body(), headers=auth)
        assert_problem(refused, 429)
        assert int(refused.headers["retry-after"]) >= 1

        # A shopper at another address has a budget of their own, shared by the script and the form.
        async with client_from(limited, "10.9.8.6") as other:
            visitor = await shopper(other)
            form = {"csrf_token": visitor.token, "rating": "4", "text": "ok"}
            posted = await other.post("/feedback", data=form, headers=BROWSER | visitor.cookie_header)
            assert posted.status_code == 303
            scripted = await other.post(FEEDBACK, json={"rating": 4}, headers=visitor.headers)
            assert scripted.status_code == 201
            again = await other.post("/feedback", data=form, headers=BROWSER | visitor.cookie_header)
            assert again.status_code == 429
            # Reading the form is not a feedback post: it stays within the page budget.
            assert (await other.get("/feedback", headers=BROWSER)).status_code == 200
