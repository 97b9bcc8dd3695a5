"""Cross-instance invalidation: a background task that listens on the Redis channel.

Every write publishes the keys it affects (see ``RedisCache.delete_and_publish``); each instance
runs one subscriber that drops those keys from its in-process L1. While the subscriber is not
connected, the instance may miss messages, so the two-level cache stops using its L1 and clears it
on every (re)subscription. A connection that dies silently (a dropped NAT entry, a frozen
proxy) is found by a heartbeat: the subscriber pings every ``heartbeat_seconds`` and reconnects
after twice that long without a word from Redis. Until then the L1 TTL bounds how long stale data
can be served.

Reconnects back off exponentially, from ``initial_backoff`` to ``max_backoff`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from shelf.platform.cache.redis import decode_invalidation

log = structlog.get_logger(__name__)


class InvalidationSubscriber:
    def __init__(
        self,
        client: Redis,
        channel: str,
        *,
        on_keys: Callable[[list[str]], None],
        on_subscribed: Callable[[], None],
        on_lost: Callable[[], None],
        initial_backoff: float = 0.05,
        max_backoff: float = 2.0,
        heartbeat_seconds: float = 5.0,
    ) -> None:
        self.channel = channel
        self.failures = 0  # connections lost or refused
        self.subscriptions = 0  # successful (re)subscriptions
        self._client = client
        self._on_keys = on_keys
        self._on_subscribed = on_subscribed
        self._on_lost = on_lost
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._heartbeat_seconds = heartbeat_seconds
        self._poll_seconds = min(1.0, heartbeat_seconds / 2)
        self._down = False
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, within_seconds: float) -> bool:
        """Whether the subscription is live within ``within_seconds`` (for start-up checks and tests)."""
        try:
            await asyncio.wait_for(self._connected.wait(), within_seconds)
        except TimeoutError:
            return False
        return True

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"cache-invalidations:{self.channel}")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delay = self._initial_backoff
        while True:
            pubsub = self._client.pubsub()
            try:
                await self._subscribe(pubsub)
                delay = self._initial_backoff
                await self._listen(pubsub)
            # Anything, not only RedisError and OSError (TimeoutError is one): whatever went wrong, the
            # L1 is off until a new subscription is live, and giving up would leave it off for good.
            except Exception as error:
                self.failures += 1
                if not self._down:  # one line per outage, not one per attempt
                    self._down = True
                    log.warning(
                        "cache_invalidations_disconnected",
                        error=f"{type(error).__name__}: {error}",
                        max_backoff=self._max_backoff,
                    )
            finally:
                if self._connected.is_set():
                    self._connected.clear()
                    self._on_lost()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)

    async def _subscribe(self, pubsub: PubSub) -> None:
        # Only once Redis confirms is every later message sure to reach us.
        async with asyncio.timeout(2 * self._heartbeat_seconds):
            await pubsub.subscribe(self.channel)
            while True:
                message = await pubsub.get_message(timeout=self._poll_seconds)
                if message is not None and message["type"] == "subscribe":
                    break
        self.subscriptions += 1
        if self._down:
            self._down = False
            log.info("cache_invalidations_reconnected", failures=self.failures)
        self._on_subscribed()  # clears the L1: messages may have been missed while away
        self._connected.set()

    async def _listen(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        heard = pinged = loop.time()
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=self._poll_seconds)
            now = loop.time()
            if message is not None:
                heard = now
                if message["type"] == "message":
                    self._on_keys(decode_invalidation(message["data"]))
            elif now - heard >= 2 * self._heartbeat_seconds:
                raise TimeoutError(f"no word from Redis for {now - heard:.1f} s, not even to a ping")
            if now - max(heard, pinged) >= self._heartbeat_seconds:
                await pubsub.ping()  # answered by a "pong" message, which counts as hearing from Redis
                pinged = now
