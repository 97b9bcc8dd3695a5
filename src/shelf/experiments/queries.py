"""The read side of experiments: who was exposed to which variant, and what they did next.

One query per metric over ``analytics_events``, plain SQL that runs on SQLite and PostgreSQL
(only the JSON lookups differ), through the (event, time, person) index:

1. exposures: each person's first ``$feature_flag_called`` for the flag per variant, in the
   experiment's window [start, end);
2. people: one row per person, with their variant when they saw exactly one; a person exposed to
   two or more variants is excluded from every figure (and counted: ``excluded``);
3. outcomes: per counted person, their metric events from their first exposure to ``window``
   later (inclusive): how many, and the sum of the numeric property;
4. one row per (variant, UTC day of first exposure): people, people with an outcome, the sum of
   their values and of their squares. Totals are the sum of the days; the chart's cumulative
   series is their running sum.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shelf.analytics.models import MS_PER_DAY
from shelf.experiments.schemas import Metric

EXPOSURE_EVENT = "$feature_flag_called"
FLAG_PROPERTY = "$feature_flag"
VARIANT_PROPERTY = "$feature_flag_response"
WORK_MEM = "64MB"


@dataclass
class VariantTotals:
    exposures: int = 0
    converted: int = 0  # people with at least one metric event in their window
    total: float = 0.0  # sum over people of the sum of the property (mean metrics)
    total_squares: float = 0.0


@dataclass
class DayTotals:
    day: int  # UTC days since the epoch
    exposures: int
    converted: int


@dataclass
class Outcome:
    """One metric's figures per variant; variants as the events name them."""

    variants: dict[str, VariantTotals] = field(default_factory=dict)
    days: dict[str, list[DayTotals]] = field(default_factory=dict)  # by day, ascending
    excluded: int = 0


class SqlExperimentReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    async def _rows(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
        async with self._engine.connect() as connection:
            if self._postgres:
                await connection.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
            return (await connection.execute(text(sql), params)).all()

    def _text(self, parameter: str) -> str:
        """SQL for the top-level property named by ``:parameter``, as text."""
        if self._postgres:
            return f"properties ->> :{parameter}"
        return f"json_extract(properties, :{parameter})"

    def _number(self, parameter: str) -> str:
        """SQL for a numeric top-level property, NULL when it is missing or not a JSON number."""
        if self._postgres:
            return (
                f"CASE WHEN jsonb_typeof(e.properties -> :{parameter}) = 'number'"
                f" THEN (e.properties ->> :{parameter})::float8 END"
            )
        return (
            f"CASE WHEN json_type(e.properties, :{parameter}) IN ('integer', 'real')"
            f" THEN json_extract(e.properties, :{parameter}) END"
        )

    def _path(self, name: str) -> str:
        if self._postgres:
            return name
        return '$."' + name.replace('"', '\\"') + '"'

    async def outcome(self, flag_key: str, metric: Metric, *, start_ms: int, end_ms: int) -> Outcome:
        value = self._number("prop") if metric.property is not None else "0.0"
        sql = (
            "WITH exposures AS ("  # noqa: S608 - only fixed SQL is formatted in; values are parameters
            f" SELECT person, {self._text('variant_prop')} AS variant, MIN(timestamp_ms) AS first_ms"
            " FROM analytics_events"
            " WHERE event = :exposure AND timestamp_ms >= :low AND timestamp_ms < :high"
            f" AND {self._text('flag_prop')} = :flag"
            " GROUP BY 1, 2),"
            " people AS (SELECT person, MIN(variant) AS variant, MIN(first_ms) AS first_ms,"
            " COUNT(*) AS seen FROM exposures GROUP BY person),"
            " outcomes AS ("
            f" SELECT p.person, COALESCE(SUM({value}), 0.0) AS total"
            " FROM people p JOIN analytics_events e ON e.person = p.person AND e.event = :metric"
            " AND e.timestamp_ms >= p.first_ms AND e.timestamp_ms <= p.first_ms + :window"
            " WHERE p.seen = 1 AND e.timestamp_ms >= :low AND e.timestamp_ms <= :high + :window"
            " GROUP BY p.person)"
            f" SELECT p.variant, p.first_ms / {MS_PER_DAY} AS day, COUNT(*), COUNT(o.person),"
            " COALESCE(SUM(o.total), 0.0), COALESCE(SUM(o.total * o.total), 0.0)"
            " FROM people p LEFT JOIN outcomes o ON o.person = p.person"
            " WHERE p.seen = 1 GROUP BY 1, 2"
            " UNION ALL SELECT NULL, NULL, COUNT(*), 0, 0.0, 0.0 FROM people WHERE seen > 1"
        )
        params: dict[str, Any] = {
            "exposure": EXPOSURE_EVENT,
            "flag_prop": self._path(FLAG_PROPERTY),
            "variant_prop": self._path(VARIANT_PROPERTY),
            "flag": flag_key,
            "metric": metric.event,
            "low": start_ms,
            "high": end_ms,
            "window": metric.window_seconds * 1000,
        }
        if metric.property is not None:
            params["prop"] = self._path(metric.property)
        outcome = Outcome()
        days: dict[str, list[DayTotals]] = defaultdict(list)
        for variant, day, people, converted, total, squares in await self._rows(sql, params):
            if day is None:
                outcome.excluded = int(people)
                continue
            name = "" if variant is None else str(variant)
            totals = outcome.variants.setdefault(name, VariantTotals())
            totals.exposures += int(people)
            totals.converted += int(converted)
            totals.total += float(total)
            totals.total_squares += float(squares)
            days[name].append(DayTotals(int(day), int(people), int(converted)))
        outcome.days = {name: sorted(series, key=lambda d: d.day) for name, series in days.items()}
        return outcome
