"""The shared cache in Redis: every Shelf instance reads what any of them stored.

Redis is a convenience here, not a dependency: on an error or a timeout a read is a miss and a
write does nothing, the failure is counted, and Redis is left alone for ``retry_interval`` seconds
so that a dead server costs one short timeout per interval rather than one per request. After that
it is asked again, and the cache recovers by itself.

Invalidations that fail while Redis is away are remembered (up to ``max_pending`` keys) and
replayed before anything else once Redis answers again, so a product written during an outage is
not served from a stale entry afterwards. Beyond that bound, entries written before the outage may
be served until their own TTL ends: keep the TTLs of shared entries short.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Iterable

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from shelf.monitoring import metrics
from shelf.platform.cache.store import namespace_key, scoped

log = structlog.get_logger(__name__)
_ERRORS = metrics.CACHE_ERRORS.labels(cache="redis")

DEFAULT_PREFIX = "shelf:cache:"
CHANNEL_SUFFIX = "invalidations"


def encode_invalidation(keys: Iterable[str]) -> bytes:
    return json.dumps(list(keys), separators=(",", ":")).encode()


def decode_invalidation(data: bytes | str) -> list[str]:
    """The keys an invalidation message names; a malformed message names none."""
    try:
        keys = json.loads(data)
    except ValueError:
        return []
    if not isinstance(keys, list):
        return []
    return [key for key in keys if isinstance(key, str)]


class RedisCache:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        retry_interval: float = 1.0,
        namespace_ttl_seconds: float = 24 * 3600,
        max_pending: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self.channel = prefix + CHANNEL_SUFFIX
        self.failures = 0  # Redis errors and timeouts
        self._client = client
        self._retry_interval = retry_interval
        self._namespace_ttl_ms = max(1, int(namespace_ttl_seconds * 1000))
        self._max_pending = max_pending
        self._clock = clock
        self._resting_until = -math.inf
        self._down = False
        self._pending_keys: set[str] = set()
        self._pending_namespaces: set[str] = set()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float,
        prefix: str = DEFAULT_PREFIX,
        retry_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> RedisCache:
        """A cache with its own client: short timeouts and no retries, because a request waits on it."""
        client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, prefix=prefix, retry_interval=retry_interval, clock=clock)

    @property
    def client(self) -> Redis:
        """The connection pool's client (the composition root instruments it for tracing)."""
        return self._client

    @property
    def available(self) -> bool:
        """False while resting after a failure."""
        return self._clock() >= self._resting_until

    async def get(self, key: str) -> bytes | None:
        if not await self._ready():
            return None
        try:
            value = await self._client.get(self.prefix + key)
        except (RedisError, OSError) as error:
            self._failed(error)
            return None
        self._succeeded()
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        if ttl_seconds <= 0 or not await self._ready():
            return
        try:
            await self._client.set(self.prefix + key, value, px=max(1, math.ceil(ttl_seconds * 1000)))
        except (RedisError, OSError) as error:
            self._failed(error)
        else:
            self._succeeded()

    async def delete(self, *keys: str) -> None:
        await self.delete_and_publish(keys, ())

    async def delete_and_publish(self, keys: Iterable[str], drop: Iterable[str]) -> None:
        """Delete ``keys`` and tell every subscriber to drop ``drop`` (and ``keys``) from its L1."""
        keys, drop = list(keys), list(drop)
        if not keys and not drop:
            return
        if not await self._ready():
            self._remember(keys, ())
            return
        try:
            await self._delete_and_publish(keys, drop)
        except (RedisError, OSError) as error:
            self._failed(error)
            self._remember(keys, ())
        else:
            self._succeeded()

    async def scope(self, namespace: str) -> str:
        token = await self.namespace_token(namespace)
        # Unavailable: a token of its own, which no entry was ever stored under (a miss), and no
        # later scope will hand out again (nothing stored under it now can be read back later).
        return scoped(namespace, token or f"x{uuid.uuid4().hex}")

    async def namespace_token(self, namespace: str) -> str | None:
        """The namespace's current token, created on first use; None when Redis is unavailable."""
        if not await self._ready():
            return None
        key = self.prefix + namespace_key(namespace)
        try:
            token = await self._client.get(key)
            if token is None:
                await self._client.set(key, uuid.uuid4().hex, px=self._namespace_ttl_ms, nx=True)
                token = await self._client.get(key)
        except (RedisError, OSError) as error:
            self._failed(error)
            return None
        self._succeeded()
        return token.decode() if isinstance(token, bytes) else None

    async def invalidate(self, namespace: str) -> None:
        if not await self._ready():
            self._remember((), (namespace,))
            return
        try:
            await self._rotate((namespace,))
        except (RedisError, OSError) as error:
            self._failed(error)
            self._remember((), (namespace,))
        else:
            self._succeeded()

    async def ping(self) -> bool:
        """Whether Redis answers now (ignores the resting period; used by health checks and tests)."""
        try:
            await self._client.ping()
        except (RedisError, OSError):
            return False
        return True

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _delete_and_publish(self, keys: list[str], drop: list[str]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            if keys:
                pipe.delete(*(self.prefix + key for key in keys))
            pipe.publish(self.channel, encode_invalidation([*keys, *drop]))
            await pipe.execute()

    async def _rotate(self, namespaces: Iterable[str]) -> None:
        """Give each namespace a new token, and tell every subscriber to forget the old one."""
        names = [namespace_key(namespace) for namespace in namespaces]
        async with self._client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.set(self.prefix + name, uuid.uuid4().hex, px=self._namespace_ttl_ms)
            pipe.publish(self.channel, encode_invalidation(names))
            await pipe.execute()

    async def _ready(self) -> bool:
        """Whether Redis may be asked now: not resting, and no invalidation left to replay."""
        if not self.available:
            return False
        if not (self._pending_keys or self._pending_namespaces):
            return True
        keys, namespaces = sorted(self._pending_keys), sorted(self._pending_namespaces)
        try:
            if keys:
                await self._delete_and_publish(keys, [])
            if namespaces:
                await self._rotate(namespaces)
        except (RedisError, OSError) as error:
            self._failed(error)
            return False
        self._pending_keys.clear()
        self._pending_namespaces.clear()
        log.info("cache_invalidations_replayed", keys=len(keys), namespaces=len(namespaces))
        return True

    def _remember(self, keys: Iterable[str], namespaces: Iterable[str]) -> None:
        self._pending_namespaces.update(namespaces)
        for key in keys:
            if len(self._pending_keys) >= self._max_pending:
                log.warning("cache_invalidations_dropped", max_pending=self._max_pending)
                return
            self._pending_keys.add(key)

    def _failed(self, error: Exception) -> None:
        self.failures += 1
        _ERRORS.inc()
        self._resting_until = self._clock() + self._retry_interval
        if not self._down:  # one line per outage, not one per request
            self._down = True
            log.warning(
                "cache_store_unavailable",
                error=f"{type(error).__name__}: {error}",
                retry_interval=self._retry_interval,
            )

    def _succeeded(self) -> None:
        if self._down:
            self._down = False
            log.info("cache_store_recovered", failures=self.failures)
