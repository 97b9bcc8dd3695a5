"""The event buffer in a Redis stream, consumed by every Shelf instance in one consumer group.

``put`` is one MULTI/EXEC: XADD of the whole request's events as one entry, and INCRBY of a
counter of waiting events (for the 503 bound). Each instance runs a consumer (its own name, in the
group ``shelf``) that reads entries, writes their events to the database, and only after the
commit acknowledges them (XACK), deletes them (XDEL) and decrements the counter, again in one
MULTI. An instance that dies holding entries leaves them pending; any other instance claims
entries idle longer than ``claim_idle_seconds`` (XAUTOCLAIM) and writes them. Writes are
idempotent by uuid, so an entry written twice (a crash between commit and XACK) is stored once.

Durability is Redis's: a 2xx means XADD was acknowledged. With ``appendonly yes`` and
``appendfsync always`` that is on disk; with the RDB-only or no-persistence setups common in
development (and on the machine this was built on, which runs ``--save "" --appendonly no``),
events that are still in the stream are lost if Redis itself restarts. Shelf logs
``analytics_redis_not_durable`` at start when Redis reports AOF off (ADR 0010).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

import orjson
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from shelf.analytics.buffer import BufferFull, decode_rows
from shelf.analytics.capture import Row
from shelf.analytics.repository import EventWriter
from shelf.platform.errors import ServiceUnavailable
from shelf.platform.ids import new_id

log = structlog.get_logger(__name__)

GROUP = "shelf"
FIELD = b"e"
READ_COUNT = 100  # entries per read; each holds one request's events
DRAIN_SECONDS = 10.0


class RedisStreamBuffer:
    def __init__(
        self,
        client: Redis,
        writer: EventWriter,
        *,
        stream: str,
        max_events: int,
        claim_idle_seconds: float,
        block_ms: int = 500,
    ) -> None:
        self._client = client
        self._writer = writer
        self._stream = stream
        self._counter = f"{stream}:waiting"
        self._max = max_events
        self._claim_idle_ms = int(claim_idle_seconds * 1000)
        self._block_ms = block_ms
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{new_id().hex[-8:]}"
        self._waiting = 0  # events in the stream, as last seen
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._last_claim = 0.0
        self._prepared = False
        self._unwritten: list[tuple[bytes, dict[bytes, bytes]]] = []
        self.stored = 0
        self.failures = 0

    @property
    def waiting(self) -> int:
        return self._waiting

    async def start(self) -> None:
        """Start consuming. A Redis that is away now is not fatal: the consumer keeps trying."""
        try:
            await self._prepare()
        except RedisError as error:
            log.warning("analytics_stream_unavailable", error=str(error)[:300])
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._consume_forever(), name="analytics-consumer")

    async def _prepare(self) -> None:
        try:
            await self._client.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._prepared = True
        persistence = await self._client.info("persistence")
        if not int(persistence.get("aof_enabled", 0)):
            log.warning(
                "analytics_redis_not_durable",
                detail="Redis has AOF off: acknowledged events still in the stream are lost if Redis "
                "restarts; run it with appendonly yes and appendfsync always to close that window",
            )

    async def put(self, rows: Sequence[Row]) -> None:
        if self._closing:
            raise ServiceUnavailable("this server is shutting down; send the events again", retry_after=2)
        if self._waiting + len(rows) > self._max:
            raise BufferFull(
                f"the event stream is full ({self._waiting} events waiting for the database); retry shortly",
                retry_after=2,
            )
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.xadd(self._stream, {FIELD: orjson.dumps(rows)})
                pipe.incrby(self._counter, len(rows))
                _, waiting = await pipe.execute()
        except RedisError as error:
            raise ServiceUnavailable(f"the event stream is unavailable ({error})", retry_after=5) from None
        self._waiting = int(waiting)

    async def flush(self) -> None:
        """Until the stream is empty (whoever consumed it)."""
        while int(await self._client.get(self._counter) or 0) > 0:  # noqa: ASYNC110 - a count in Redis
            await asyncio.sleep(0.02)

    async def _consume_forever(self) -> None:
        backoff = 0.1
        deadline: float | None = None
        while True:
            if self._closing and deadline is None:
                deadline = time.monotonic() + DRAIN_SECONDS
            try:
                if not self._prepared:
                    await self._prepare()
                # Entries this consumer took and could not write yet come first: they are pending
                # under its name, and nobody else claims them before claim_idle_seconds.
                entries, self._unwritten = self._unwritten or await self._read(), []
                if time.monotonic() - self._last_claim > max(self._claim_idle_ms / 4000, 1):
                    entries += await self._claim()
                if entries:
                    self._unwritten = entries
                    await self._write_and_ack(entries)
                    self._unwritten = []
                self._waiting = int(await self._client.get(self._counter) or 0)
                backoff = 0.1
                if deadline is not None and (not entries or time.monotonic() > deadline):
                    return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Redis or the database is away: nothing is acked, so nothing is lost
                self.failures += 1
                log.warning("analytics_consume_failed", error=str(error)[:300])
                if deadline is not None and time.monotonic() > deadline:
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _read(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        block = 50 if self._closing else self._block_ms
        response: Any = await self._client.xreadgroup(
            GROUP, self.consumer, {self._stream: ">"}, count=READ_COUNT, block=block
        )
        return [entry for _, entries in response or [] for entry in entries]

    async def _claim(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Entries another consumer took and did not acknowledge in time: it is probably dead."""
        self._last_claim = time.monotonic()
        claimed: list[Any] = []
        start = "0-0"
        while True:
            response = await self._client.xautoclaim(
                self._stream, GROUP, self.consumer, self._claim_idle_ms, start_id=start, count=READ_COUNT
            )
            start, entries = response[0], response[1]
            claimed.extend(entry for entry in entries if entry and entry[1])
            if start in (b"0-0", "0-0") or len(claimed) >= READ_COUNT * 10:
                break
        if claimed:
            log.info("analytics_entries_claimed", entries=len(claimed), consumer=self.consumer)
        return claimed

    async def _write_and_ack(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        rows: list[Row] = []
        for _, fields in entries:
            rows.extend(decode_rows(fields[FIELD]))
        self.stored += await self._writer.write(rows)
        ids = [entry_id for entry_id, _ in entries]
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xack(self._stream, GROUP, *ids)
            pipe.xdel(self._stream, *ids)
            pipe.decrby(self._counter, len(rows))
            await pipe.execute()

    async def aclose(self) -> None:
        """Stop taking events, drain what the stream holds (up to 10 s), then let go."""
        self._closing = True
        if self._task is not None:
            await self._task
        await self._client.aclose()
        log.info("analytics_buffer_closed", stored=self.stored)
