"""A bounded LRU cache with a TTL per entry, in this process's memory: the default cache.

It is also the small first level (L1) in front of Redis (see ``twolevel.py``). Every operation is
O(1): an ``OrderedDict`` kept in order of last use, evicting from the least recently used end.
Expired entries are dropped when they are read or when room is needed.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from shelf.monitoring import metrics
from shelf.platform.cache.store import scoped

_HITS = metrics.CACHE_HITS.labels(cache="memory")
_MISSES = metrics.CACHE_MISSES.labels(cache="memory")

# Roughly what CPython spends per entry beyond the key and value bytes (dict slot, tuple, objects);
# counted so that a flood of tiny entries cannot exceed max_bytes by orders of magnitude.
ENTRY_OVERHEAD_BYTES = 100


@dataclass(slots=True)
class _Entry:
    value: bytes
    expires_at: float
    size: int


class MemoryCache:
    """At most ``max_entries`` entries and about ``max_bytes`` bytes; values larger than that are not kept."""

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("a memory cache needs max_entries >= 1 and max_bytes >= 1")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        # Namespace tokens are not entries: evicting one would be harmless but needless.
        self._namespaces: dict[str, int] = {}
        self._generation = itertools.count(1)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    async def get(self, key: str) -> bytes | None:
        # Counted here, not in get_now: as the L1 of TwoLevelCache it is read through get_now, and
        # that cache counts its own lookups.
        value = self.get_now(key)
        (_HITS if value is not None else _MISSES).inc()
        return value

    def get_now(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if entry.expires_at <= self._clock():
            self._remove(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self.set_now(key, value, ttl_seconds)

    def set_now(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._remove(key)
        size = len(key) + len(value) + ENTRY_OVERHEAD_BYTES
        if ttl_seconds <= 0 or size > self.max_bytes:
            return
        while self._entries and (
            len(self._entries) >= self.max_entries or self._bytes + size > self.max_bytes
        ):
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size
            self.evictions += 1
        self._entries[key] = _Entry(value, self._clock() + ttl_seconds, size)
        self._bytes += size

    async def delete(self, *keys: str) -> None:
        self.delete_now(*keys)

    def delete_now(self, *keys: str) -> None:
        for key in keys:
            self._remove(key)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    async def scope(self, namespace: str) -> str:
        token = self._namespaces.get(namespace)
        if token is None:
            token = self._namespaces[namespace] = next(self._generation)
        return scoped(namespace, str(token))

    async def invalidate(self, namespace: str) -> None:
        # A process-wide counter, so a token is never reused even if a namespace is forgotten.
        self._namespaces[namespace] = next(self._generation)

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        self.clear()

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size
