"""Cache-aside with negative caching: found and not-found answers both cost one load per TTL."""

from __future__ import annotations

import asyncio

from shelf.platform.cache.aside import NOT_FOUND, read_through
from shelf.platform.cache.memory import MemoryCache
from shelf.platform.cache.singleflight import SingleFlight


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Database:
    def __init__(self, rows: dict[str, bytes]) -> None:
        self.rows = rows
        self.reads = 0


async def read(cache: MemoryCache, flight: SingleFlight, db: Database, key: str) -> bytes | None:
    async def load() -> bytes | None:
        db.reads += 1
        await asyncio.sleep(0.01)  # long enough for a burst to pile up behind it
        return db.rows.get(key)

    return await read_through(cache, flight, key, load, ttl_seconds=60, negative_ttl_seconds=5)


async def test_a_hit_costs_no_read_and_a_burst_of_misses_costs_one() -> None:
    cache, flight, db = MemoryCache(), SingleFlight(), Database({"p:1": b'{"id":1}'})
    results = await asyncio.gather(*(read(cache, flight, db, "p:1") for _ in range(20)))
    assert results == [b'{"id":1}'] * 20
    assert db.reads == 1
    assert await read(cache, flight, db, "p:1") == b'{"id":1}'
    assert db.reads == 1


async def test_not_found_is_cached_briefly() -> None:
    clock = FakeMonotonic()
    cache, flight, db = MemoryCache(clock=clock), SingleFlight(), Database({})
    results = await asyncio.gather(*(read(cache, flight, db, "p:404") for _ in range(20)))
    assert results == [None] * 20
    assert db.reads == 1
    assert await cache.get("p:404") == NOT_FOUND
    clock.now += 4.9
    assert await read(cache, flight, db, "p:404") is None
    assert db.reads == 1
    db.rows["p:404"] = b"created since"
    clock.now += 0.1  # the negative entry has expired: the product is found at once
    assert await read(cache, flight, db, "p:404") == b"created since"
    assert db.reads == 2


async def test_an_empty_value_is_a_value_not_a_miss() -> None:
    cache, flight, db = MemoryCache(), SingleFlight(), Database({"p:e": b""})
    assert await read(cache, flight, db, "p:e") == b""
    assert await read(cache, flight, db, "p:e") == b""
    assert db.reads == 1
