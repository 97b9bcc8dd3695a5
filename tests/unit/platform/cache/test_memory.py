"""The in-process cache: bounded by entries and bytes, least recently used out first, TTL per entry."""

from __future__ import annotations

import pytest

from shelf.platform.cache.memory import ENTRY_OVERHEAD_BYTES, MemoryCache


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


async def test_a_value_is_read_back_until_its_ttl_ends(clock: FakeMonotonic) -> None:
    cache = MemoryCache(clock=clock)
    await cache.set("product:1", b'{"id":1}', ttl_seconds=10)
    clock.now += 9.99
    assert await cache.get("product:1") == b'{"id":1}'
    clock.now += 0.01
    assert await cache.get("product:1") is None
    assert len(cache) == 0  # an expired entry is dropped when found, not kept until evicted
    assert cache.size_bytes == 0


async def test_each_entry_keeps_its_own_ttl(clock: FakeMonotonic) -> None:
    cache = MemoryCache(clock=clock)
    await cache.set("short", b"s", ttl_seconds=1)
    await cache.set("long", b"l", ttl_seconds=60)
    clock.now += 2
    assert await cache.get("short") is None
    assert await cache.get("long") == b"l"


async def test_setting_a_key_again_replaces_value_and_ttl(clock: FakeMonotonic) -> None:
    cache = MemoryCache(clock=clock)
    await cache.set("k", b"old", ttl_seconds=1)
    await cache.set("k", b"new", ttl_seconds=10)
    clock.now += 5
    assert await cache.get("k") == b"new"
    assert len(cache) == 1


async def test_the_least_recently_used_entry_goes_first(clock: FakeMonotonic) -> None:
    cache = MemoryCache(max_entries=3, clock=clock)
    for key in ("a", "b", "c"):
        await cache.set(key, key.encode(), ttl_seconds=60)
    assert await cache.get("a") == b"a"  # now "b" is the least recently used
    await cache.set("d", b"d", ttl_seconds=60)
    assert len(cache) == 3
    assert await cache.get("b") is None
    assert [await cache.get(key) for key in ("a", "c", "d")] == [b"a", b"c", b"d"]
    assert cache.evictions == 1


async def test_memory_is_bounded_by_bytes(clock: FakeMonotonic) -> None:
    entry = 10 + ENTRY_OVERHEAD_BYTES + 1  # one-letter key, ten-byte value
    cache = MemoryCache(max_entries=1000, max_bytes=entry * 3, clock=clock)
    for key in "abcde":
        await cache.set(key, b"0123456789", ttl_seconds=60)
        assert cache.size_bytes <= entry * 3
    assert len(cache) == 3
    value = b"0123456789"
    assert [await cache.get(key) for key in "abcde"] == [None, None, value, value, value]


async def test_a_value_larger_than_the_whole_cache_is_not_kept(clock: FakeMonotonic) -> None:
    cache = MemoryCache(max_bytes=1000, clock=clock)
    await cache.set("small", b"x", ttl_seconds=60)
    await cache.set("huge", b"x" * 1000, ttl_seconds=60)
    assert await cache.get("huge") is None
    assert await cache.get("small") == b"x"  # nothing was evicted for a value that could never fit


async def test_delete_and_zero_ttl(clock: FakeMonotonic) -> None:
    cache = MemoryCache(clock=clock)
    await cache.set("a", b"1", ttl_seconds=60)
    await cache.set("b", b"2", ttl_seconds=60)
    await cache.delete("a", "b", "never-stored")
    assert (await cache.get("a"), await cache.get("b")) == (None, None)
    await cache.set("c", b"3", ttl_seconds=60)
    await cache.set("c", b"4", ttl_seconds=0)  # a non-positive TTL stores nothing, and drops the old value
    assert await cache.get("c") is None
    assert cache.size_bytes == 0


async def test_invalidating_a_namespace_retires_every_key_built_under_it(clock: FakeMonotonic) -> None:
    cache = MemoryCache(clock=clock)
    pages = await cache.scope("catalog:pages")
    assert pages == await cache.scope("catalog:pages")  # stable until invalidated
    other = await cache.scope("identity")
    await cache.set(pages + "q=shoes", b"page 1", ttl_seconds=60)
    await cache.set(pages + "q=hats", b"page 2", ttl_seconds=60)
    await cache.set(other + "x", b"kept", ttl_seconds=60)

    await cache.invalidate("catalog:pages")

    fresh = await cache.scope("catalog:pages")
    assert fresh != pages
    assert await cache.get(fresh + "q=shoes") is None
    assert await cache.get(fresh + "q=hats") is None
    assert await cache.get(await cache.scope("identity") + "x") == b"kept"  # other namespaces untouched


async def test_invalid_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryCache(max_entries=0)
