"""Cache-aside with single-flight and negative caching: the one call a read path needs.

``await read_through(cache, flight, key, load, ttl_seconds=60, negative_ttl_seconds=5)`` returns
the cached bytes, or runs ``load`` (once per key, however many callers miss at the same moment),
stores what it returns and returns it. ``load`` returns None for "not found"; that answer is cached
too, for the shorter ``negative_ttl_seconds``, so a burst of 404s for one id costs one read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from shelf.platform.cache.singleflight import SingleFlight
from shelf.platform.cache.store import Cache

# No serialised response starts with a NUL byte, so this cannot be mistaken for a real value.
NOT_FOUND = b"\x00shelf:not-found"


async def read_through(
    cache: Cache,
    flight: SingleFlight,
    key: str,
    load: Callable[[], Awaitable[bytes | None]],
    *,
    ttl_seconds: float,
    negative_ttl_seconds: float,
) -> bytes | None:
    cached = await cache.get(key)
    if cached is not None:
        return None if cached == NOT_FOUND else cached

    async def load_and_store() -> bytes | None:
        value = await load()
        if value is None:
            await cache.set(key, NOT_FOUND, negative_ttl_seconds)
        else:
            await cache.set(key, value, ttl_seconds)
        return value

    return await flight.run(key, load_and_store)
