"""What ``static/js/analytics.js`` draws: the analytics answers as plain chart data.

A chart is ``{"kind": "line" | "bars", "time": bool, "x": [...], "labels": [...] | None,
"unit": "" | "%", "series": [{"label": str, "values": [number | None]}]}``: with ``time`` the x
values are UTC seconds, otherwise indices whose names are ``labels``. The page writes it into a
``<script type="application/json">`` block with Jinja's ``tojson`` (which escapes ``<``, ``>``
and ``&``), and its table shows the same numbers.
"""

from __future__ import annotations

from typing import Any

from shelf.analytics.schemas import ActiveUsers, Funnel, Retention, TrendPoint, Trends

Chart = dict[str, Any]
NO_VALUE = "(no value)"  # a breakdown's events without the property
MAX_RETENTION_LINES = 12  # the latest cohorts; the table has them all
HEAT_LEVELS = 5


def _seconds(points: list[TrendPoint]) -> list[int]:
    return [int(point.start.timestamp()) for point in points]


def _line(x: list[int], series: list[tuple[str, list[Any]]], *, time: bool = True, unit: str = "") -> Chart:
    return {
        "kind": "line",
        "time": time,
        "x": x,
        "labels": None,
        "unit": unit,
        "series": [{"label": label, "values": values} for label, values in series],
    }


def breakdown_label(value: str | None) -> str:
    return NO_VALUE if value is None else value


def trends(result: Trends) -> Chart:
    """Events and unique users per bucket; with a breakdown, the events of each value."""
    x = _seconds(result.series)
    if result.breakdowns is None:
        return _line(
            x,
            [
                ("Events", [point.count for point in result.series]),
                ("Unique users", [point.unique_users for point in result.series]),
            ],
        )
    return _line(
        x,
        [(breakdown_label(part.value), [point.count for point in part.series]) for part in result.breakdowns],
    )


def active_users(result: ActiveUsers) -> Chart:
    return _line(
        [int(point.day.timestamp()) for point in result.series],
        [
            ("DAU", [point.dau for point in result.series]),
            ("WAU (7 days)", [point.wau for point in result.series]),
            ("MAU (30 days)", [point.mau for point in result.series]),
        ],
    )


def funnel(result: Funnel) -> Chart:
    return {
        "kind": "bars",
        "time": False,
        "x": list(range(len(result.steps))),
        "labels": [f"{index}. {step.event}" for index, step in enumerate(result.steps, start=1)],
        "unit": "",
        "series": [{"label": "People", "values": [step.count for step in result.steps]}],
    }


def retention(result: Retention) -> Chart:
    """Each cohort's share returning in each period after its own (in %), the latest cohorts."""
    cohorts = [cohort for cohort in result.cohorts if cohort.size][-MAX_RETENTION_LINES:]
    periods = max((len(cohort.share) for cohort in result.cohorts), default=0)
    chart = _line(
        list(range(periods)),
        [
            (cohort.start.date().isoformat(), [round(share * 100, 2) for share in cohort.share])
            for cohort in cohorts
        ],
        time=False,
        unit="%",
    )
    chart["labels"] = [f"{result.period.title()} {index}" for index in range(periods)]
    return chart


def heat_level(share: float) -> int:
    """The shade of a cohort table cell: 0 (nobody) to ``HEAT_LEVELS`` (everyone)."""
    if share <= 0:
        return 0
    return min(HEAT_LEVELS, 1 + int(share * HEAT_LEVELS))
