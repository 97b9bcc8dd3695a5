"""The console's analytics pages: trends (with a breakdown), active users and top products, the
funnel and the retention cohorts, each a chart's JSON data block beside a table of the same numbers
(hand-computed from the events sent); invalid controls named next to their field, never a 500.

Dates are in March 2026 (Monday the 2nd); the pages' ``to`` is the last day, included.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from shelf.app import Container
from tests.conftest import Keys
from tests.integration.experiments.helpers import send
from tests.integration.web.admin.conftest import Staff, log_in, nav_labels
from tests.integration.web.helpers import BROWSER, add_product, assert_self_contained

MARCH = {"from": "2026-03-02", "to": "2026-03-03"}
NONE = "\N{EN DASH}"  # a figure that does not apply
PAGEVIEWS = [
    ("$pageview", "u1", "2026-03-02T10:00:00Z", {"path": "/a"}),
    ("$pageview", "u1", "2026-03-02T10:30:00Z", {"path": "/b"}),
    ("$pageview", "u2", "2026-03-02T11:15:00Z", {"path": "/a"}),
    ("$pageview", "u1", "2026-03-03T09:00:00Z", {"path": "/a"}),
    ("$pageview", "u3", "2026-03-03T12:00:00Z", {}),
    ("$pageview", "u3", "2026-03-05T12:00:00Z", {}),  # after the range
]


class _Tables(HTMLParser):
    """Each table's caption and rows of cell texts (header cells included)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: list[str] | None = None
        self._rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._rows = []
        elif tag == "caption":
            self._caption = []
        elif tag == "tr":
            self._rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._caption is not None:
            self.tables[" ".join("".join(self._caption).split())] = self._rows
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        for part in (self._caption, self._cell):
            if part is not None:
                part.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def chart(html: str, chart_id: str) -> dict[str, Any]:
    found = re.search(rf'<script type="application/json" id="{chart_id}-data">([^<]*)</script>', html)
    assert found, f"no data block for {chart_id}"
    data: dict[str, Any] = json.loads(unescape(found.group(1)))
    return data


def field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="field__error" id="field-{field}-error">(.*?)</p>', html, re.S)
    assert found, f"no error shown next to {field}"
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


async def page(client: httpx.AsyncClient, path: str, **params: str) -> httpx.Response:
    return await client.get(path, params=params, headers=BROWSER)


async def test_a_viewer_reads_trends_active_users_and_top_products(
    client: httpx.AsyncClient, container: Container, keys: Keys, staff: Staff
) -> None:
    scarf = await add_product(container, name="Analytics Alpaca Scarf")
    product = str(scarf["id"])
    rows = list(PAGEVIEWS)
    rows += [
        ("product_viewed", who, "2026-03-02T10:05:00Z", {"product_id": product}) for who in ("u1", "u2", "u3")
    ]
    rows += [("add_to_cart", "u1", "2026-03-02T10:06:00Z", {"product_id": product})]
    rows += [("product_viewed", "u2", "2026-03-03T10:00:00Z", {"product_id": "gone-product"})]
    await send(client, container, keys, rows)
    await log_in(client, staff.viewer)
    assert "Analytics" in nav_labels((await page(client, "/admin")).text)

    answer = await page(client, "/admin/analytics", event="$pageview", interval="day", **MARCH)
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert_self_contained(html, data_blocks=True)
    assert "/static/vendor/uplot/uPlot.iife.min.js?v=" in html
    assert "/static/js/analytics.js?v=" in html
    found = tables(html)
    assert found["$pageview per day"] == [
        ["Day", "Events", "Unique users"],
        ["2026-03-02", "3", "2"],
        ["2026-03-03", "2", "2"],
    ]
    drawn = chart(html, "trends-chart")
    assert drawn["x"] == [int(datetime(2026, 3, day, tzinfo=UTC).timestamp()) for day in (2, 3)]
    assert drawn["series"] == [
        {"label": "Events", "values": [3, 2]},
        {"label": "Unique users", "values": [2, 2]},
    ]
    # Active users: any event; u1 and u2 on the 2nd, u1, u2 and u3 on the 3rd (u3 viewed on the 2nd).
    assert found["Active users per day"] == [
        ["Day", "DAU", "WAU", "MAU"],
        ["2026-03-02", "3", "3", "3"],
        ["2026-03-03", "3", "3", "3"],
    ]
    assert [series["label"] for series in chart(html, "active-chart")["series"]] == [
        "DAU",
        "WAU (7 days)",
        "MAU (30 days)",
    ]
    assert found["Most viewed"] == [
        ["Product", "Views", "Added to cart", "View → cart rate"],
        ["Analytics Alpaca Scarf", "3", "1", "33.3%"],
        ["gone-product", "1", "0", "0.0%"],
    ]
    assert found["Most added to cart"][1] == ["Analytics Alpaca Scarf", "3", "1", "33.3%"]
    assert f'<a href="/admin/products/{product}">Analytics Alpaca Scarf</a>' in html


async def test_a_breakdown_gives_a_column_and_a_line_per_value(
    client: httpx.AsyncClient, container: Container, keys: Keys, staff: Staff
) -> None:
    await send(client, container, keys, PAGEVIEWS)
    await log_in(client, staff.viewer)
    answer = await page(
        client, "/admin/analytics", event="$pageview", interval="day", breakdown="path", **MARCH
    )
    assert answer.status_code == 200, answer.text
    assert tables(answer.text)["Events of $pageview per day by path"] == [
        ["Day", "/a", "/b", "(no value)"],
        ["2026-03-02", "2", "1", "0"],
        ["2026-03-03", "1", "0", "1"],
    ]
    drawn = chart(answer.text, "trends-chart")
    assert [(series["label"], series["values"]) for series in drawn["series"]] == [
        ("/a", [2, 1]),
        ("/b", [1, 0]),
        ("(no value)", [0, 1]),
    ]
    hourly = await page(client, "/admin/analytics", event="$pageview", interval="hour", **MARCH)
    rows = tables(hourly.text)["$pageview per hour"]
    assert len(rows) == 1 + 48
    assert ["2026-03-02 10:00", "2", "1"] in rows


async def test_blank_dates_are_the_default_range_the_page_states(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    await log_in(client, staff.viewer)
    today = container.clock.now().astimezone(UTC).date()
    answer = await page(client, "/admin/analytics")
    assert answer.status_code == 200, answer.text
    first = (today - timedelta(days=29)).isoformat()
    assert f"From {first} to {today.isoformat()} (UTC), by day." in answer.text
    assert len(tables(answer.text)["$pageview per day"]) == 1 + 30
    weekly = await page(
        client, "/admin/analytics", interval="week", **{"from": "2026-03-04", "to": "2026-03-10"}
    )
    assert "by week. The weeks shown are whole: 2026-03-02 to 2026-03-15." in weekly.text


async def test_the_funnel_page_shows_each_step(
    client: httpx.AsyncClient, container: Container, keys: Keys, staff: Staff
) -> None:
    await send(
        client, container, keys,
        [
            ("$pageview", "u1", "2026-03-02T10:00:00Z", {}),
            ("product_viewed", "u1", "2026-03-02T10:05:00Z", {}),
            ("add_to_cart", "u1", "2026-03-02T10:20:00Z", {}),
            ("$pageview", "u2", "2026-03-02T11:00:00Z", {}),
            ("product_viewed", "u2", "2026-03-02T12:00:00Z", {}),
            ("$pageview", "u3", "2026-03-03T09:00:00Z", {}),
            ("add_to_cart", "u3", "2026-03-03T09:30:00Z", {}),  # skipped a step: not counted
        ],
    )  # fmt: skip
    await log_in(client, staff.viewer)
    answer = await page(
        client,
        "/admin/analytics/funnel",
        steps="$pageview, product_viewed ,add_to_cart",
        window="1d",
        **MARCH,
    )
    assert answer.status_code == 200, answer.text
    assert_self_contained(answer.text, data_blocks=True)
    assert tables(answer.text)["Funnel steps"] == [
        ["Step", "People", "Conversion", "From previous step", "Drop-off", "Median time from previous"],
        ["1. $pageview", "3", "100.0%", NONE, NONE, NONE],
        ["2. product_viewed", "2", "66.7%", "66.7%", "1", "32 min 30 s"],
        ["3. add_to_cart", "1", "33.3%", "50.0%", "1", "15 min"],
    ]
    assert '<dd data-field="median_to_convert">20 min</dd>' in answer.text
    drawn = chart(answer.text, "funnel-chart")
    assert drawn["kind"] == "bars"
    assert drawn["labels"] == ["1. $pageview", "2. product_viewed", "3. add_to_cart"]
    assert drawn["series"] == [{"label": "People", "values": [3, 2, 1]}]


async def test_the_retention_page_is_a_cohort_table(
    client: httpx.AsyncClient, container: Container, keys: Keys, staff: Staff
) -> None:
    await send(
        client, container, keys,
        [
            ("$pageview", "a", "2026-03-02T10:00:00Z", {}),
            ("$pageview", "a", "2026-03-03T10:00:00Z", {}),
            ("$pageview", "a", "2026-03-04T10:00:00Z", {}),
            ("$pageview", "b", "2026-03-02T10:00:00Z", {}),
            ("$pageview", "b", "2026-03-04T10:00:00Z", {}),
            ("$pageview", "c", "2026-03-03T10:00:00Z", {}),
        ],
    )  # fmt: skip
    await log_in(client, staff.viewer)
    answer = await page(
        client, "/admin/analytics/retention",
        start_event="$pageview", return_event="$pageview", period="day", periods="3", **MARCH,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert_self_contained(answer.text, data_blocks=True)
    assert tables(answer.text)["Cohorts by day"] == [
        ["Cohort", "People", "Day 0", "Day 1", "Day 2"],
        ["Day of 2026-03-02", "2", "100.0% (2)", "50.0% (1)", "100.0% (2)"],
        ["Day of 2026-03-03", "1", "100.0% (1)", "0.0% (0)", "0.0% (0)"],
    ]
    drawn = chart(answer.text, "retention-chart")
    assert drawn["labels"] == ["Day 0", "Day 1", "Day 2"]
    assert drawn["series"] == [
        {"label": "2026-03-02", "values": [100.0, 50.0, 100.0]},
        {"label": "2026-03-03", "values": [100.0, 0.0, 0.0]},
    ]
    assert 'class="num heat-5" data-period="0"' in answer.text


@pytest.mark.parametrize(
    "case",
    [
        ("/admin/analytics", {"from": "2026-13-01"}, "from", "Enter the date as YYYY-MM-DD"),
        ("/admin/analytics", {"to": "yesterday"}, "to", "Enter the date as YYYY-MM-DD"),
        ("/admin/analytics", {"interval": "minute"}, "interval", "'hour', 'day', 'week' or 'month'"),
        ("/admin/analytics", {"from": "2026-03-05", "to": "2026-03-01"}, "to", "The end date is before"),
        ("/admin/analytics", {"event": ""}, "event", "at least 1 character"),
        (
            "/admin/analytics",
            {"interval": "hour", "from": "2020-01-01", "to": "2026-01-01"},
            "interval",
            "at most 2000: use a longer interval",
        ),
        ("/admin/analytics/funnel", {"steps": ",".join(f"e{i}" for i in range(11))}, "steps", "2 to 10"),
        ("/admin/analytics/funnel", {"steps": "only-one"}, "steps", "2 to 10"),
        ("/admin/analytics/funnel", {"steps": "a,b", "window": "forever"}, "window", "a number and a unit"),
        (
            "/admin/analytics/funnel",
            {"steps": "a,b", "from": "2026-03-09", "to": "2026-03-02"},
            "to",
            "before",
        ),
        ("/admin/analytics/retention", {"periods": "0"}, "periods", "greater than or equal to 1"),
        ("/admin/analytics/retention", {"periods": "many"}, "periods", "valid integer"),
        ("/admin/analytics/retention", {"period": "month"}, "period", "'day' or 'week'"),
        ("/admin/analytics/retention", {"from": "2026-02-30"}, "from", "Enter the date"),
    ],
)
async def test_invalid_controls_are_named_next_to_their_field(
    client: httpx.AsyncClient, staff: Staff, case: tuple[str, dict[str, str], str, str]
) -> None:
    path, params, field, message = case
    await log_in(client, staff.viewer)
    answer = await page(client, path, **params)
    assert answer.status_code == 422, answer.text
    assert message in field_error(answer.text, field)
    assert "These controls need a change" in answer.text
    assert f'href="#field-{field}"' in answer.text  # the summary links to the field
    assert 'type="application/json"' not in answer.text  # no chart of a refused query
    for name, value in params.items():  # what was typed stays in the form
        if value and name not in ("interval", "period"):
            assert f'value="{value}"' in answer.text


async def test_anonymous_visitors_log_in_first_and_every_staff_role_sees_the_pages(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    for path in ("/admin/analytics", "/admin/analytics/funnel", "/admin/analytics/retention"):
        answer = await page(client, path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/admin/login?next=/admin/analytics")
    for email in (staff.viewer, staff.editor, staff.admin):
        await log_in(client, email)
        assert "Analytics" in nav_labels((await page(client, "/admin")).text)
        for path in ("/admin/analytics", "/admin/analytics/funnel", "/admin/analytics/retention"):
            answer = await page(client, path)
            assert answer.status_code == 200, (email, path, answer.text)
            assert answer.headers["cache-control"] == "no-store"
        client.cookies.clear()
