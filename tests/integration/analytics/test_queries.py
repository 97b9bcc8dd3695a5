"""Trends, active users, funnels, retention and top products against hand-computed fixtures.

Dates are in March 2026: Monday the 2nd starts an ISO week. Every expected number below was
worked out by hand from the events listed beside it, and every test runs on both backends.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from shelf.app import Container
from tests.conftest import Keys
from tests.integration.analytics.helpers import stored
from tests.integration.catalog.helpers import assert_problem

API = "/api/v1/analytics"


async def send(
    client: httpx.AsyncClient,
    container: Container,
    keys: Keys,
    rows: list[tuple[str, str, str, dict[str, Any]]],
) -> None:
    """``rows``: (event, person, ISO time, properties); stored before this returns."""
    batch = [
        {"event": e, "distinct_id": who, "timestamp": at, "properties": props, "uuid": str(uuid.uuid4())}
        for e, who, at, props in rows
    ]
    response = await client.post("/batch/", json={"api_key": keys.client, "batch": batch})
    assert response.status_code == 200, response.text
    await stored(container)


async def query(client: httpx.AsyncClient, keys: Keys, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"{API}/{path}", params=params, headers=keys.auth("viewer"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def points(series: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    return [(point["start"][:16], point["count"], point["unique_users"]) for point in series]


PAGEVIEWS = [
    ("$pageview", "u1", "2026-03-02T10:00:00Z", {"path": "/a"}),
    ("$pageview", "u1", "2026-03-02T10:30:00Z", {"path": "/b"}),
    ("$pageview", "u2", "2026-03-02T11:15:00Z", {"path": "/a"}),
    ("$pageview", "u1", "2026-03-03T09:00:00Z", {"path": "/a"}),
    ("$pageview", "u3", "2026-03-09T08:00:00Z", {}),
    ("other", "u9", "2026-03-02T10:00:00Z", {}),
]


async def test_trends_by_hour_day_week_month(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    await send(client, container, keys, PAGEVIEWS)
    day = await query(
        client,
        keys,
        "trends",
        event="$pageview",
        interval="day",
        **{"from": "2026-03-02", "to": "2026-03-04"},
    )
    assert points(day["series"]) == [("2026-03-02T00:00", 3, 2), ("2026-03-03T00:00", 1, 1)]
    hour = await query(
        client, keys, "trends", event="$pageview", interval="hour",
        **{"from": "2026-03-02T10:00:00Z", "to": "2026-03-02T12:00:00Z"},
    )  # fmt: skip
    assert points(hour["series"]) == [("2026-03-02T10:00", 2, 1), ("2026-03-02T11:00", 1, 1)]
    week = await query(
        client,
        keys,
        "trends",
        event="$pageview",
        interval="week",
        **{"from": "2026-03-02", "to": "2026-03-10"},
    )
    assert points(week["series"]) == [("2026-03-02T00:00", 4, 2), ("2026-03-09T00:00", 1, 1)]
    month = await query(
        client,
        keys,
        "trends",
        event="$pageview",
        interval="month",
        **{"from": "2026-03-01", "to": "2026-04-01"},
    )
    assert points(month["series"]) == [("2026-03-01T00:00", 5, 3)]
    # A range that is not on period boundaries is widened to whole periods.
    widened = await query(
        client,
        keys,
        "trends",
        event="$pageview",
        interval="week",
        **{"from": "2026-03-04", "to": "2026-03-05"},
    )
    assert points(widened["series"]) == [("2026-03-02T00:00", 4, 2)]


async def test_trends_breakdown(client: httpx.AsyncClient, container: Container, keys: Keys) -> None:
    await send(client, container, keys, PAGEVIEWS)
    body = await query(
        client, keys, "trends", event="$pageview", interval="day", breakdown="path",
        **{"from": "2026-03-02", "to": "2026-03-04"},
    )  # fmt: skip
    assert points(body["series"]) == [("2026-03-02T00:00", 3, 2), ("2026-03-03T00:00", 1, 1)]
    by_value = {item["value"]: points(item["series"]) for item in body["breakdowns"]}
    assert by_value == {
        "/a": [("2026-03-02T00:00", 2, 2), ("2026-03-03T00:00", 1, 1)],
        "/b": [("2026-03-02T00:00", 1, 1), ("2026-03-03T00:00", 0, 0)],
    }
    assert [item["value"] for item in body["breakdowns"]] == ["/a", "/b"]  # most events first


async def test_active_users(client: httpx.AsyncClient, container: Container, keys: Keys) -> None:
    await send(
        client, container, keys,
        [
            ("ping", "a", "2026-03-01T12:00:00Z", {}),
            ("ping", "a", "2026-03-05T12:00:00Z", {}),
            ("ping", "b", "2026-03-02T12:00:00Z", {}),
            ("ping", "c", "2026-02-10T12:00:00Z", {}),
            ("pong", "z", "2026-03-03T12:00:00Z", {}),  # another event: not counted with event=ping
        ],
    )  # fmt: skip
    body = await query(
        client, keys, "active-users", event="ping", **{"from": "2026-03-01", "to": "2026-03-10"}
    )
    series = [(p["day"][:10], p["dau"], p["wau"], p["mau"]) for p in body["series"]]
    assert series == [
        ("2026-03-01", 1, 1, 2),
        ("2026-03-02", 1, 2, 3),
        ("2026-03-03", 0, 2, 3),
        ("2026-03-04", 0, 2, 3),
        ("2026-03-05", 1, 2, 3),
        ("2026-03-06", 0, 2, 3),
        ("2026-03-07", 0, 2, 3),
        ("2026-03-08", 0, 2, 3),
        ("2026-03-09", 0, 1, 3),
    ]
    every = await query(client, keys, "active-users", **{"from": "2026-03-03", "to": "2026-03-04"})
    assert [(p["dau"], p["wau"]) for p in every["series"]] == [(1, 3)]  # z's pong counts without a filter


FUNNEL = [
    # alice completes: 10:00 → 10:10 → 10:30
    ("view", "alice", "2026-03-02T10:00:00Z", {}),
    ("cart", "alice", "2026-03-02T10:10:00Z", {}),
    ("buy", "alice", "2026-03-02T10:30:00Z", {}),
    # bob buys after the one-hour window: reaches cart only
    ("view", "bob", "2026-03-02T11:00:00Z", {}),
    ("cart", "bob", "2026-03-02T11:20:00Z", {}),
    ("buy", "bob", "2026-03-02T12:30:00Z", {}),
    # carol's cart came before her view: step 1 only
    ("cart", "carol", "2026-03-02T09:00:00Z", {}),
    ("view", "carol", "2026-03-02T09:30:00Z", {}),
    ("buy", "carol", "2026-03-02T09:40:00Z", {}),
    # dave enters at his first view (12:00): cart after 50 min, buy 5 min later
    ("view", "dave", "2026-03-02T12:00:00Z", {}),
    ("view", "dave", "2026-03-02T12:05:00Z", {}),
    ("cart", "dave", "2026-03-02T12:50:00Z", {}),
    ("buy", "dave", "2026-03-02T12:55:00Z", {}),
    # erin viewed before the range: she never enters
    ("view", "erin", "2026-03-01T23:50:00Z", {}),
    ("cart", "erin", "2026-03-02T00:05:00Z", {}),
    # frank did it backwards: step 1 only
    ("buy", "frank", "2026-03-02T10:00:00Z", {}),
    ("cart", "frank", "2026-03-02T10:01:00Z", {}),
    ("view", "frank", "2026-03-02T10:02:00Z", {}),
    # gina's first buy precedes her cart; the buy after it counts
    ("view", "gina", "2026-03-02T13:00:00Z", {}),
    ("buy", "gina", "2026-03-02T13:10:00Z", {}),
    ("cart", "gina", "2026-03-02T13:20:00Z", {}),
    ("buy", "gina", "2026-03-02T13:30:00Z", {}),
]


async def test_funnel(client: httpx.AsyncClient, container: Container, keys: Keys) -> None:
    await send(client, container, keys, FUNNEL)
    body = await query(
        client,
        keys,
        "funnel",
        steps="view,cart,buy",
        window="1h",
        **{"from": "2026-03-02", "to": "2026-03-03"},
    )
    steps = [
        (
            s["event"],
            s["count"],
            round(s["conversion"], 4),
            round(s["conversion_from_previous"], 4),
            s["drop_off"],
        )
        for s in body["steps"]
    ]
    assert steps == [("view", 6, 1.0, 1.0, 0), ("cart", 4, 0.6667, 0.6667, 2), ("buy", 3, 0.5, 0.75, 1)]
    # cart after view: alice 600 s, bob 1200 s, dave 3000 s, gina 1200 s; buy after cart: 1200, 300, 600
    assert [s["median_seconds_from_previous"] for s in body["steps"]] == [None, 1200.0, 600.0]
    assert body["median_seconds_to_convert"] == 1800.0  # alice 1800, dave 3300, gina 1800
    assert body["window_seconds"] == 3600
    # A longer window lets bob's late buy count.
    wide = await query(
        client,
        keys,
        "funnel",
        steps="view,cart,buy",
        window="2h",
        **{"from": "2026-03-02", "to": "2026-03-03"},
    )
    assert [s["count"] for s in wide["steps"]] == [6, 4, 4]


RETENTION = [
    ("signed_up", "u1", "2026-03-02T09:00:00Z", {}),
    ("visited", "u1", "2026-03-02T10:00:00Z", {}),  # the cohort's own day: not a return
    ("visited", "u1", "2026-03-03T10:00:00Z", {}),  # day 1
    ("visited", "u1", "2026-03-05T10:00:00Z", {}),  # day 3
    ("signed_up", "u2", "2026-03-02T09:00:00Z", {}),
    ("visited", "u2", "2026-03-04T10:00:00Z", {}),  # day 2
    ("visited", "u2", "2026-03-04T11:00:00Z", {}),  # day 2 again: counted once
    ("signed_up", "u3", "2026-03-03T09:00:00Z", {}),
    ("signed_up", "u3", "2026-03-04T09:00:00Z", {}),  # not a first time
    ("visited", "u3", "2026-03-04T10:00:00Z", {}),  # day 1
    ("visited", "u3", "2026-03-05T10:00:00Z", {}),  # day 2
    ("signed_up", "u4", "2026-02-20T09:00:00Z", {}),  # first time before the range: no cohort here
    ("signed_up", "u4", "2026-03-02T09:00:00Z", {}),
    ("visited", "u4", "2026-03-03T10:00:00Z", {}),
    ("signed_up", "u5", "2026-03-03T09:00:00Z", {}),  # never returns
    ("signed_up", "u6", "2026-03-02T09:00:00Z", {}),
    ("visited", "u6", "2026-03-06T10:00:00Z", {}),  # day 4: beyond 4 periods (0 to 3)
]


async def test_daily_retention(client: httpx.AsyncClient, container: Container, keys: Keys) -> None:
    await send(client, container, keys, RETENTION)
    body = await query(
        client, keys, "retention", start_event="signed_up", return_event="visited", period="day", periods=4,
        **{"from": "2026-03-02", "to": "2026-03-04"},
    )  # fmt: skip
    cohorts = [(c["start"][:10], c["size"], c["returned"]) for c in body["cohorts"]]
    assert cohorts == [("2026-03-02", 3, [3, 1, 1, 1]), ("2026-03-03", 2, [2, 1, 1, 0])]
    assert [round(share, 4) for share in body["cohorts"][0]["share"]] == [1.0, 0.3333, 0.3333, 0.3333]


async def test_weekly_retention(client: httpx.AsyncClient, container: Container, keys: Keys) -> None:
    await send(
        client, container, keys,
        [
            ("joined", "w1", "2026-03-02T09:00:00Z", {}),  # Monday
            ("came_back", "w1", "2026-03-08T09:00:00Z", {}),  # Sunday, same week: not a return
            ("came_back", "w1", "2026-03-09T09:00:00Z", {}),  # week 1
            ("joined", "w2", "2026-03-08T23:00:00Z", {}),  # Sunday: the same cohort week
            ("came_back", "w2", "2026-03-16T09:00:00Z", {}),  # week 2
        ],
    )  # fmt: skip
    body = await query(
        client, keys, "retention", start_event="joined", return_event="came_back", period="week", periods=3,
        **{"from": "2026-03-02", "to": "2026-03-09"},
    )  # fmt: skip
    assert [(c["start"][:10], c["size"], c["returned"]) for c in body["cohorts"]] == [
        ("2026-03-02", 2, [2, 1, 1])
    ]


async def test_top_products(client: httpx.AsyncClient, container: Container, keys: Keys) -> None:
    await send(
        client, container, keys,
        [
            ("product_viewed", "a", "2026-03-02T10:00:00Z", {"product_id": "p1"}),
            ("product_viewed", "a", "2026-03-02T10:01:00Z", {"product_id": "p1"}),
            ("product_viewed", "b", "2026-03-03T10:00:00Z", {"product_id": "p1"}),
            ("product_viewed", "b", "2026-03-03T10:05:00Z", {"product_id": "p2"}),
            ("add_to_cart", "b", "2026-03-03T10:02:00Z", {"product_id": "p1"}),
            ("add_to_cart", "c", "2026-03-03T11:00:00Z", {"product_id": "p3"}),
            ("add_to_cart", "d", "2026-03-03T11:00:00Z", {"product_id": "p3"}),
            ("product_viewed", "e", "2026-04-01T10:00:00Z", {"product_id": "p2"}),  # outside the range
        ],
    )  # fmt: skip
    body = await query(client, keys, "top-products", **{"from": "2026-03-01", "to": "2026-03-31"})
    views = [(p["product_id"], p["views"], p["add_to_cart"], p["add_to_cart_rate"]) for p in body["by_views"]]
    assert views == [("p1", 3, 1, pytest.approx(1 / 3)), ("p2", 1, 0, 0.0)]
    adds = [
        (p["product_id"], p["views"], p["add_to_cart"], p["add_to_cart_rate"]) for p in body["by_add_to_cart"]
    ]
    assert adds == [("p3", 0, 2, None), ("p1", 3, 1, pytest.approx(1 / 3))]


async def test_query_parameters_are_checked(client: httpx.AsyncClient, keys: Keys) -> None:
    viewer = keys.auth("viewer")
    for path, params in [
        ("trends", {"event": "x", "interval": "minute"}),
        ("trends", {"event": "x", "unknown": "1"}),
        ("funnel", {"steps": "only-one"}),
        ("funnel", {"steps": "a,b", "window": "forever"}),
        ("retention", {"start_event": "a", "return_event": "b", "periods": 0}),
        ("trends", {"event": "x", "interval": "hour", "from": "2020-01-01", "to": "2026-01-01"}),
        ("trends", {"event": "x", "from": "2026-03-02", "to": "2026-03-01"}),
    ]:
        assert_problem(await client.get(f"{API}/{path}", params=params, headers=viewer), 422)
    assert_problem(await client.get(f"{API}/trends", params={"event": "x"}, headers=keys.auth("client")), 403)
