"""The event buffer between capture and the database: durable on ``put``, written in batches.

Two implementations behind one interface, chosen by settings (``build_buffer`` in ``service``):

- ``SpooledBuffer`` (default): ``put`` appends the events to the local spool (fsync'd, group
  commit) and queues them in memory; a flusher task writes batches of up to ``flush_max_events``
  every ``flush_interval`` seconds, or as soon as that many are waiting. After a crash the spool
  is replayed on start.
- ``RedisStreamBuffer`` (``redis_buffer``): ``put`` is an XADD; every instance consumes the stream
  in one consumer group.

Either way ``put`` raises ``BufferFull`` (a 503 with ``Retry-After``) rather than drop anything
when more than ``max_events`` are waiting, and ``aclose`` writes out everything it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import orjson
import structlog
from sqlalchemy.engine import make_url

from shelf.analytics.capture import Row
from shelf.analytics.repository import EventWriter
from shelf.analytics.spool import Spool, SpoolError, read_records
from shelf.platform.errors import ServiceUnavailable

log = structlog.get_logger(__name__)

REPLAY_BATCH = 10_000
REPLAY_RETRY_SECONDS = 10.0
SHUTDOWN_GRACE_SECONDS = 20.0


class BufferFull(ServiceUnavailable):
    pass


class EventBuffer(Protocol):
    async def start(self) -> None: ...
    async def put(self, rows: Sequence[Row]) -> None:
        """Return only once the rows cannot be lost; raise ``ServiceUnavailable`` otherwise."""
        ...

    async def flush(self) -> None:
        """Write everything accepted so far to the database (tests and shutdown)."""
        ...

    async def aclose(self) -> None: ...
    @property
    def waiting(self) -> int: ...


def decode_rows(payload: bytes) -> list[Row]:
    return [tuple(row) for row in orjson.loads(payload)]


class SpooledBuffer:
    def __init__(
        self,
        writer: EventWriter,
        spool: Spool,
        *,
        max_events: int,
        flush_max_events: int,
        flush_interval: float,
    ) -> None:
        self._writer = writer
        self._spool = spool
        self._max = max_events
        self._flush_max = flush_max_events
        self._interval = flush_interval
        self._batches: deque[tuple[int, list[Row]]] = deque()
        self._queued = 0  # accepted (or being spooled) and not yet committed
        self._wake = asyncio.Event()
        self._flushed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._urgent = False  # flush() asked: write now, without waiting for a full batch
        self._writing = False
        self._give_up_at = 0.0
        self._replay_due: float | None = None  # when to retry a replay that failed at start
        self.stored = 0  # events committed by this process (new ones; duplicates do not count)
        self.failures = 0

    @property
    def waiting(self) -> int:
        return self._queued

    async def start(self) -> None:
        self._spool.open()
        await self._try_replay()
        self._task = asyncio.get_running_loop().create_task(self._flush_forever(), name="analytics-flusher")

    async def _try_replay(self) -> None:
        """Replay now; if the database is not reachable yet, the flusher tries again later."""
        self._replay_due = None
        try:
            await self.replay_orphans()
        except Exception as error:
            log.warning("analytics_spool_replay_failed", error=str(error)[:300])
            self._replay_due = time.monotonic() + REPLAY_RETRY_SECONDS

    async def replay_orphans(self) -> int:
        """Write the spools of dead processes (this one's earlier life included) to the database."""
        replayed = 0
        for orphan in self._spool.orphans():
            try:
                for segment in orphan.segments():
                    rows: list[Row] = []
                    for record in read_records(segment):
                        rows.extend(decode_rows(record))
                        if len(rows) >= REPLAY_BATCH:
                            replayed += await self._writer.write(rows)
                            rows = []
                    replayed += await self._writer.write(rows)
            except BaseException:
                orphan.release()
                raise
            orphan.discard()
        if replayed:
            log.info("analytics_spool_replayed", events=replayed)
        self.stored += replayed
        return replayed

    async def put(self, rows: Sequence[Row]) -> None:
        if self._closing:
            raise ServiceUnavailable("this server is shutting down; send the events again", retry_after=2)
        if self._queued + len(rows) > self._max:
            raise BufferFull(
                f"the event buffer is full ({self._queued} events waiting for the database); retry shortly",
                retry_after=2,
            )
        self._queued += len(rows)
        try:
            segment = await self._spool.append(orjson.dumps(rows), len(rows))
        except SpoolError as error:
            self._queued -= len(rows)
            raise ServiceUnavailable(f"events cannot be stored right now ({error})", retry_after=5) from None
        except BaseException:
            self._queued -= len(rows)
            raise
        self._batches.append((segment, list(rows)))
        if self._queued >= self._flush_max:
            self._wake.set()

    async def flush(self) -> None:
        async with self._flushed:
            self._urgent = True
            self._wake.set()
            await self._flushed.wait_for(lambda: not self._batches and not self._writing)

    async def _flush_forever(self) -> None:
        backoff = 0.1
        while True:
            if self._replay_due is not None and time.monotonic() > self._replay_due:
                await self._try_replay()
            if not self._batches:
                if self._closing:
                    return
                await self._nap()
                continue
            if self._queued < self._flush_max and not (self._closing or self._urgent):
                await self._nap()  # less than a full batch: give the next requests time to join it
            self._urgent = False
            taken: list[tuple[int, list[Row]]] = []
            rows: list[Row] = []
            while self._batches and (not rows or len(rows) + len(self._batches[0][1]) <= self._flush_max):
                segment, batch = self._batches.popleft()
                taken.append((segment, batch))
                rows.extend(batch)
            self._writing = True
            try:
                self.stored += await self._writer.write(rows)
            except Exception as error:  # the database is away: keep the rows, try again
                self.failures += 1
                log.warning("analytics_flush_failed", events=len(rows), error=str(error)[:300])
                self._batches.extendleft(reversed(taken))
                if self._closing and time.monotonic() > self._give_up_at:
                    log.error(  # noqa: TRY400 - the cause was logged as a warning just above
                        "analytics_flush_abandoned", events=self._queued, kept_in="spool"
                    )
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            finally:
                self._writing = False
            backoff = 0.1
            self._queued -= len(rows)
            for segment, batch in taken:
                self._spool.release(segment, len(batch))
            if not self._batches:
                async with self._flushed:
                    self._flushed.notify_all()

    async def _nap(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._interval)
        self._wake.clear()

    async def aclose(self) -> None:
        """Refuse new events, write every accepted one, then close the spool (kept if need be)."""
        if self._task is None:  # never started
            return
        self._closing = True
        self._give_up_at = time.monotonic() + SHUTDOWN_GRACE_SECONDS
        self._wake.set()
        await self._task
        await self._spool.close()
        log.info("analytics_buffer_closed", stored=self.stored, left_in_spool=self._queued)


def default_spool_directory(database_url: str, backend: str) -> Path:
    """Beside a SQLite file; else one directory per PostgreSQL database under the working directory."""
    url = make_url(database_url)
    if backend == "sqlite" and url.database and url.database != ":memory:":
        return Path(f"{url.database}-analytics-spool")
    name = f"{url.host or 'local'}-{url.port or 5432}-{url.database or 'default'}"
    return Path("shelf-analytics-spool") / name
