"""The read side of analytics: trends, active users, funnels, retention and top products.

Plain SQL that runs unchanged on SQLite and PostgreSQL (integer times make bucketing arithmetic);
only the JSON property lookup differs. Reads use the rollups where they can:

- per-day counts and distinct users (trends by day, week or month; active users; retention) come
  from ``analytics_user_days``, one row per event, UTC day and person;
- views and add-to-cart per product come from ``analytics_product_days``;
- trends by hour or with a property breakdown, and funnels (which need each event's exact time),
  read ``analytics_events`` through its (event, time, person) index, and on
  PostgreSQL only the monthly partitions the range touches.

Definitions (also in docs/analytics.md):

- Week buckets are ISO weeks (Monday 00:00 UTC); month buckets are calendar months in UTC. A day,
  week or month series covers whole periods: the range is widened to period boundaries.
- Funnel: the range is widened to whole UTC days; a person enters at their first ``steps[0]``
  event in it; step k counts if they did ``steps[k]`` strictly after their step k-1 event and
  within ``window`` of entering (the first such event is taken). Conversion is against those who
  entered.
- Retention: a person's cohort is the period of their first ``start_event`` ever; they count as
  returned in period k (k >= 1) if they did ``return_event`` during the k-th period after it.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shelf.analytics.models import MS_PER_DAY
from shelf.analytics.partitions import EPOCH, month_of_day
from shelf.analytics.schemas import (
    ActiveUsers,
    ActiveUsersPoint,
    Breakdown,
    Cohort,
    Funnel,
    FunnelStep,
    Interval,
    Period,
    ProductStat,
    Retention,
    TopProducts,
    TrendPoint,
    Trends,
)
from shelf.platform.errors import InvalidInput

MS_PER_HOUR = 3_600_000
MAX_BUCKETS = 2_000
WORK_MEM = "64MB"
MONDAY_OFFSET = 4  # day 4 since the epoch (1970-01-05) is a Monday


def ms_of(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def datetime_of_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def datetime_of_day(day: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)


def first_day_of_month(month: int) -> int:
    year, index = divmod(month, 12)
    return (datetime(year, index + 1, 1, tzinfo=UTC).date() - EPOCH).days


@dataclass(frozen=True)
class Buckets:
    """The buckets of a series: their keys in SQL terms and their start times."""

    interval: Interval
    keys: list[int]
    starts: list[datetime]
    low_ms: int  # the widened range
    high_ms: int
    low_day: int
    high_day: int
    month_edges: list[int]  # first day of each month bucket, plus the end (month interval only)

    @classmethod
    def cover(cls, interval: Interval, start_ms: int, end_ms: int) -> Buckets:
        if end_ms <= start_ms:
            raise InvalidInput("'to' must be after 'from'", [{"field": "to", "message": "not after 'from'"}])
        if interval == "hour":
            low, high = start_ms // MS_PER_HOUR, -(-end_ms // MS_PER_HOUR)
            keys = list(range(low, high))
            starts = [datetime_of_ms(key * MS_PER_HOUR) for key in keys]
            return cls._checked(
                interval, keys, starts, low=low * MS_PER_HOUR, high=high * MS_PER_HOUR, edges=[]
            )
        low_day, high_day = start_ms // MS_PER_DAY, -(-end_ms // MS_PER_DAY)
        edges: list[int] = []
        if interval == "day":
            keys = list(range(low_day, high_day))
            starts = [datetime_of_day(day) for day in keys]
        elif interval == "week":
            first, last = (low_day - MONDAY_OFFSET) // 7, -(-(high_day - MONDAY_OFFSET) // 7)
            keys = list(range(first, last))
            starts = [datetime_of_day(key * 7 + MONDAY_OFFSET) for key in keys]
            low_day, high_day = first * 7 + MONDAY_OFFSET, last * 7 + MONDAY_OFFSET
        else:
            first_month = month_of_day(low_day)
            last_month = month_of_day(high_day - 1) + 1
            keys = list(range(first_month, last_month))
            edges = [first_day_of_month(month) for month in range(first_month, last_month + 1)]
            starts = [datetime_of_day(day) for day in edges[:-1]]
            low_day, high_day = edges[0], edges[-1]
        return cls._checked(
            interval, keys, starts, low=low_day * MS_PER_DAY, high=high_day * MS_PER_DAY, edges=edges
        )

    @classmethod
    def _checked(
        cls,
        interval: Interval,
        keys: list[int],
        starts: list[datetime],
        *,
        low: int,
        high: int,
        edges: list[int],
    ) -> Buckets:
        if len(keys) > MAX_BUCKETS:
            raise InvalidInput(
                f"that range holds {len(keys)} {interval}s; at most {MAX_BUCKETS}: use a longer interval",
                [{"field": "interval", "message": "too many buckets for the range"}],
            )
        return cls(interval, keys, starts, low, high, low // MS_PER_DAY, -(-high // MS_PER_DAY), edges)

    def sql(self, column: str, unit: str) -> str:
        """The bucket key of ``column``, which holds ``unit`` ("ms" or "day") values."""
        day = f"{column} / {MS_PER_DAY}" if unit == "ms" else column
        if self.interval == "hour":
            return f"{column} / {MS_PER_HOUR}"
        if self.interval == "day":
            return day
        if self.interval == "week":
            return f"(({day}) - {MONDAY_OFFSET}) / 7"
        cases = " ".join(
            f"WHEN {day} < {edge} THEN {key}"
            for key, edge in zip(self.keys, self.month_edges[1:], strict=True)
        )
        return f"CASE {cases} END"

    def series(self, totals: dict[int, tuple[int, int]]) -> list[TrendPoint]:
        return [
            TrendPoint(start=start, count=totals.get(key, (0, 0))[0], unique_users=totals.get(key, (0, 0))[1])
            for key, start in zip(self.keys, self.starts, strict=True)
        ]


class AnalyticsReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    async def _rows(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
        async with self._engine.connect() as connection:
            if self._postgres:
                # These queries hash and sort hundreds of thousands of people: with PostgreSQL's
                # default 4 MB they spill to disk. For this transaction only.
                await connection.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
            return (await connection.execute(text(sql), params)).all()

    def _property(self, name: str) -> tuple[str, str]:
        """SQL for one top-level property as text, and the parameter it needs."""
        if self._postgres:
            return "properties ->> :prop", name
        return "json_extract(properties, :prop)", '$."' + name.replace('"', '\\"') + '"'

    # Trends -------------------------------------------------------------------------------------

    async def trends(
        self,
        event: str,
        interval: Interval,
        *,
        start_ms: int,
        end_ms: int,
        breakdown: str | None = None,
        limit: int = 10,
    ) -> Trends:
        buckets = Buckets.cover(interval, start_ms, end_ms)
        if breakdown is None and interval == "day":
            rows = await self._rows(
                "SELECT day, SUM(events), COUNT(*) FROM analytics_user_days"
                " WHERE event = :event AND day >= :low AND day < :high GROUP BY 1",
                {"event": event, "low": buckets.low_day, "high": buckets.high_day},
            )
        elif breakdown is None and interval != "hour":
            # (COUNT(DISTINCT) sorts; hashing a million (bucket, person) groups was twice as slow.)
            rows = await self._rows(
                f"SELECT {buckets.sql('day', 'day')} AS b, SUM(events), COUNT(DISTINCT person)"  # noqa: S608 - built from integers
                " FROM analytics_user_days WHERE event = :event AND day >= :low AND day < :high GROUP BY 1",
                {"event": event, "low": buckets.low_day, "high": buckets.high_day},
            )
        else:
            rows = await self._rows(
                f"SELECT {buckets.sql('timestamp_ms', 'ms')} AS b, COUNT(*), COUNT(DISTINCT person)"  # noqa: S608
                " FROM analytics_events"
                " WHERE event = :event AND timestamp_ms >= :low AND timestamp_ms < :high GROUP BY 1",
                {"event": event, "low": buckets.low_ms, "high": buckets.high_ms},
            )
        result = Trends(
            event=event,
            interval=interval,
            start=datetime_of_ms(buckets.low_ms),
            end=datetime_of_ms(buckets.high_ms),
            series=buckets.series({int(b): (int(c), int(u)) for b, c, u in rows}),
        )
        if breakdown is not None:
            result.breakdown = breakdown
            result.breakdowns = await self._breakdowns(event, buckets, breakdown, limit)
        return result

    async def _breakdowns(self, event: str, buckets: Buckets, name: str, limit: int) -> list[Breakdown]:
        value_sql, path = self._property(name)
        params = {"event": event, "low": buckets.low_ms, "high": buckets.high_ms, "prop": path}
        where = "WHERE event = :event AND timestamp_ms >= :low AND timestamp_ms < :high"
        rows = await self._rows(  # one pass over the events; the top values are picked here
            f"SELECT {value_sql} AS v, {buckets.sql('timestamp_ms', 'ms')} AS b, COUNT(*),"  # noqa: S608
            f" COUNT(DISTINCT person) FROM analytics_events {where} GROUP BY 1, 2",
            params,
        )
        totals: dict[Any, dict[int, tuple[int, int]]] = defaultdict(dict)
        counts: dict[Any, int] = defaultdict(int)
        for value, bucket, count, unique in rows:
            totals[value][int(bucket)] = (int(count), int(unique))
            counts[value] += int(count)
        values = sorted(counts, key=lambda value: (-counts[value], str(value)))[:limit]
        return [
            Breakdown(value=None if value is None else str(value), series=buckets.series(totals[value]))
            for value in values
        ]

    # Active users -------------------------------------------------------------------------------

    async def active_users(self, event: str | None, start_ms: int, end_ms: int) -> ActiveUsers:
        """DAU, and rolling WAU and MAU, exactly, in one pass over the person-days.

        Each person-day starts an "active" interval that ends 7 (or 30) days later or at the
        person's next active day, whichever is first; those intervals never overlap for one
        person, so the rolling count on day d is the number of intervals covering d.
        """
        days = Buckets.cover("day", start_ms, end_ms)
        low = days.low_day - 29
        only = "AND event = :event" if event is not None else ""
        rows = await self._rows(
            "WITH person_days AS (SELECT DISTINCT person, day FROM analytics_user_days"  # noqa: S608
            f" WHERE day >= :low AND day < :high {only}),"
            " spans AS (SELECT day, LEAD(day) OVER (PARTITION BY person ORDER BY day) AS next_day"
            " FROM person_days)"
            " SELECT 0, day, COUNT(*) FROM spans GROUP BY 2"
            " UNION ALL SELECT 7, CASE WHEN next_day IS NULL OR next_day > day + 7 THEN day + 7"
            " ELSE next_day END, COUNT(*) FROM spans GROUP BY 2"
            " UNION ALL SELECT 30, CASE WHEN next_day IS NULL OR next_day > day + 30 THEN day + 30"
            " ELSE next_day END, COUNT(*) FROM spans GROUP BY 2",
            {"low": low, "high": days.high_day, "event": event},
        )
        deltas: dict[int, dict[int, int]] = {0: {}, 7: {}, 30: {}}
        for kind, day, count in rows:
            deltas[int(kind)][int(day)] = int(count)
        week = month = 0
        series = []
        for day in range(low, days.high_day):
            started = deltas[0].get(day, 0)
            week += started - deltas[7].get(day, 0)
            month += started - deltas[30].get(day, 0)
            if day >= days.low_day:
                series.append(ActiveUsersPoint(day=datetime_of_day(day), dau=started, wau=week, mau=month))
        return ActiveUsers(event=event, series=series)

    # Funnels ------------------------------------------------------------------------------------

    async def funnel(self, steps: list[str], window_seconds: int, start_ms: int, end_ms: int) -> Funnel:
        days = Buckets.cover("day", start_ms, end_ms)  # whole UTC days: step 1 comes from the rollup
        start_ms, end_ms = days.low_ms, days.high_ms
        window = window_seconds * 1000
        params: dict[str, Any] = {"low": start_ms, "high": end_ms, "window": window}
        params |= {"low_day": days.low_day, "high_day": days.high_day}
        params |= {f"e{index}": name for index, name in enumerate(steps, start=1)}
        # A person's first step-1 event in the range is the earliest first_ms of their days.
        ctes = [
            "s1 AS (SELECT person, MIN(first_ms) AS t1 FROM analytics_user_days"
            " WHERE event = :e1 AND day >= :low_day AND day < :high_day GROUP BY person)"
        ]
        for k in range(2, len(steps) + 1):
            previous = ", ".join(f"s.t{i}" for i in range(1, k))
            # Only step numbers are formatted in; the event names are parameters.
            ctes.append(
                f"s{k} AS (SELECT s.person, {previous}, MIN(e.timestamp_ms) AS t{k}"  # noqa: S608
                f" FROM s{k - 1} s JOIN analytics_events e ON e.person = s.person"
                f" AND e.event = :e{k} AND e.timestamp_ms > s.t{k - 1} AND e.timestamp_ms <= s.t1 + :window"
                f" WHERE e.timestamp_ms >= :low AND e.timestamp_ms < :high + :window"
                f" GROUP BY s.person, {previous})"
            )
        last = len(steps)
        selects = ["SELECT 1 AS k, COUNT(*) AS v FROM s1"]
        selects += [f"SELECT {k}, t{k} - t{k - 1} FROM s{k}" for k in range(2, last + 1)]  # noqa: S608
        selects.append(f"SELECT 0, t{last} - t1 FROM s{last}")  # noqa: S608
        rows = await self._rows("WITH " + ", ".join(ctes) + " " + " UNION ALL ".join(selects), params)
        entered = 0
        durations: dict[int, list[int]] = defaultdict(list)
        for k, value in rows:
            if k == 1:
                entered = int(value)
            else:
                durations[int(k)].append(int(value))
        counts = [entered] + [len(durations[k]) for k in range(2, last + 1)]
        funnel_steps = []
        for index, (name, count) in enumerate(zip(steps, counts, strict=True)):
            previous_count = counts[index - 1] if index else count
            funnel_steps.append(
                FunnelStep(
                    event=name,
                    count=count,
                    conversion=count / entered if entered else 0.0,
                    conversion_from_previous=count / previous_count if previous_count else 0.0,
                    drop_off=previous_count - count,
                    median_seconds_from_previous=_median_seconds(durations[index + 1]) if index else None,
                )
            )
        return Funnel(
            start=datetime_of_ms(start_ms),
            end=datetime_of_ms(end_ms),
            window_seconds=window_seconds,
            steps=funnel_steps,
            median_seconds_to_convert=_median_seconds(durations[0]),
        )

    # Retention ----------------------------------------------------------------------------------

    async def retention(
        self,
        start_event: str,
        return_event: str,
        *,
        period: Period,
        periods: int,
        start_ms: int,
        end_ms: int,
    ) -> Retention:
        buckets = Buckets.cover(period, start_ms, end_ms)
        length = 1 if period == "day" else 7
        rows = await self._rows(
            "WITH firsts AS (SELECT person, MIN(day) AS first_day FROM analytics_user_days"  # noqa: S608
            " WHERE event = :start_event GROUP BY person),"
            f" cohort AS (SELECT person, {buckets.sql('first_day', 'day')} AS c FROM firsts"
            " WHERE first_day >= :low AND first_day < :high),"
            f" back AS (SELECT DISTINCT person, {buckets.sql('day', 'day')} AS p"
            " FROM analytics_user_days"
            " WHERE event = :return_event AND day >= :low AND day < :until)"
            " SELECT c, 0, COUNT(*) FROM cohort GROUP BY c"
            " UNION ALL SELECT cohort.c, back.p - cohort.c, COUNT(*) FROM cohort JOIN back"
            " ON back.person = cohort.person AND back.p > cohort.c AND back.p < cohort.c + :periods"
            " GROUP BY cohort.c, back.p - cohort.c",
            {
                "start_event": start_event,
                "return_event": return_event,
                "low": buckets.low_day,
                "high": buckets.high_day,
                "until": buckets.high_day + periods * length,
                "periods": periods,
            },
        )
        table: dict[int, dict[int, int]] = defaultdict(dict)
        for cohort, k, count in rows:
            table[int(cohort)][int(k)] = int(count)
        cohorts = []
        for key, start in zip(buckets.keys, buckets.starts, strict=True):
            size = table[key].get(0, 0)
            returned = [size] + [table[key].get(k, 0) for k in range(1, periods)]
            cohorts.append(
                Cohort(
                    start=start,
                    size=size,
                    returned=returned,
                    share=[count / size if size else 0.0 for count in returned],
                )
            )
        return Retention(start_event=start_event, return_event=return_event, period=period, cohorts=cohorts)

    # Products -----------------------------------------------------------------------------------

    async def top_products(self, start_ms: int, end_ms: int, limit: int) -> TopProducts:
        days = Buckets.cover("day", start_ms, end_ms)
        params = {"low": days.low_day, "high": days.high_day, "limit": limit}
        lists = []
        for order in ("views", "adds"):
            rows = await self._rows(
                "SELECT product_id, SUM(views) AS views, SUM(adds) AS adds FROM analytics_product_days"  # noqa: S608
                f" WHERE day >= :low AND day < :high GROUP BY product_id ORDER BY {order} DESC, product_id"
                " LIMIT :limit",
                params,
            )
            lists.append(
                [
                    ProductStat(
                        product_id=product_id,
                        views=int(views),
                        add_to_cart=int(adds),
                        add_to_cart_rate=int(adds) / int(views) if views else None,
                    )
                    for product_id, views, adds in rows
                    if (views if order == "views" else adds)
                ]
            )
        return TopProducts(
            start=datetime_of_ms(days.low_ms),
            end=datetime_of_ms(days.high_ms),
            by_views=lists[0],
            by_add_to_cart=lists[1],
        )


def _median_seconds(durations_ms: list[int]) -> float | None:
    return statistics.median(durations_ms) / 1000 if durations_ms else None
