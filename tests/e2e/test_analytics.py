"""Analytics against a real ``shelf serve``: PostHog's own SDK, and a SIGKILL that loses nothing.

Both tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import posthog
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from shelf.analytics.models import events
from shelf.platform.db import create_engine
from tests.databases import database
from tests.process import free_port, shelf
from tests.scaleout import Service, healthy, shelf_instance

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database(str(request.param), tmp_path) as database_url:
        assert shelf("db", "upgrade", database_url=database_url).returncode == 0
        yield database_url


def new_key(url: str, role: str) -> str:
    created = shelf("apikeys", "create", "--name", f"e2e-{role}", "--role", role, database_url=url)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def server(url: str, directory: Path, port: int, **env: str) -> Service:
    settings = {
        "SHELF_DATABASE_URL": url,
        "SHELF_LOG_LEVEL": "warning",
        "SHELF_RATE_LIMIT_ENABLED": "false",
        "SHELF_ANALYTICS_SPOOL_DIR": str(directory / "spool"),
    }
    return shelf_instance(f"shelf-{port}", directory, port, settings | env)


async def count_stored(url: str) -> int:
    engine = create_engine(make_url(url).set(drivername=_async_driver(url)))
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(events))).scalar_one())
    finally:
        await engine.dispose()


async def stored_uuids(url: str) -> set[str]:
    engine = create_engine(make_url(url).set(drivername=_async_driver(url)))
    try:
        async with engine.connect() as connection:
            return {str(value) for (value,) in await connection.execute(select(events.c.uuid))}
    finally:
        await engine.dispose()


def _collector(failures: list[Any]) -> Any:
    def on_error(error: Any, _batch: Any) -> None:
        failures.append(error)

    return on_error


def _async_driver(url: str) -> str:
    return "sqlite+aiosqlite" if url.startswith("sqlite") else "postgresql+asyncpg"


async def test_posthog_python_sdk_events_are_counted_in_trends(url: str, tmp_path: Path) -> None:
    client_key, viewer_key = new_key(url, "client"), new_key(url, "viewer")
    port = free_port()
    instance = server(url, tmp_path, port)
    base_url = f"http://127.0.0.1:{port}"
    instance.start(healthy(base_url))
    try:
        for gzip in (False, True):  # posthog-python's two body forms: JSON, and gzip-encoded JSON
            sdk = posthog.Posthog(client_key, host=base_url, gzip=gzip, flush_at=25, max_retries=0)
            failures: list[Any] = []
            sdk.on_error = _collector(failures)
            for index in range(60):
                sdk.capture(
                    "sdk_checkout",
                    distinct_id=f"buyer-{index % 7}",
                    properties={"gzip": gzip, "total": index},
                )
            sdk.flush()
            sdk.shutdown()
            assert failures == []
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            body: dict[str, Any] = {}
            for _ in range(50):  # the buffer writes to the database within its flush interval
                response = await http.get(
                    "/api/v1/analytics/trends",
                    params={"event": "sdk_checkout", "interval": "day"},
                    headers={"Authorization": f"Bearer {viewer_key}"},
                )
                assert response.status_code == 200, response.text
                body = response.json()
                if sum(point["count"] for point in body["series"]) == 120:
                    break
                await asyncio.sleep(0.1)
            assert sum(point["count"] for point in body["series"]) == 120
            assert body["series"][-1]["unique_users"] == 7
            breakdown = await http.get(
                "/api/v1/analytics/trends",
                params={"event": "sdk_checkout", "breakdown": "$lib"},
                headers={"Authorization": f"Bearer {viewer_key}"},
            )
            assert [item["value"] for item in breakdown.json()["breakdowns"]] == ["posthog-python"]
    finally:
        assert instance.stop() == -signal.SIGTERM, instance.log()  # uvicorn re-raises it when done


async def test_events_acknowledged_before_a_sigkill_are_all_there_after_restart(
    url: str, tmp_path: Path
) -> None:
    client_key = new_key(url, "client")
    port = free_port()
    # Nothing is written to the database before the kill: a minute between flushes, and batches
    # far larger than what is sent. Everything acknowledged is in the spool alone.
    slow = {"SHELF_ANALYTICS_FLUSH_INTERVAL_SECONDS": "60", "SHELF_ANALYTICS_FLUSH_MAX_EVENTS": "1000000"}
    instance = server(url, tmp_path, port, **slow)
    base_url = f"http://127.0.0.1:{port}"
    instance.start(healthy(base_url))
    acknowledged: set[str] = set()
    stop = asyncio.Event()

    async def sender(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            batch = [
                {"event": "crash_test", "distinct_id": f"p{n}", "uuid": str(uuid.uuid4())} for n in range(50)
            ]
            try:
                response = await http.post("/batch/", json={"api_key": client_key, "batch": batch})
            except httpx.TransportError:
                return  # the server is gone: whatever was not answered was not acknowledged
            if response.status_code == 200:
                acknowledged.update(event["uuid"] for event in batch)

    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            senders = [asyncio.create_task(sender(http)) for _ in range(8)]
            while len(acknowledged) < 2_000:  # noqa: ASYNC110 - the senders fill it
                await asyncio.sleep(0.02)
            assert instance.process is not None
            instance.process.send_signal(signal.SIGKILL)  # mid-stream: requests are in flight
            instance.process.wait(timeout=10)
            stop.set()
            await asyncio.gather(*senders)
        assert await count_stored(url) == 0  # the database never saw them: only the spool did
        assert any((tmp_path / "spool").glob("*.seg"))

        restarted = server(url, tmp_path, port)
        restarted.start(healthy(base_url))  # the spool is replayed before the server answers
        try:
            assert acknowledged <= await stored_uuids(url)
            assert not any((tmp_path / "spool").glob("*.seg"))  # replayed, committed, removed
        finally:
            assert restarted.stop() == -signal.SIGTERM, restarted.log()
    finally:
        instance.stop()


async def test_a_graceful_shutdown_writes_out_everything(url: str, tmp_path: Path) -> None:
    client_key = new_key(url, "client")
    port = free_port()
    slow = {"SHELF_ANALYTICS_FLUSH_INTERVAL_SECONDS": "60", "SHELF_ANALYTICS_FLUSH_MAX_EVENTS": "1000000"}
    instance = server(url, tmp_path, port, **slow)
    base_url = f"http://127.0.0.1:{port}"
    instance.start(healthy(base_url))
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            for _ in range(10):
                batch = [
                    {"event": "drained", "distinct_id": "p", "uuid": str(uuid.uuid4())} for _ in range(100)
                ]
                response = await http.post("/batch/", json={"api_key": client_key, "batch": batch})
                assert response.status_code == 200
        assert await count_stored(url) == 0  # still buffered
    finally:
        assert instance.stop() == -signal.SIGTERM, instance.log()
    assert await count_stored(url) == 1_000
    assert not (tmp_path / "spool").exists()  # nothing left to replay: the spool is gone
