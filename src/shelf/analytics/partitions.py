"""Monthly partitions of ``analytics_events`` on PostgreSQL, created ahead of time and on demand.

A partition is named ``analytics_events_yYYYYmMM`` and holds ``[first ms of the month, first ms
of the next)``. The writer asks for the months of every batch before inserting it; months already
known cost a set lookup. Creation takes a transaction-scoped advisory lock, so that instances
starting together do not race on the catalog, and uses ``IF NOT EXISTS``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shelf.analytics.models import MS_PER_DAY

PARENT = "analytics_events"
_NAME = re.compile(r"^analytics_events_y(\d{4})m(\d{2})$")
_LOCK_KEY = 0x5E1F_A7A1  # any constant: one advisory lock for partition DDL
EPOCH = date(1970, 1, 1)
AHEAD_MONTHS = 2  # besides the current month


def month_of_day(day: int) -> int:
    """A month as ``year * 12 + month - 1``, from a day number since the epoch."""
    moment = EPOCH + timedelta(days=day)
    return moment.year * 12 + moment.month - 1


def month_bounds_ms(month: int) -> tuple[int, int]:
    year, index = divmod(month, 12)
    start = datetime(year, index + 1, 1, tzinfo=UTC)
    next_year, next_index = divmod(month + 1, 12)
    end = datetime(next_year, next_index + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def partition_name(month: int) -> str:
    year, index = divmod(month, 12)
    return f"{PARENT}_y{year:04d}m{index + 1:02d}"


def months_of(timestamps_ms: Iterable[int]) -> set[int]:
    return {month_of_day(day) for day in {ms // MS_PER_DAY for ms in timestamps_ms}}


class Partitions:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._known: set[int] | None = None
        self._lock = asyncio.Lock()

    async def ensure(self, months: set[int]) -> None:
        if self._known is not None and months <= self._known:
            return
        async with self._lock:
            if self._known is None:
                self._known = await self._existing()
            missing = sorted(months - self._known)
            if not missing:
                return
            async with self._engine.begin() as connection:
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
                for month in missing:
                    low, high = month_bounds_ms(month)
                    await connection.execute(
                        text(
                            f"CREATE TABLE IF NOT EXISTS {partition_name(month)} "
                            f"PARTITION OF {PARENT} FOR VALUES FROM ({low}) TO ({high})"
                        )
                    )
            self._known |= set(missing)

    async def ensure_ahead(self, now: datetime) -> None:
        """The current month and the next ones, so that inserts rarely wait for DDL."""
        current = now.year * 12 + now.month - 1
        await self.ensure({current + offset for offset in range(AHEAD_MONTHS + 1)})

    async def _existing(self) -> set[int]:
        async with self._engine.connect() as connection:
            names = await connection.scalars(
                text(
                    "SELECT child.relname FROM pg_inherits"
                    " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
                    " JOIN pg_class parent ON parent.oid = pg_inherits.inhparent"
                    " WHERE parent.relname = :parent"
                ),
                {"parent": PARENT},
            )
            months = set()
            for name in names:
                match = _NAME.match(name)
                if match:
                    months.add(int(match[1]) * 12 + int(match[2]) - 1)
            return months

    def forget(self) -> None:
        """After an insert found a partition missing (dropped behind our back): look again."""
        self._known = None
