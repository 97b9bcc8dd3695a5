"""The spool: durable appends with group commit, torn tails, segment deletion and orphans."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from shelf.analytics.spool import Spool, read_records


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


def exists(path: Path) -> bool:
    return path.exists()


def files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


async def test_concurrent_appends_share_one_fsync(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.open()
    numbers = await asyncio.gather(*(spool.append(f"record {i}".encode(), 1) for i in range(50)))
    assert set(numbers) == {1}
    assert spool.syncs == 1  # all fifty were waiting when the writer woke: one fdatasync for all
    (segment,) = segments(tmp_path)
    assert list(read_records(segment)) == [f"record {i}".encode() for i in range(50)]
    await spool.close()


async def test_a_torn_tail_is_ignored(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.open()
    await spool.append(b"whole", 1)
    (segment,) = segments(tmp_path)
    with segment.open("ab") as file:
        file.write(b"\x00\x00\x00\x10\x12\x34")  # a header promising 16 bytes that never came
    assert list(read_records(segment)) == [b"whole"]
    corrupt = bytearray(segment.read_bytes())
    corrupt[9] ^= 0xFF  # flip a bit of the first payload: its checksum no longer matches
    segment.write_bytes(bytes(corrupt))
    assert list(read_records(segment)) == []
    spool.release(1, 1)
    await spool.close()


async def test_segments_go_once_rotated_and_committed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=64)
    spool.open()
    first = await spool.append(b"x" * 60, 3)
    second = await spool.append(b"y" * 60, 2)  # does not fit: a new segment
    assert (first, second) == (1, 2)
    assert len(segments(tmp_path)) == 2
    spool.release(first, 2)
    assert len(segments(tmp_path)) == 2  # one row of it is not in the database yet
    spool.release(first, 1)
    assert len(segments(tmp_path)) == 1
    spool.release(second, 2)
    assert len(segments(tmp_path)) == 1  # the current segment stays while open
    await spool.close()
    assert not exists(tmp_path)  # all committed: no segment, no lock, not even the directory


async def test_uncommitted_segments_survive_close_and_become_orphans(tmp_path: Path) -> None:
    crashed = Spool(tmp_path)
    crashed.open()
    await crashed.append(b"acknowledged", 1)
    alive = Spool(tmp_path)
    alive.open()
    await alive.append(b"alive", 1)
    assert [orphan.instance for orphan in alive.orphans()] == []  # crashed still holds its lock
    assert crashed._lock_fd is not None
    os.close(crashed._lock_fd)  # what the kernel does when the process dies
    crashed._lock_fd = None
    (orphan,) = alive.orphans()
    assert orphan.instance == crashed.instance
    assert [list(read_records(path)) for path in orphan.segments()] == [[b"acknowledged"]]
    orphan.discard()
    assert [name.split("-")[0].split(".")[0] for name in files(tmp_path)] == [alive.instance] * 2
    alive.release(1, 1)
    await alive.close()
