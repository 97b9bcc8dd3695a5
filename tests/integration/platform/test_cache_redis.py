"""The two-level cache on the real Redis: shared entries, invalidation across instances, bounded
staleness when invalidation messages are lost, and no failure when Redis is away."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shelf.platform.cache import RedisCache, TwoLevelCache
from tests.databases import server_missing
from tests.integration.gateway.test_rate_limits_redis import RedisProxy

pytestmark = pytest.mark.xdist_group("redis")

REDIS_URL = os.environ.get("SHELF_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"
LONG = 60.0  # an L1 TTL long enough that only an invalidation message can explain a drop

MakeCache = Callable[..., Awaitable[TwoLevelCache]]


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
    """A key prefix (and so an invalidation channel) of this test's own, cleaned up afterwards."""
    prefix = f"shelf-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def make_cache(prefix: str) -> AsyncIterator[MakeCache]:
    """Started two-level caches sharing this test's prefix, each subscribed before it is handed out."""
    made: list[TwoLevelCache] = []

    async def make(**overrides: Any) -> TwoLevelCache:
        options: dict[str, Any] = {"timeout": 0.5, "prefix": prefix, "local_ttl_seconds": LONG} | overrides
        cache = TwoLevelCache.from_url(options.pop("url", REDIS_URL), **options)
        made.append(cache)
        await cache.start()
        assert await cache.subscriber.wait_connected(within_seconds=5)
        return cache

    yield make
    for cache in made:
        await cache.aclose()


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 2.0) -> float:
    """Seconds until ``condition`` held; fails the test if it does not within ``within`` seconds."""
    started = time.perf_counter()
    while not await condition():
        elapsed = time.perf_counter() - started
        assert elapsed < within, f"still not true after {elapsed:.2f} s"
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


async def test_two_instances_see_each_others_entries(
    make_cache: MakeCache, redis: Redis, prefix: str
) -> None:
    one, two = await make_cache(), await make_cache()
    await one.set("product:1", b'{"v":1}', ttl_seconds=30)
    assert await two.get("product:1") == b'{"v":1}'
    assert 29_000 < await redis.pttl(f"{prefix}product:1") <= 30_000
    assert await one.scope("catalog:pages") == await two.scope("catalog:pages")
    assert await two.get("never-stored") is None


async def test_a_delete_on_one_instance_reaches_the_l1_of_the_other(make_cache: MakeCache) -> None:
    one, two = await make_cache(), await make_cache()
    await one.set("product:1", b"v1", ttl_seconds=LONG)
    assert await two.get("product:1") == b"v1"
    assert two.local.get_now("product:1") == b"v1"  # now served from the other instance's memory

    await one.delete("product:1")

    took = await eventually(lambda: _absent(two, "product:1"), within=1.0)
    assert took < 1.0
    assert await two.get("product:1") is None
    await one.set("product:1", b"v2", ttl_seconds=LONG)
    assert await two.get("product:1") == b"v2"


async def _absent(cache: TwoLevelCache, key: str) -> bool:
    return cache.local.get_now(key) is None


async def test_invalidating_a_namespace_reaches_every_instance(make_cache: MakeCache) -> None:
    one, two = await make_cache(), await make_cache()
    pages = await two.scope("catalog:pages")
    await two.set(pages + "q=shoes", b"page", ttl_seconds=LONG)
    assert await two.scope("catalog:pages") == pages  # the token is held in the L1 now

    await one.invalidate("catalog:pages")

    async def rotated() -> bool:
        return await two.scope("catalog:pages") != pages

    await eventually(rotated, within=1.0)
    fresh = await two.scope("catalog:pages")
    assert fresh == await one.scope("catalog:pages")
    assert await two.get(fresh + "q=shoes") is None
    assert await one.get(fresh + "q=shoes") is None


class MutableRelay:
    """A TCP relay to Redis that can silently stop delivering what Redis sends: messages are lost
    while the connection looks healthy, the worst case for an invalidation subscriber."""

    def __init__(self) -> None:
        self.muted = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._pipes: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = REDIS_URL.removeprefix("redis://").split("/")[0].split(":")
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        self._writers += [writer, upstream_writer]
        self._pipes += [
            asyncio.create_task(self._pipe(reader, upstream_writer, lambda: True)),
            asyncio.create_task(self._pipe(upstream_reader, writer, lambda: not self.muted)),
        ]

    @staticmethod
    async def _pipe(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, forwarding: Callable[[], bool]
    ) -> None:
        try:
            while data := await reader.read(65536):
                if forwarding():
                    writer.write(data)
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.transport.abort()


async def test_an_instance_that_misses_messages_is_stale_no_longer_than_its_l1_ttl(
    make_cache: MakeCache,
) -> None:
    l1_ttl = 0.5
    relay = MutableRelay()
    await relay.start()
    try:
        writer = await make_cache()
        reader = await make_cache(
            local_ttl_seconds=l1_ttl, subscriber_url=f"redis://127.0.0.1:{relay.port}/0"
        )
        await writer.set("product:1", b"v1", ttl_seconds=LONG)
        assert await reader.get("product:1") == b"v1"
        cached_at = time.perf_counter()
        relay.muted = True  # the reader's subscription looks alive but hears nothing from now on

        await writer.set("product:1", b"v2", ttl_seconds=LONG)
        await writer.delete("product:1")
        await writer.set("product:1", b"v2", ttl_seconds=LONG)

        assert reader.subscriber.connected
        assert await reader.get("product:1") == b"v1"  # stale: the invalidation never arrived

        async def fresh() -> bool:
            return await reader.get("product:1") == b"v2"

        await eventually(fresh, within=2 * l1_ttl)
        stale_for = time.perf_counter() - cached_at
        assert stale_for <= l1_ttl + 0.2, f"stale for {stale_for:.2f} s with an L1 TTL of {l1_ttl} s"
    finally:
        await relay.close()


async def test_a_silent_subscription_is_found_by_its_heartbeat_and_replaced(make_cache: MakeCache) -> None:
    relay = MutableRelay()
    await relay.start()
    try:
        writer = await make_cache()
        reader = await make_cache(
            subscriber_url=f"redis://127.0.0.1:{relay.port}/0", heartbeat_seconds=0.1, max_backoff=0.1
        )
        await writer.set("product:1", b"v1", ttl_seconds=LONG)
        assert await reader.get("product:1") == b"v1"
        relay.muted = True  # Redis still answers the request path, but the subscription hears nothing

        async def given_up() -> bool:
            return not reader.subscriber.connected

        await eventually(given_up, within=1.0)  # twice the heartbeat without a pong, plus a poll
        assert len(reader.local) == 0
        await writer.delete("product:1")
        assert await reader.get("product:1") is None

        relay.muted = False
        assert await reader.subscriber.wait_connected(within_seconds=3)
        await writer.set("product:2", b"v1", ttl_seconds=LONG)
        assert await reader.get("product:2") == b"v1"
        await writer.delete("product:2")
        await eventually(lambda: _absent(reader, "product:2"), within=1.0)
    finally:
        await relay.close()


async def test_a_lost_subscription_stops_the_l1_until_it_is_back(make_cache: MakeCache) -> None:
    proxy = RedisProxy()
    await proxy.start()
    try:
        writer = await make_cache()
        reader = await make_cache(subscriber_url=f"redis://127.0.0.1:{proxy.port}/0", max_backoff=0.2)
        await writer.set("product:1", b"v1", ttl_seconds=LONG)
        assert await reader.get("product:1") == b"v1"

        await proxy.stop()  # the subscription breaks; the request path (direct to Redis) does not

        async def lost() -> bool:
            return not reader.subscriber.connected

        await eventually(lost, within=2.0)
        assert len(reader.local) == 0  # whatever it held may be stale now
        await writer.delete("product:1")  # the reader cannot hear this
        assert await reader.get("product:1") is None  # yet it does not serve the old value
        await writer.set("product:1", b"v2", ttl_seconds=LONG)
        assert await reader.get("product:1") == b"v2"
        assert len(reader.local) == 0  # no L1 while invalidations cannot arrive

        await proxy.start()  # same port: the subscriber reconnects by itself
        assert await reader.subscriber.wait_connected(within_seconds=3)
        assert reader.subscriber.subscriptions == 2
        assert reader.subscriber.failures >= 1
        assert await reader.get("product:1") == b"v2"
        assert reader.local.get_now("product:1") == b"v2"
        await writer.delete("product:1")
        await eventually(lambda: _absent(reader, "product:1"), within=1.0)
    finally:
        await proxy.stop()


async def test_an_unreachable_redis_is_a_miss_and_never_an_error() -> None:
    cache = TwoLevelCache.from_url(CLOSED_PORT_URL, timeout=0.25, local_ttl_seconds=5)
    await cache.start()
    try:
        started = time.perf_counter()
        await cache.set("k", b"v", ttl_seconds=60)
        assert await cache.get("k") is None
        await cache.delete("k")
        await cache.invalidate("catalog:pages")
        first, second = await cache.scope("catalog:pages"), await cache.scope("catalog:pages")
        assert first != second  # a token nothing was stored under, never handed out twice
        assert await cache.get(first + "q") is None
        assert time.perf_counter() - started < 1.0  # one refused connection, then resting
        assert cache.failures == 1
        assert not cache.subscriber.connected
        assert len(cache.local) == 0
    finally:
        await cache.aclose()


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_cache_recovers_by_itself_and_replays_missed_invalidations(
    prefix: str, redis: Redis
) -> None:
    proxy = RedisProxy()
    await proxy.start()
    clock = FakeMonotonic()
    cache = RedisCache.from_url(f"redis://127.0.0.1:{proxy.port}/0", timeout=0.5, prefix=prefix, clock=clock)
    try:
        await cache.set("product:1", b"v1", ttl_seconds=LONG)
        await cache.set("product:2", b"v1", ttl_seconds=LONG)
        pages = await cache.scope("catalog:pages")
        await proxy.stop()

        assert await cache.get("product:2") is None  # a miss, not an error
        assert cache.failures == 1
        await cache.delete("product:1")  # a write during the outage: Redis still holds v1
        await cache.invalidate("catalog:pages")
        await cache.set("product:3", b"lost", ttl_seconds=LONG)
        assert cache.failures == 1  # resting: Redis was not asked again
        assert await redis.get(f"{prefix}product:1") == b"v1"

        await proxy.start()
        clock.now += 1.0  # the resting period ends
        assert await cache.get("product:2") == b"v1"  # the same entry as before the outage
        assert await cache.get("product:1") is None  # the missed delete was replayed first
        assert await redis.get(f"{prefix}product:1") is None
        assert await cache.scope("catalog:pages") != pages  # and so was the missed invalidation
        assert await cache.get("product:3") is None  # the set during the outage did nothing
        assert cache.failures == 1
    finally:
        await cache.aclose()
        await proxy.stop()
