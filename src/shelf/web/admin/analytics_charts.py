"""What ``static/js/analytics.js`` draws: the analytics answers as plain chart data.

A chart is ``{"kind": "line" | "bars", "time": bool, "interval": str | None, "x": [...],
"x_label": str, "labels": [...] | None, "unit": "" | "%", "series": [{"label": str, "values":
[number | None]}]}``: with ``time`` the x values are the UTC seconds of each bucket's start (an
``interval`` long), otherwise indices whose names are ``labels``. The page writes it into a
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


def _line(
    x: list[int], x_label: str, series: list[tuple[str, list[Any]]], *, interval: str | None, unit: str = ""
) -> Chart:
    return {
        "kind": "line",
        "time": interval is not None,
        "interval": interval,
        "x": x,
        "x_label": x_label,
        "labels": None,
        "unit": unit,
        "series": [{"label": label, "values": values} for label, values in series],
    }


def breakdown_label(value: str | None) -> str:
    return NO_VALUE if value is None else value


def trends(result: Trends) -> Chart:
    """Events and unique users per bucket; with a breakdown, the events of each value."""
    x = _seconds(result.series)
    x_label = result.interval.title()
    if result.breakdowns is None:
        return _line(
            x,
            x_label,
            [
                ("Events", [point.count for point in result.series]),
                ("Unique users", [point.unique_users for point in result.series]),
            ],
            interval=result.interval,
        )
    return _line(
        x,
        x_label,
        [(breakdown_label(part.value), [point.count for point in part.series]) for part in result.breakdowns],
        interval=result.interval,
    )


def active_users(result: ActiveUsers) -> Chart:
    return _line(
        [int(point.day.timestamp()) for point in result.series],
        "Day",
        [
            ("DAU", [point.dau for point in result.series]),
            ("WAU (7 days)", [point.wau for point in result.series]),
            ("MAU (30 days)", [point.mau for point in result.series]),
        ],
        interval="day",
    )


def funnel(result: Funnel) -> Chart:
    return {
        "kind": "bars",
        "time": False,
        "interval": None,
        "x": list(range(len(result.steps))),
        "x_label": "Step",
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
        result.period.title(),
        [
            (cohort.start.date().isoformat(), [round(share * 100, 2) for share in cohort.share])
            for cohort in cohorts
        ],
        interval=None,
        unit="%",
    )
    chart["labels"] = [f"{result.period.title()} {index}" for index in range(periods)]
    return chart


def heat_level(share: float) -> int:
    """The shade of a cohort table cell: 0 (nobody) to ``HEAT_LEVELS`` (everyone)."""
    if share <= 0:
        return 0
    return min(HEAT_LEVELS, 1 + int(share * HEAT_LEVELS))


DURATION_UNITS = (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1))


def duration(seconds: float | None) -> str:
    """``42 s``, ``32 min 30 s``, ``15 min``, ``1 d 6 h``: the two largest units, zeros left out."""
    if seconds is None:
        return "\N{EN DASH}"
    left = round(seconds)
    amounts = []
    for unit, size in DURATION_UNITS:
        amount, left = divmod(left, size)
        amounts.append((amount, unit))
    first = next((index for index, (amount, _unit) in enumerate(amounts) if amount), len(amounts) - 1)
    shown = [f"{amount} {unit}" for amount, unit in amounts[first : first + 2] if amount]
    return " ".join(shown) or "0 s"
