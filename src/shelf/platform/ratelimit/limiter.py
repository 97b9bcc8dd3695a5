"""Throttle anything by any key: the gateway's per-caller limits and the login throttle both use this."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shelf.platform.ratelimit.memory import MemoryRateLimitStore
from shelf.platform.ratelimit.redis import RedisRateLimitStore
from shelf.platform.ratelimit.store import Decision, NullRateLimitStore, RateLimitStore
from shelf.settings import Settings

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """``quota`` requests per ``window_seconds``: a bucket of ``quota`` tokens refilled evenly."""

    name: str  # names the bucket and appears in the RateLimit headers
    quota: int
    window_seconds: int

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"a rate policy name is lowercase letters, digits, '-' and '_', not {self.name!r}"
            )
        if self.quota < 1 or self.window_seconds < 1:
            raise ValueError(f"a rate policy needs a positive quota and window, not {self}")

    @classmethod
    def parse(cls, name: str, rate: str) -> RatePolicy:
        """``RatePolicy.parse("writes", "60/minute")``; the units are second, minute, hour, day."""
        count, _, period = rate.partition("/")
        if not count.isdigit() or period not in PERIODS:
            raise ValueError(
                f"a rate looks like '120/minute' (per second, minute, hour or day), not {rate!r}"
            )
        return cls(name=name, quota=int(count), window_seconds=PERIODS[period])

    @property
    def refill_per_second(self) -> float:
        return self.quota / self.window_seconds


class RateLimiter:
    """Token buckets by ``(policy, key)`` in whichever store the settings chose."""

    def __init__(self, store: RateLimitStore) -> None:
        self.store = store

    async def hit(self, key: str, policy: RatePolicy, *, cost: int = 1) -> Decision:
        """Count one event (or ``cost`` of them) for ``key``; ``allowed`` is False once over the limit."""
        return await self.store.take(self._bucket(key, policy), policy.quota, policy.refill_per_second, cost)

    async def check(self, key: str, policy: RatePolicy) -> Decision:
        """Whether ``key`` may have one more event, without counting one."""
        return await self.store.take(self._bucket(key, policy), policy.quota, policy.refill_per_second, 0)

    async def clear(self, key: str, policy: RatePolicy) -> None:
        """Start ``key`` afresh (after a successful login, say)."""
        await self.store.clear(self._bucket(key, policy))

    async def aclose(self) -> None:
        await self.store.aclose()

    @staticmethod
    def _bucket(key: str, policy: RatePolicy) -> str:
        return f"{policy.name}:{key}"


def rate_limit_store(settings: Settings) -> RateLimitStore:
    """The one place the store is chosen: off, shared through Redis, or in this process."""
    if not settings.rate_limit_enabled:
        return NullRateLimitStore()
    if settings.redis_url:
        return RedisRateLimitStore.from_url(
            settings.redis_url,
            timeout=settings.rate_limit_redis_timeout_seconds,
            prefix=settings.rate_limit_redis_prefix,
        )
    return MemoryRateLimitStore(max_keys=settings.rate_limit_max_keys)
