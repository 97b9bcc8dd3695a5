"""The analytics pages' chart data and figures, from answers built by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shelf.analytics.schemas import Breakdown, Cohort, Funnel, FunnelStep, Retention, TrendPoint, Trends
from shelf.web.admin import analytics_charts as charts

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
TUESDAY = datetime(2026, 3, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "\N{EN DASH}"),
        (0, "0 s"),
        (42.4, "42 s"),
        (60, "1 min"),
        (1950, "32 min 30 s"),
        (3660, "1 h 1 min"),
        (86_400, "1 d"),
        (86_400 + 6 * 3600 + 59, "1 d 6 h"),  # the two largest units only
    ],
)
def test_durations_read_as_the_two_largest_units(seconds: float | None, text: str) -> None:
    assert charts.duration(seconds) == text


@pytest.mark.parametrize(("share", "level"), [(0.0, 0), (0.01, 1), (0.2, 2), (0.5, 3), (0.99, 5), (1.0, 5)])
def test_heat_levels(share: float, level: int) -> None:
    assert charts.heat_level(share) == level


def test_a_trend_is_events_and_users_and_a_breakdown_a_line_per_value() -> None:
    points = [
        TrendPoint(start=MONDAY, count=3, unique_users=2),
        TrendPoint(start=TUESDAY, count=1, unique_users=1),
    ]
    plain = charts.trends(Trends(event="e", interval="day", start=MONDAY, end=TUESDAY, series=points))
    assert plain["time"] is True
    assert plain["interval"] == "day"
    assert plain["x"] == [int(MONDAY.timestamp()), int(TUESDAY.timestamp())]
    assert plain["series"] == [
        {"label": "Events", "values": [3, 1]},
        {"label": "Unique users", "values": [2, 1]},
    ]
    split = Trends(
        event="e",
        interval="week",
        start=MONDAY,
        end=TUESDAY,
        series=points,
        breakdown="path",
        breakdowns=[Breakdown(value="/a", series=points), Breakdown(value=None, series=points[::-1])],
    )
    assert [(s["label"], s["values"]) for s in charts.trends(split)["series"]] == [
        ("/a", [3, 1]),
        ("(no value)", [1, 3]),
    ]


def test_a_funnel_is_bars_named_by_step() -> None:
    steps = [
        FunnelStep(
            event=name,
            count=count,
            conversion=0,
            conversion_from_previous=0,
            drop_off=0,
            median_seconds_from_previous=None,
        )
        for name, count in (("a", 4), ("b", 1))
    ]
    drawn = charts.funnel(
        Funnel(start=MONDAY, end=TUESDAY, window_seconds=60, steps=steps, median_seconds_to_convert=None)
    )
    assert (drawn["kind"], drawn["time"], drawn["labels"]) == ("bars", False, ["1. a", "2. b"])
    assert drawn["series"] == [{"label": "People", "values": [4, 1]}]


def test_retention_draws_the_cohorts_with_people_in_percent() -> None:
    cohorts = [
        Cohort(start=MONDAY, size=4, returned=[4, 1], share=[1.0, 0.25]),
        Cohort(start=TUESDAY, size=0, returned=[0, 0], share=[0.0, 0.0]),  # nobody: no line
    ]
    drawn = charts.retention(Retention(start_event="a", return_event="a", period="day", cohorts=cohorts))
    assert drawn["labels"] == ["Day 0", "Day 1"]
    assert drawn["series"] == [{"label": "2026-03-02", "values": [100.0, 25.0]}]
    assert drawn["unit"] == "%"
