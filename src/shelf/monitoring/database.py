"""Database pool metrics: connections open, checked out, and the most the pool may open."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from shelf.monitoring import metrics


class PoolMetrics:
    """Keeps the ``shelf_db_pool_*`` gauges current from the pool's own events.

    Events rather than reading the pool at scrape time, because in multiprocess mode a scrape only
    reads what the workers wrote down (prometheus-client cannot call into other processes).
    """

    _EVENTS = ("connect", "close", "close_detached", "checkout", "checkin")

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.sync_engine
        pool = self._engine.pool
        self.max_connections = (
            pool.size() + max(int(getattr(pool, "_max_overflow", 0)), 0) if isinstance(pool, QueuePool) else 1
        )
        self._handlers = {
            "connect": self._opened,
            "close": self._closed,
            "close_detached": self._closed,
            "checkout": self._checked_out,
            "checkin": self._checked_in,
        }
        for name, handler in self._handlers.items():
            event.listen(self._engine, name, handler)
        metrics.DB_POOL_MAX.inc(self.max_connections)

    def close(self) -> None:
        """Stop counting (after the engine was disposed of: its connections are closed and counted)."""
        for name, handler in self._handlers.items():
            if event.contains(self._engine, name, handler):
                event.remove(self._engine, name, handler)
        metrics.DB_POOL_MAX.dec(self.max_connections)

    @staticmethod
    def _opened(*_args: Any) -> None:
        metrics.DB_POOL_OPEN.inc()

    @staticmethod
    def _closed(*_args: Any) -> None:
        metrics.DB_POOL_OPEN.dec()

    @staticmethod
    def _checked_out(*_args: Any) -> None:
        metrics.DB_POOL_IN_USE.inc()

    @staticmethod
    def _checked_in(*_args: Any) -> None:
        metrics.DB_POOL_IN_USE.dec()
