"""The one interface every cache implements, and the null cache used when caching is switched off.

Values are bytes (pre-serialised responses), so a hit can be sent as it is. Keys are strings the
caller builds; whole groups of keys (every list page of the catalog, say) live under a *namespace*
whose current token is part of each key, so one ``invalidate(namespace)`` retires all of them at
once without scanning anything: the old keys are simply never asked for again and expire.
"""

from __future__ import annotations

from typing import Protocol


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or None on a miss (or when the backend is unavailable)."""
        ...

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        """Store ``value`` for at most ``ttl_seconds``; a failure to store is silent."""
        ...

    async def delete(self, *keys: str) -> None:
        """Forget ``keys`` here and, for shared caches, in every other instance too."""
        ...

    async def scope(self, namespace: str) -> str:
        """The prefix for keys under ``namespace`` now: ``namespace:<token>:``.

        Build keys as ``await cache.scope("catalog:pages") + "..."``; the prefix changes whenever the
        namespace is invalidated.
        """
        ...

    async def invalidate(self, namespace: str) -> None:
        """Retire every key built from an earlier ``scope(namespace)``, in every instance."""
        ...

    async def start(self) -> None:
        """Start background work (the invalidation subscriber); called from the app lifespan."""
        ...

    async def aclose(self) -> None: ...


def scoped(namespace: str, token: str) -> str:
    return f"{namespace}:{token}:"


def namespace_key(namespace: str) -> str:
    """Where a namespace's current token is stored; the ``ns|`` prefix keeps it apart from user keys."""
    return f"ns|{namespace}"


class NullCache:
    """Caching switched off: every read is a miss and every write is a no-op."""

    async def get(self, key: str) -> bytes | None:
        return None

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        return None

    async def delete(self, *keys: str) -> None:
        return None

    async def scope(self, namespace: str) -> str:
        return scoped(namespace, "0")

    async def invalidate(self, namespace: str) -> None:
        return None

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
