"""The Redis Streams buffer: any instance consumes, acknowledgement after commit, stale claims."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Sequence

import orjson
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shelf.analytics.buffer import BufferFull
from shelf.analytics.capture import Row
from shelf.analytics.redis_buffer import FIELD, GROUP, RedisStreamBuffer
from shelf.analytics.repository import EventWriter, event_writer
from shelf.app import Container
from shelf.platform.errors import ServiceUnavailable
from tests.databases import server_missing
from tests.integration.analytics.helpers import stored

REDIS_URL = os.environ.get("SHELF_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def stream() -> AsyncIterator[str]:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        server_missing(f"Redis at {REDIS_URL} ({error})", "Start redis-server or set SHELF_TEST_REDIS_URL.")
    name = f"shelf-test:analytics:{uuid.uuid4().hex}"
    yield name
    await client.delete(name, f"{name}:waiting")
    await client.aclose()


def rows(count: int, event: str = "streamed") -> list[Row]:
    return [(str(uuid.uuid4()), event, f"p{n}", 1_780_000_000_000 + n, "{}", None) for n in range(count)]


def buffer(writer: EventWriter, stream: str, **options: float) -> RedisStreamBuffer:
    return RedisStreamBuffer(
        Redis.from_url(REDIS_URL),
        writer,
        stream=stream,
        max_events=int(options.get("max_events", 100_000)),
        claim_idle_seconds=options.get("claim_idle_seconds", 30),
        block_ms=50,
    )


async def test_two_instances_share_the_stream_and_store_each_event_once(
    container: Container, stream: str
) -> None:
    writer = event_writer(container.database.engine)
    first, second = buffer(writer, stream), buffer(writer, stream)
    await first.start()
    await second.start()
    try:
        for _ in range(20):
            await first.put(rows(50))
        await first.flush()
        assert first.stored + second.stored == 1_000
        assert await stored(container, event="streamed") == 1_000
    finally:
        await first.aclose()
        await second.aclose()


class FlakyWriter:
    """Fails its first ``failures`` writes, as a database that is away would."""

    def __init__(self, inner: EventWriter, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    async def prepare(self, now: object) -> None:
        return None

    async def write(self, batch: Sequence[Row]) -> int:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the database is away")
        return await self.inner.write(batch)


async def test_entries_are_acknowledged_only_after_the_commit(container: Container, stream: str) -> None:
    writer = FlakyWriter(event_writer(container.database.engine), failures=3)
    consumer = buffer(writer, stream)
    await consumer.start()
    try:
        await consumer.put(rows(10))
        redis = Redis.from_url(REDIS_URL)
        while writer.failures:
            await asyncio.sleep(0.01)
            if writer.failures:
                assert await redis.xlen(stream) == 1  # not acknowledged, not deleted
        await consumer.flush()
        assert await redis.xlen(stream) == 0
        assert (await redis.xpending(stream, GROUP))["pending"] == 0
        await redis.aclose()
        assert await stored(container, event="streamed") == 10
    finally:
        await consumer.aclose()


async def test_a_dead_consumers_entries_are_claimed(container: Container, stream: str) -> None:
    redis = Redis.from_url(REDIS_URL)
    await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    await redis.xadd(stream, {FIELD: orjson.dumps(rows(7, "orphaned"))})
    await redis.incrby(f"{stream}:waiting", 7)
    taken = await redis.xreadgroup(GROUP, "dead-instance", {stream: ">"}, count=10)
    assert len(taken[0][1]) == 1  # read by an instance that then died without acknowledging
    alive = buffer(event_writer(container.database.engine), stream, claim_idle_seconds=0.2)
    await alive.start()
    try:
        await alive.flush()
        assert await stored(container, event="orphaned") == 7
        assert (await redis.xpending(stream, GROUP))["pending"] == 0
    finally:
        await alive.aclose()
        await redis.aclose()


async def test_refusals_are_503s(container: Container, stream: str) -> None:
    full = buffer(event_writer(container.database.engine), stream, max_events=100)
    await full.put(rows(60))  # not started: nobody consumes, so the stream fills
    with pytest.raises(BufferFull) as raised:
        await full.put(rows(60))
    assert raised.value.retry_after >= 1
    await full.aclose()
    away = RedisStreamBuffer(
        Redis.from_url("redis://127.0.0.1:1/0"),
        event_writer(container.database.engine),
        stream=stream,
        max_events=100,
        claim_idle_seconds=30,
    )
    with pytest.raises(ServiceUnavailable):
        await away.put(rows(1))
    await away.aclose()
