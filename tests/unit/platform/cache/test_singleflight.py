"""Single-flight: concurrent misses for one key share one load, its result and its failure."""

from __future__ import annotations

import asyncio

import pytest

from shelf.platform.cache.singleflight import SingleFlight


class Loader:
    """Counts calls and holds each one until the test releases it."""

    def __init__(self, result: bytes = b"value", error: Exception | None = None) -> None:
        self.calls = 0
        self.cancelled = 0
        self.release = asyncio.Event()
        self._result = result
        self._error = error

    async def __call__(self) -> bytes:
        self.calls += 1
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self._error is not None:
            raise self._error
        return self._result


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_burst_of_misses_runs_the_loader_once() -> None:
    flight = SingleFlight()
    loader = Loader(b"product 7")
    callers = [asyncio.create_task(flight.run("product:7", loader)) for _ in range(50)]
    await settle()
    assert len(flight) == 1
    loader.release.set()
    assert await asyncio.gather(*callers) == [b"product 7"] * 50
    assert loader.calls == 1
    assert (flight.loads, flight.shared) == (1, 49)
    assert len(flight) == 0  # nothing kept once the burst is over


async def test_different_keys_load_independently() -> None:
    flight = SingleFlight()
    first, second = Loader(b"1"), Loader(b"2")
    one = asyncio.create_task(flight.run("a", first))
    two = asyncio.create_task(flight.run("b", second))
    await settle()
    first.release.set()
    second.release.set()
    assert await asyncio.gather(one, two) == [b"1", b"2"]
    assert (first.calls, second.calls) == (1, 1)


async def test_a_later_miss_loads_afresh() -> None:
    flight = SingleFlight()
    loader = Loader()
    loader.release.set()
    await flight.run("k", loader)
    await flight.run("k", loader)
    assert loader.calls == 2  # single-flight coalesces concurrent loads; it is not a cache


async def test_a_failure_reaches_every_waiter_and_is_not_remembered() -> None:
    flight = SingleFlight()
    loader = Loader(error=LookupError("database said no"))
    callers = [asyncio.create_task(flight.run("k", loader)) for _ in range(5)]
    await settle()
    loader.release.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(result, LookupError) for result in results)
    assert loader.calls == 1
    assert len(flight) == 0
    retry = Loader(b"ok")
    retry.release.set()
    assert await flight.run("k", retry) == b"ok"


async def test_one_cancelled_waiter_does_not_disturb_the_others() -> None:
    flight = SingleFlight()
    loader = Loader(b"v")
    leader = asyncio.create_task(flight.run("k", loader))
    follower = asyncio.create_task(flight.run("k", loader))
    await settle()
    leader.cancel()
    await settle()
    assert leader.cancelled()
    assert loader.cancelled == 0  # someone still wants the result
    loader.release.set()
    assert await follower == b"v"
    assert len(flight) == 0


async def test_when_every_waiter_is_cancelled_the_load_is_cancelled_and_forgotten() -> None:
    flight = SingleFlight()
    loader = Loader()
    callers = [asyncio.create_task(flight.run("k", loader)) for _ in range(3)]
    await settle()
    for caller in callers:
        caller.cancel()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(result, asyncio.CancelledError) for result in results)
    await settle()
    assert loader.cancelled == 1
    assert len(flight) == 0
    again = Loader(b"fresh")
    again.release.set()
    assert await flight.run("k", again) == b"fresh"


async def test_a_loader_that_fails_at_once_is_cleaned_up() -> None:
    flight = SingleFlight()

    async def broken() -> bytes:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await flight.run("k", broken)
    assert len(flight) == 0


class SlowToCancel(Loader):
    """A load whose clean-up takes a while once cancelled (closing a connection, say)."""

    finished = False

    async def __call__(self) -> bytes:
        try:
            return await super().__call__()
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)
            raise
        finally:
            self.finished = True


async def test_a_caller_arriving_as_the_last_waiter_leaves_gets_a_load_of_its_own() -> None:
    flight = SingleFlight()
    abandoned = SlowToCancel()
    leaver = asyncio.create_task(flight.run("k", abandoned))
    await settle()
    leaver.cancel()
    await asyncio.gather(leaver, return_exceptions=True)
    fresh = Loader(b"mine")
    newcomer = asyncio.create_task(flight.run("k", fresh))
    await settle()
    assert not abandoned.finished  # the abandoned load is still winding down
    fresh.release.set()
    assert await newcomer == b"mine"
    assert (abandoned.calls, fresh.calls) == (1, 1)
    await asyncio.sleep(0.1)
    assert abandoned.finished
    assert len(flight) == 0
