"""``build_cache`` chooses the backend from settings, and connects to nothing while doing so."""

from __future__ import annotations

from shelf.platform.cache import MemoryCache, NullCache, TwoLevelCache, build_cache
from shelf.platform.cache.redis import decode_invalidation, encode_invalidation
from shelf.settings import Settings


async def test_memory_by_default_with_its_bounds_from_settings() -> None:
    cache = build_cache(Settings(env="test", cache_max_entries=123, cache_max_bytes=1024 * 1024))
    assert isinstance(cache, MemoryCache)
    assert (cache.max_entries, cache.max_bytes) == (123, 1024 * 1024)


async def test_two_level_when_redis_is_configured_without_connecting() -> None:
    settings = Settings(
        env="test",
        redis_url="redis://127.0.0.1:1/0",  # nothing listens there: any connection attempt would fail
        cache_redis_prefix="p:",
        cache_local_ttl_seconds=2,
        cache_local_max_entries=7,
    )
    cache = build_cache(settings)
    assert isinstance(cache, TwoLevelCache)
    assert cache.local_ttl_seconds == 2
    assert cache.local.max_entries == 7
    assert cache.shared.channel == "p:invalidations"
    assert cache.failures == 0
    assert not cache.subscriber.connected
    await cache.aclose()


async def test_caching_can_be_switched_off() -> None:
    cache = build_cache(Settings(env="test", cache_enabled=False))
    assert isinstance(cache, NullCache)
    await cache.set("k", b"v", 60)
    assert await cache.get("k") is None


def test_invalidation_messages_round_trip_and_garbage_names_nothing() -> None:
    assert decode_invalidation(encode_invalidation(["a", "ns|catalog"])) == ["a", "ns|catalog"]
    assert decode_invalidation(b"not json") == []
    assert decode_invalidation(b'{"a": 1}') == []
    assert decode_invalidation(b'["a", 1]') == ["a"]
