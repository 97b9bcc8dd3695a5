"""Response caching behind one interface: in this process, or two-level over Redis (chosen by settings).

Read paths call ``read_through(cache, flight, key, load, ...)``; write paths call
``cache.delete(...)`` for the keys they affect and ``cache.invalidate(namespace)`` for whole groups
(every list page). ``build_cache(settings)`` in the composition root is the one place the backend
is chosen; ``start()`` and ``aclose()`` belong in the app lifespan.
"""

from shelf.platform.cache.aside import NOT_FOUND, read_through
from shelf.platform.cache.memory import MemoryCache
from shelf.platform.cache.redis import RedisCache
from shelf.platform.cache.singleflight import SingleFlight
from shelf.platform.cache.store import Cache, NullCache
from shelf.platform.cache.twolevel import TwoLevelCache
from shelf.settings import Settings

__all__ = [
    "NOT_FOUND",
    "Cache",
    "MemoryCache",
    "NullCache",
    "RedisCache",
    "SingleFlight",
    "TwoLevelCache",
    "build_cache",
    "read_through",
]


def build_cache(settings: Settings) -> Cache:
    """The one place the cache is chosen: off, shared through Redis (with an L1), or in this process.

    The in-process cache is private to one worker: with ``--workers N`` and no Redis, a write
    through one worker is not seen by the others' caches until the entry's TTL ends.
    """
    if not settings.cache_enabled:
        return NullCache()
    if settings.redis_url:
        return TwoLevelCache.from_url(
            settings.redis_url,
            timeout=settings.cache_redis_timeout_seconds,
            prefix=settings.cache_redis_prefix,
            local_ttl_seconds=settings.cache_local_ttl_seconds,
            local_max_entries=settings.cache_local_max_entries,
            local_max_bytes=settings.cache_local_max_bytes,
        )
    return MemoryCache(max_entries=settings.cache_max_entries, max_bytes=settings.cache_max_bytes)
