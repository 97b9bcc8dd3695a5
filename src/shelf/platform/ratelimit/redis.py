"""Token buckets in Redis, so every Shelf instance spends from one budget.

One Lua script reads, refills and spends a bucket atomically, with the time taken from the Redis
server (``TIME``), so instances with drifting clocks still agree. Buckets expire once they would be
full again, so idle callers cost no memory.

Redis is a convenience here, not a dependency: if it fails or is slow, requests pass unchecked and
the store counts them, then leaves Redis alone for ``retry_interval`` seconds so a dead server does
not add a timeout to every request. After that it tries again, and recovers by itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from shelf.monitoring import metrics
from shelf.platform.ratelimit.store import Decision, check_request, decide

log = structlog.get_logger(__name__)

# Mirrors store.spend(); HSET/PEXPIRE arguments are formatted explicitly because Redis turns Lua
# numbers into strings with 14 significant digits, too few for a timestamp in microseconds.
BUCKET_SCRIPT = """
local capacity = tonumber(ARGV[1])
local refill_per_second = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(bucket[1])
if tokens == nil then
  tokens = capacity
else
  local elapsed = math.max(0, now - tonumber(bucket[2]))
  tokens = math.min(capacity, tokens + elapsed * refill_per_second)
end
local allowed = 0
if tokens + 1e-9 >= math.max(cost, 1) then
  allowed = 1
  tokens = math.max(tokens - cost, 0)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'updated', string.format('%.6f', now))
local full_in_ms = math.ceil((capacity - tokens) / refill_per_second * 1000) + 1000
redis.call('PEXPIRE', KEYS[1], string.format('%d', full_in_ms))
return {allowed, string.format('%.6f', tokens)}
"""


class RedisRateLimitStore:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "shelf:ratelimit:",
        retry_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self.failures = 0  # Redis errors and timeouts
        self.unchecked = 0  # requests let through because Redis was unavailable
        self._client = client
        self._script = client.register_script(BUCKET_SCRIPT)
        self._retry_interval = retry_interval
        self._clock = clock
        self._resting_until = -math.inf
        self._down = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float,
        prefix: str = "shelf:ratelimit:",
        retry_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> RedisRateLimitStore:
        """A store with its own client: short timeouts and no retries, because a request waits on it."""
        client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, prefix=prefix, retry_interval=retry_interval, clock=clock)

    async def take(self, key: str, capacity: int, refill_per_second: float, cost: int = 1) -> Decision:
        check_request(capacity, refill_per_second, cost)
        if self._clock() < self._resting_until:
            self.unchecked += 1
            return Decision.unenforced(capacity)
        try:
            allowed, tokens = await self._script(
                keys=[self.prefix + key], args=[capacity, repr(refill_per_second), cost]
            )
        except (RedisError, OSError) as error:
            self._failed(error)
            self.unchecked += 1
            return Decision.unenforced(capacity)
        self._succeeded()
        return decide(bool(allowed), float(tokens), capacity, refill_per_second, cost)

    async def clear(self, key: str) -> None:
        if self._clock() < self._resting_until:
            return
        try:
            await self._client.delete(self.prefix + key)
        except (RedisError, OSError) as error:
            self._failed(error)
        else:
            self._succeeded()

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def client(self) -> Redis:
        """The connection pool's client (the composition root instruments it for tracing)."""
        return self._client

    def _failed(self, error: Exception) -> None:
        metrics.RATE_LIMIT_STORE_ERRORS.inc()
        self.failures += 1
        self._resting_until = self._clock() + self._retry_interval
        if not self._down:  # one line per outage, not one per request
            self._down = True
            log.warning(
                "rate_limit_store_unavailable",
                error=f"{type(error).__name__}: {error}",
                retry_interval=self._retry_interval,
            )

    def _succeeded(self) -> None:
        if self._down:
            self._down = False
            log.info("rate_limit_store_recovered", failures=self.failures)
