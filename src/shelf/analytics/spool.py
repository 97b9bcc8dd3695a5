"""An append-only spool on local disk: what makes a 2xx durable before the database has the events.

Each process appends to segment files ``<instance>-<n>.seg`` in one directory, as records framed
``length (4 bytes) | crc32 (4 bytes) | payload``. Appends are group-committed: requests that
arrive while an ``fdatasync`` is running share the next one, so the cost of a sync is paid once
per group, not once per request. ``append`` returns only after the sync.

Each process holds an exclusive ``flock`` on ``<instance>.lock`` for as long as it lives; the kernel
releases it when the process dies, even by SIGKILL. Segments whose lock nobody holds belong to a
dead process: ``orphans`` hands them over, and whoever adopts them replays them into the database
(storage is idempotent by uuid, so a record replayed twice is stored once) and then deletes them.

A segment is deleted once it is no longer the one being written and every row appended to it has
been committed to the database (``release``). A crash can leave a torn last record; reading stops
there. Such a record was never acknowledged, because acknowledgement waits for the sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from shelf.platform.ids import new_id

log = structlog.get_logger(__name__)

_HEADER = struct.Struct(">II")
SEGMENT_BYTES = 64 * 1024 * 1024


class SpoolError(Exception):
    """The spool could not make an append durable (disk full, I/O error, closed)."""


@dataclass
class _Segment:
    number: int
    path: Path
    fd: int
    size: int = 0


@dataclass
class _Group:
    records: list[bytes] = field(default_factory=list)
    rows: int = 0
    waiters: list[asyncio.Future[int]] = field(default_factory=list)


class Spool:
    def __init__(self, directory: Path, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.instance = new_id().hex
        self._segment_bytes = segment_bytes
        self._lock_fd: int | None = None
        self._segment: _Segment | None = None
        self._pending: dict[int, int] = {}  # segment number -> rows appended, not yet committed
        self._paths: dict[int, Path] = {}
        self._group = _Group()
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self.syncs = 0  # fdatasync calls, for the group-commit test and the benchmark

    # Lifecycle --------------------------------------------------------------------------------

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_path = self.directory / f"{self.instance}.lock"
        self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._writer = asyncio.get_running_loop().create_task(self._write_groups(), name="spool-writer")

    async def close(self) -> None:
        """Finish pending appends; delete what is fully committed; keep the rest for a replay."""
        self._closed = True
        self._wake.set()
        if self._writer is not None:
            await self._writer
        if self._segment is not None:
            os.close(self._segment.fd)
            self._delete_if_done(self._segment.number, current=False)
            self._segment = None
        if self._lock_fd is not None:
            if not any(self._pending.values()):
                with contextlib.suppress(FileNotFoundError):
                    (self.directory / f"{self.instance}.lock").unlink()
            os.close(self._lock_fd)
            self._lock_fd = None
        with contextlib.suppress(OSError):
            self.directory.rmdir()  # only if nothing is left in it

    # Appending --------------------------------------------------------------------------------

    async def append(self, payload: bytes, rows: int) -> int:
        """Write one record durably; return the number of the segment that holds it."""
        if self._closed or self._writer is None:
            raise SpoolError("the spool is closed")
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        group = self._group
        group.records.append(_HEADER.pack(len(payload), zlib.crc32(payload)) + payload)
        group.rows += rows
        group.waiters.append(waiter)
        self._wake.set()
        return await waiter

    async def _write_groups(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            group, self._group = self._group, _Group()
            if group.waiters:
                try:
                    number = await asyncio.to_thread(self._write, b"".join(group.records))
                except OSError as error:
                    log.exception("analytics_spool_write_failed", error=str(error))
                    for waiter in group.waiters:
                        if not waiter.done():
                            waiter.set_exception(SpoolError(f"cannot write the spool: {error}"))
                else:
                    self._pending[number] = self._pending.get(number, 0) + group.rows
                    for waiter in group.waiters:
                        if not waiter.done():
                            waiter.set_result(number)
            if self._closed and not self._group.waiters:
                return

    def _write(self, data: bytes) -> int:
        segment = self._segment
        if segment is None or (segment.size and segment.size + len(data) > self._segment_bytes):
            segment = self._rotate()
        view = memoryview(data)
        while view:
            written = os.write(segment.fd, view)
            view = view[written:]
        os.fdatasync(segment.fd)
        self.syncs += 1
        segment.size += len(data)
        return segment.number

    def _rotate(self) -> _Segment:
        previous = self._segment
        number = previous.number + 1 if previous else 1
        path = self.directory / f"{self.instance}-{number:08d}.seg"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _sync_directory(self.directory)  # the new file's name must survive a crash too
        self._segment = _Segment(number, path, fd)
        self._paths[number] = path
        if previous is not None:
            os.close(previous.fd)
            self._delete_if_done(previous.number, current=False)
        return self._segment

    # Committed ----------------------------------------------------------------------------------

    def release(self, number: int, rows: int) -> None:
        """``rows`` appended to segment ``number`` are now in the database."""
        self._pending[number] -= rows
        current = self._segment is not None and self._segment.number == number
        self._delete_if_done(number, current=current)

    def _delete_if_done(self, number: int, *, current: bool) -> None:
        if current or self._pending.get(number, 0) > 0:
            return
        self._pending.pop(number, None)
        path = self._paths.pop(number, None)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @property
    def pending_rows(self) -> int:
        return sum(self._pending.values())

    # Orphans of dead processes ----------------------------------------------------------------

    def orphans(self) -> Iterator[Orphan]:
        """Spools of processes that are gone, each locked for the caller while it is replayed."""
        instances = {path.name.split("-", 1)[0] for path in self.directory.glob("*.seg")}
        instances |= {path.stem for path in self.directory.glob("*.lock")}
        for instance in sorted(instances - {self.instance}):
            lock_path = self.directory / f"{instance}.lock"
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # its process is alive
                continue
            yield Orphan(self.directory, instance, lock_path, fd)


@dataclass
class Orphan:
    directory: Path
    instance: str
    lock_path: Path
    lock_fd: int

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob(f"{self.instance}-*.seg"))

    def discard(self) -> None:
        """Everything was replayed and committed: remove the segments and the lock."""
        for path in self.segments():
            path.unlink()
        with contextlib.suppress(FileNotFoundError):
            self.lock_path.unlink()
        os.close(self.lock_fd)

    def release(self) -> None:
        """Replay failed: leave everything for a later attempt."""
        os.close(self.lock_fd)


def read_records(path: Path) -> Iterator[bytes]:
    """Every whole record of a segment, stopping at a torn or corrupt tail."""
    data = path.read_bytes()
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, checksum = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        payload = data[start : start + length]
        if len(payload) < length or zlib.crc32(payload) != checksum:
            log.warning("analytics_spool_torn_record", segment=path.name, offset=offset)
            return
        yield payload
        offset = start + length


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
