"""The scale-out cache: a small, short-lived in-process L1 in front of the shared Redis L2.

Hot keys are answered from this process's memory; Redis is asked on an L1 miss. Writes delete from
Redis and publish the keys on a channel every instance listens to (``invalidation.py``), so each
L1 drops them at once. The L1 is used only while that subscription is live, and it is cleared on
every (re)subscription; if messages are lost without the connection noticing, an L1 entry is
served at most ``local_ttl_seconds`` after the write. That TTL is the staleness bound.
"""

from __future__ import annotations

import uuid

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from shelf.monitoring import metrics
from shelf.platform.cache.invalidation import InvalidationSubscriber
from shelf.platform.cache.memory import MemoryCache
from shelf.platform.cache.redis import DEFAULT_PREFIX, RedisCache
from shelf.platform.cache.store import namespace_key, scoped

_HITS = metrics.CACHE_HITS.labels(cache="redis")
_MISSES = metrics.CACHE_MISSES.labels(cache="redis")


class TwoLevelCache:
    def __init__(
        self,
        local: MemoryCache,
        shared: RedisCache,
        subscriber_client: Redis,
        *,
        local_ttl_seconds: float = 5.0,
        max_backoff: float = 2.0,
        heartbeat_seconds: float = 5.0,
    ) -> None:
        if local_ttl_seconds <= 0:
            raise ValueError("the L1 TTL must be positive: it bounds how long stale data can be served")
        self.local = local
        self.shared = shared
        self.local_ttl_seconds = local_ttl_seconds
        self._subscriber_client = subscriber_client
        # Bumped by every invalidation this process sees: an L2 read that started before one must
        # not put its (possibly older) value into the L1 after the invalidation was applied.
        self._generation = 0
        self.subscriber = InvalidationSubscriber(
            subscriber_client,
            shared.channel,
            on_keys=self._drop,
            on_subscribed=self._forget_everything,
            on_lost=self._forget_everything,
            max_backoff=max_backoff,
            heartbeat_seconds=heartbeat_seconds,
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float,
        prefix: str = DEFAULT_PREFIX,
        local_ttl_seconds: float = 5.0,
        local_max_entries: int = 2_000,
        local_max_bytes: int = 16 * 1024 * 1024,
        subscriber_url: str | None = None,
        max_backoff: float = 2.0,
        heartbeat_seconds: float = 5.0,
    ) -> TwoLevelCache:
        """Nothing connects here; ``start()`` opens the subscription, the first request the rest."""
        subscriber_client = Redis.from_url(
            subscriber_url or url,
            socket_connect_timeout=timeout,
            socket_timeout=None,  # the subscription waits for messages for as long as it lives
            retry=Retry(NoBackoff(), 0),
        )
        return cls(
            MemoryCache(max_entries=local_max_entries, max_bytes=local_max_bytes),
            RedisCache.from_url(url, timeout=timeout, prefix=prefix),
            subscriber_client,
            local_ttl_seconds=local_ttl_seconds,
            max_backoff=max_backoff,
            heartbeat_seconds=heartbeat_seconds,
        )

    @property
    def failures(self) -> int:
        """Failed Redis calls on the request path (the subscriber counts its own)."""
        return self.shared.failures

    @property
    def _local_usable(self) -> bool:
        return self.subscriber.connected

    async def get(self, key: str) -> bytes | None:
        """Counted once per lookup, as ``cache="redis"``, whichever level answered."""
        if self._local_usable and (value := self.local.get_now(key)) is not None:
            _HITS.inc()
            return value
        generation = self._generation
        value = await self.shared.get(key)
        if value is not None:
            _HITS.inc()
            self._fill_local(key, value, self.local_ttl_seconds, generation)
        else:
            _MISSES.inc()
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        generation = self._generation
        await self.shared.set(key, value, ttl_seconds)
        self._fill_local(key, value, min(ttl_seconds, self.local_ttl_seconds), generation)

    async def delete(self, *keys: str) -> None:
        self._drop(list(keys))
        await self.shared.delete_and_publish(keys, ())

    async def scope(self, namespace: str) -> str:
        key = namespace_key(namespace)
        if self._local_usable and (token := self.local.get_now(key)) is not None:
            return scoped(namespace, token.decode())
        generation = self._generation
        fetched = await self.shared.namespace_token(namespace)
        if fetched is None:  # Redis unavailable: a fresh token that nothing was stored under
            return scoped(namespace, f"x{uuid.uuid4().hex}")
        self._fill_local(key, fetched.encode(), self.local_ttl_seconds, generation)
        return scoped(namespace, fetched)

    async def invalidate(self, namespace: str) -> None:
        self._drop([namespace_key(namespace)])
        await self.shared.invalidate(namespace)

    async def start(self) -> None:
        await self.subscriber.start()

    async def aclose(self) -> None:
        await self.subscriber.aclose()
        await self.shared.aclose()
        await self._subscriber_client.aclose()
        self.local.clear()

    def _fill_local(self, key: str, value: bytes, ttl_seconds: float, generation: int) -> None:
        if self._local_usable and generation == self._generation:
            self.local.set_now(key, value, ttl_seconds)

    def _drop(self, keys: list[str]) -> None:
        self._generation += 1
        self.local.delete_now(*keys)

    def _forget_everything(self) -> None:
        self._generation += 1
        self.local.clear()
