"""Rate limits in the real Redis: one budget across instances, and no outage when Redis goes away."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shelf.app import create_app
from shelf.platform.ratelimit.redis import RedisRateLimitStore
from shelf.settings import Settings
from tests.databases import server_missing

pytestmark = pytest.mark.xdist_group("redis")

REDIS_URL = os.environ.get("SHELF_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"
PRODUCTS = "/api/v1/products"
PER_MINUTE_3 = (3, 3 / 60)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        server_missing(
            f"Redis at {REDIS_URL} ({error})",
            "Start it (`redis-server`, or `docker run -p 6379:6379 redis:7`) "
            "or point SHELF_TEST_REDIS_URL at a server the tests may write to.",
        )
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    """A key prefix of this test's own, and every key under it deleted afterwards."""
    prefix = f"shelf-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def make_app(app: FastAPI, settings: Settings) -> AsyncIterator[Callable[..., FastAPI]]:
    made: list[FastAPI] = []

    def make(**overrides: Any) -> FastAPI:
        instance = create_app(
            Settings(database_url=settings.database_url, env="test", log_level="warning", **overrides)
        )
        made.append(instance)
        return instance

    yield make
    for instance in made:
        await instance.state.container.aclose()


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("1.2.3.4", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://shelf.test")


async def test_two_instances_spend_one_budget(
    make_app: Callable[..., FastAPI], prefix: str, redis: Redis
) -> None:
    shared = {"redis_url": REDIS_URL, "rate_limit_redis_prefix": prefix, "rate_limit_anonymous": "3/minute"}
    first, second = make_app(**shared), make_app(**shared)
    assert isinstance(first.state.container.rate_limiter.store, RedisRateLimitStore)
    async with client_for(first) as one, client_for(second) as two:
        answers = [await one.get(PRODUCTS), await two.get(PRODUCTS), await one.get(PRODUCTS)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.headers["RateLimit"].split(";")[1] for a in answers] == ["r=2", "r=1", "r=0"]
        assert answers[0].headers["RateLimit-Policy"] == '"anonymous";q=3;w=60'
        refused = await two.get(PRODUCTS)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["Retry-After"]) <= 20
        assert (await one.get(PRODUCTS)).status_code == 429
    assert await redis.exists(f"{prefix}anonymous:ip:1.2.3.4") == 1


async def test_requests_are_served_while_redis_is_unreachable(make_app: Callable[..., FastAPI]) -> None:
    instance = make_app(redis_url=CLOSED_PORT_URL, rate_limit_anonymous="3/minute")
    store = instance.state.container.rate_limiter.store
    assert isinstance(store, RedisRateLimitStore)
    async with client_for(instance) as http:
        for _ in range(6):  # twice the limit: nothing is enforced without the store
            response = await http.get(PRODUCTS)
            assert response.status_code == 200
            assert "RateLimit" not in response.headers  # no limit is claimed that is not kept
    assert store.failures >= 1
    assert store.unchecked == 6


async def test_the_script_keeps_the_bucket_arithmetic(prefix: str, redis: Redis) -> None:
    store = RedisRateLimitStore(Redis.from_url(REDIS_URL), prefix=prefix)
    try:
        decisions = [await store.take("k", *PER_MINUTE_3) for _ in range(4)]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert [d.remaining for d in decisions] == [2, 1, 0, 0]
        assert [d.reset_seconds for d in decisions[:3]] == [20, 40, 60]
        assert 19 <= decisions[3].retry_after_seconds <= 20
        # Idle buckets expire once they would be full again, so Redis does not fill with callers.
        assert 60_000 < await redis.pttl(f"{prefix}k") <= 61_000
        bulk = [await store.take("bulk", 10, 1.0, cost=4) for _ in range(3)]
        assert [(d.allowed, d.remaining) for d in bulk] == [(True, 6), (True, 2), (False, 2)]
        assert bulk[2].retry_after_seconds == 2
        peek = await store.take("bulk", 10, 1.0, cost=0)
        assert peek.remaining == 2
        await store.clear("k")
        assert (await store.take("k", *PER_MINUTE_3)).remaining == 2
    finally:
        await store.aclose()


async def test_tokens_come_back_on_the_redis_clock(prefix: str) -> None:
    store = RedisRateLimitStore(Redis.from_url(REDIS_URL), prefix=prefix)
    try:
        assert [(await store.take("k", 2, 10.0)).allowed for _ in range(3)] == [True, True, False]
        await asyncio.sleep(0.15)  # 1.5 tokens at 10 per second
        assert [(await store.take("k", 2, 10.0)).allowed for _ in range(2)] == [True, False]
    finally:
        await store.aclose()


async def test_a_silent_redis_costs_a_short_timeout_once_not_on_every_request() -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept the connection and never answer
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = RedisRateLimitStore.from_url(f"redis://127.0.0.1:{port}/0", timeout=0.1)
    try:
        started = time.perf_counter()
        first = await store.take("k", *PER_MINUTE_3)
        first_took = time.perf_counter() - started
        started = time.perf_counter()
        second = await store.take("k", *PER_MINUTE_3)
        second_took = time.perf_counter() - started
    finally:
        await store.aclose()
        server.close()
        await server.wait_closed()
    assert first.allowed
    assert not first.enforced
    assert second.allowed
    assert first_took < 1.0  # one timeout, no retries with backoff
    assert second_took < 0.05  # resting: Redis is not asked again at once
    assert (store.failures, store.unchecked) == (1, 2)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class RedisProxy:
    """A TCP relay to the real Redis that the test can cut and restore, as a Redis restart would."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._pipes: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        await self._server.wait_closed()
        self._writers, self._pipes, self._server = [], [], None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = REDIS_URL.removeprefix("redis://").split("/")[0].split(":")
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        self._writers += [writer, upstream_writer]
        self._pipes += [
            asyncio.create_task(_pipe(reader, upstream_writer)),
            asyncio.create_task(_pipe(upstream_reader, writer)),
        ]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.transport.abort()


async def test_the_store_recovers_by_itself_when_redis_comes_back(prefix: str, redis: Redis) -> None:
    proxy = RedisProxy()
    await proxy.start()
    resting_clock = FakeMonotonic()
    store = RedisRateLimitStore.from_url(
        f"redis://127.0.0.1:{proxy.port}/0", timeout=0.5, prefix=prefix, retry_interval=5, clock=resting_clock
    )
    try:
        assert (await store.take("k", *PER_MINUTE_3)).remaining == 2
        await proxy.stop()
        during = [await store.take("k", *PER_MINUTE_3) for _ in range(5)]
        assert all(d.allowed and not d.enforced for d in during)
        assert (store.failures, store.unchecked) == (1, 5)
        resting_clock.now += 5
        assert not (await store.take("k", *PER_MINUTE_3)).enforced  # still down when asked again
        assert store.failures == 2
        await proxy.start()
        assert not (await store.take("k", *PER_MINUTE_3)).enforced  # resting after that failure
        resting_clock.now += 5
        after = await store.take("k", *PER_MINUTE_3)
        assert after.enforced
        assert after.remaining == 1  # the same bucket as before the outage
        assert [(await store.take("k", *PER_MINUTE_3)).allowed for _ in range(2)] == [True, False]
        assert store.failures == 2
    finally:
        await store.aclose()
        await proxy.stop()
