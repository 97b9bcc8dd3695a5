"""Token buckets in this process's memory: the default, right for a single instance.

Each worker process keeps its own buckets, so ``shelf serve --workers N`` allows up to N times the
configured rate; set ``SHELF_REDIS_URL`` to share one budget (see ``redis.py``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from shelf.platform.ratelimit.store import Decision, check_request, decide, spend


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    full_at: float  # from then on the bucket is full, so forgetting it loses nothing


class MemoryRateLimitStore:
    """At most ``max_keys`` buckets, kept in order of last use.

    A new key first drops the least recently used buckets that have refilled completely; if the
    store is still full, it drops the least recently used one anyway (that caller starts afresh),
    so memory stays bounded however many client addresses turn up.
    """

    def __init__(self, max_keys: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    async def take(self, key: str, capacity: int, refill_per_second: float, cost: int = 1) -> Decision:
        check_request(capacity, refill_per_second, cost)
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._make_room(now)
            tokens = float(capacity)
        else:
            self._buckets.move_to_end(key)
            tokens = min(float(capacity), bucket.tokens + max(0.0, now - bucket.updated) * refill_per_second)
        allowed, tokens = spend(tokens, cost)
        full_at = now + (capacity - tokens) / refill_per_second
        self._buckets[key] = _Bucket(tokens=tokens, updated=now, full_at=full_at)
        return decide(allowed, tokens, capacity, refill_per_second, cost)

    async def clear(self, key: str) -> None:
        self._buckets.pop(key, None)

    async def aclose(self) -> None:
        self._buckets.clear()

    def _make_room(self, now: float) -> None:
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            if oldest.full_at > now and len(self._buckets) < self.max_keys:
                return
            self._buckets.popitem(last=False)
