"""Coalesce concurrent loads of one key: a burst of N misses for a product costs one database read.

The first caller starts the loader as a task; later callers for the same key wait for that task.
Every waiter gets the same result or the same exception. A waiter that is cancelled stops waiting
without disturbing the others; when the last waiter is gone the load itself is cancelled. The key
is forgotten as soon as the load ends, however it ends, so the next miss loads afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class _Flight:
    task: asyncio.Task[Any]
    waiters: int = 0


class SingleFlight:
    def __init__(self) -> None:
        self._flights: dict[str, _Flight] = {}
        self.loads = 0  # loaders actually started
        self.shared = 0  # callers that joined a load already in flight

    def __len__(self) -> int:
        """Loads in flight now (0 once every burst is over)."""
        return len(self._flights)

    async def run(self, key: str, loader: Callable[[], Awaitable[T]]) -> T:
        flight = self._flights.get(key)
        if flight is None:
            flight = _Flight(asyncio.ensure_future(loader()))
            self._flights[key] = flight
            self.loads += 1
            flight.task.add_done_callback(lambda task: self._landed(key, task))
        else:
            self.shared += 1
        flight.waiters += 1
        try:
            result: T = await asyncio.shield(flight.task)
        except asyncio.CancelledError:
            if flight.waiters == 1 and not flight.task.done():
                # Nobody wants the result any more. Forget the flight now, so that a caller arriving
                # before the cancellation completes starts a load of its own instead of joining this one.
                flight.task.cancel()
                if self._flights.get(key) is flight:
                    del self._flights[key]
            raise
        finally:
            flight.waiters -= 1
        return result

    def _landed(self, key: str, task: asyncio.Task[Any]) -> None:
        flight = self._flights.get(key)
        if flight is not None and flight.task is task:  # not a newer flight for the same key
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved here too, so an unawaited failure is not reported as lost
