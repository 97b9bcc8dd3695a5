"""The analytics pages in real Chromium, as a viewer uses them: events sent through PostHog's
``/batch/`` route, then trends by day, by week and with a breakdown, the funnel and the retention
cohorts, each a uPlot canvas that was drawn (pixels on it) over a table whose numbers are the
hand-computed ones and the chart's own data.

The pages are saved as ``admin-analytics-{trends,funnel,retention}-desktop.png`` in ``tmp_path``;
to refresh the README's picture run ``SHELF_SCREENSHOT_DIR=docs/screenshots .venv/bin/pytest
tests/e2e/browser/test_admin_analytics.py -n 0``.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.e2e.browser.conftest import BROWSER_TESTS, Shop, Traffic
from tests.e2e.browser.console import guarded_context, log_in
from tests.e2e.browser.test_tour import PNG, directory
from tests.process import shelf

pytestmark = BROWSER_TESTS
__all__ = ["directory"]  # the fixture: where the screenshots go

# Week of Monday 2 March 2026 and the next one; event names of this test only.
VIEW, DETAIL, CART = "atlas_view", "atlas_detail", "atlas_cart"
EVENTS = [
    (VIEW, "p0", "2026-03-02T10:00:00Z", "mugs"),
    (DETAIL, "p0", "2026-03-02T10:02:00Z", None),
    (CART, "p0", "2026-03-02T10:12:00Z", None),
    (VIEW, "p1", "2026-03-02T10:10:00Z", "mugs"),
    (DETAIL, "p1", "2026-03-02T10:20:00Z", None),
    (VIEW, "p2", "2026-03-02T11:00:00Z", "scarves"),
    (VIEW, "p0", "2026-03-03T09:00:00Z", "scarves"),
    (VIEW, "p3", "2026-03-03T09:30:00Z", "mugs"),
    (DETAIL, "p3", "2026-03-03T09:34:00Z", None),
    (CART, "p3", "2026-03-03T09:40:00Z", None),
    (VIEW, "p1", "2026-03-04T12:00:00Z", "mugs"),
    (VIEW, "p4", "2026-03-09T10:00:00Z", "scarves"),
    (VIEW, "p0", "2026-03-09T10:30:00Z", "mugs"),
]
FIRST, LAST = "2026-03-02", "2026-03-09"
NONE = "\N{EN DASH}"


def _key(shop: Shop, role: str) -> str:
    done = shelf(
        "apikeys", "create", "--name", f"analytics-{role}", "--role", role, database_url=shop.database_url
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def seeded(shop: Shop) -> Shop:
    """The shop with this module's events, stored."""
    _seed(shop)
    return shop


def _seed(shop: Shop) -> None:
    batch = [
        {
            "event": event,
            "distinct_id": f"atlas-{who}",
            "timestamp": at,
            "properties": {"shelf_section": section} if section else {},
            "uuid": str(uuid.uuid4()),
        }
        for event, who, at, section in EVENTS
    ]
    sent = httpx.post(shop.url("/batch/"), json={"api_key": _key(shop, "client"), "batch": batch}, timeout=10)
    assert sent.status_code == 200, sent.text
    viewer = {"Authorization": f"Bearer {_key(shop, 'viewer')}"}
    params = {"event": CART, "interval": "week", "from": FIRST, "to": "2026-03-16"}
    for _ in range(50):  # buffered, then written within a fraction of a second
        trends = httpx.get(shop.url("/api/v1/analytics/trends"), params=params, headers=viewer, timeout=10)
        if sum(point["count"] for point in trends.json()["series"]) == 2:
            return
        time.sleep(0.2)
    raise AssertionError(f"the events were not stored: {trends.text}")


async def _rows(table: Locator) -> list[list[str]]:
    rows: list[list[str]] = await table.locator("tr").evaluate_all(
        "rows => rows.map(row => [...row.cells].map(cell => cell.innerText.trim()))"
    )
    return rows


async def _chart(page: Page, testid: str) -> dict[str, Any]:
    """The chart's data (its JSON block), once uPlot drew it: a canvas with coloured pixels."""
    holder = page.get_by_test_id(testid)
    canvas = holder.locator("canvas")
    await expect(canvas).to_have_count(1)
    painted = await canvas.evaluate(
        """canvas => {
            const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted += 1;
            return painted;
        }"""
    )
    assert painted > 1000, f"{testid}: the canvas is (nearly) blank"
    source = await holder.get_attribute("data-chart")
    data: dict[str, Any] = json.loads(await page.locator(f"script#{source}").inner_text())
    return data


async def _legend(page: Page, testid: str) -> list[str]:
    """The chart's legend: the x axis's name, then each series."""
    labels: list[str] = await page.get_by_test_id(testid).locator(".u-legend .u-series th").all_inner_texts()
    return [label.strip() for label in labels]


async def _shoot(page: Page, directory: Path, name: str) -> None:
    target = directory / f"admin-analytics-{name}-desktop.png"
    await page.screenshot(path=str(target), full_page=True)
    with target.open("rb") as written:
        assert written.read(8) == PNG


async def test_a_viewer_reads_trends_by_day_by_week_and_with_a_breakdown(
    page: Page, seeded: Shop, console_users: dict[str, str], directory: Path
) -> None:
    shop = seeded
    await log_in(page, shop, console_users["viewer"])
    await page.get_by_role("navigation", name="Console").get_by_role("link", name="Analytics").click()
    await expect(page.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    await expect(page.get_by_test_id("trends-chart").locator("canvas")).to_have_count(1)  # the default range

    await page.get_by_label("Event", exact=True).fill(VIEW)
    await page.get_by_label("From", exact=True).fill(FIRST)
    await page.get_by_label("To", exact=True).fill(LAST)
    await page.get_by_role("button", name="Show").click()
    table = page.get_by_role("table", name=f"{VIEW} per day")
    day_rows = [
        ["Day", "Events", "Unique users"],
        ["2026-03-02", "3", "3"],
        ["2026-03-03", "2", "2"],
        ["2026-03-04", "1", "1"],
        *[[f"2026-03-0{day}", "0", "0"] for day in range(5, 9)],
        ["2026-03-09", "2", "2"],
    ]
    assert await _rows(table) == day_rows
    drawn = await _chart(page, "trends-chart")
    assert drawn["series"][0]["values"] == [int(row[1]) for row in day_rows[1:]]
    assert drawn["series"][1]["values"] == [int(row[2]) for row in day_rows[1:]]
    assert await _legend(page, "trends-chart") == ["Day", "Events", "Unique users"]

    await page.get_by_label("Interval", exact=True).select_option("week")
    await page.get_by_role("button", name="Show").click()
    weekly = page.get_by_role("table", name=f"{VIEW} per week")
    assert await _rows(weekly) == [
        ["Week", "Events", "Unique users"],
        ["Week of 2026-03-02", "6", "4"],
        ["Week of 2026-03-09", "2", "2"],
    ]
    assert (await _chart(page, "trends-chart"))["series"][0]["values"] == [6, 2]

    await page.get_by_label("Breakdown by property", exact=True).fill("shelf_section")
    await page.get_by_role("button", name="Show").click()
    by_section = page.get_by_role("table", name=f"Events of {VIEW} per week by shelf_section")
    assert await _rows(by_section) == [
        ["Week", "mugs", "scarves"],
        ["Week of 2026-03-02", "4", "2"],
        ["Week of 2026-03-09", "1", "1"],
    ]
    drawn = await _chart(page, "trends-chart")
    assert [(series["label"], series["values"]) for series in drawn["series"]] == [
        ("mugs", [4, 1]),
        ("scarves", [2, 1]),
    ]
    assert await _legend(page, "trends-chart") == ["Week", "mugs", "scarves"]
    await _chart(page, "active-chart")
    await _shoot(page, directory, "trends")


async def test_a_viewer_reads_a_funnel(
    page: Page, seeded: Shop, console_users: dict[str, str], directory: Path
) -> None:
    await log_in(page, seeded, console_users["viewer"], "/admin/analytics")
    await page.get_by_role("navigation", name="Analytics").get_by_role("link", name="Funnel").click()
    await expect(page.get_by_role("heading", name="Funnel", level=1)).to_be_visible()
    await page.get_by_label("Steps", exact=True).fill(f"{VIEW},{DETAIL},{CART}")
    await page.get_by_label("Conversion window", exact=True).fill("1d")
    await page.get_by_label("From", exact=True).fill(FIRST)
    await page.get_by_label("To", exact=True).fill(LAST)
    await page.get_by_role("button", name="Show").click()
    steps = page.get_by_role("table", name="Funnel steps")
    assert (await _rows(steps))[1:] == [
        [f"1. {VIEW}", "5", "100.0%", NONE, NONE, NONE],
        [f"2. {DETAIL}", "3", "60.0%", "60.0%", "2", "4 min"],
        [f"3. {CART}", "2", "40.0%", "66.7%", "1", "8 min"],
    ]
    await expect(page.locator('[data-field="median_to_convert"]')).to_have_text("11 min")
    assert (await _chart(page, "funnel-chart"))["series"][0]["values"] == [5, 3, 2]
    await _shoot(page, directory, "funnel")


async def test_a_viewer_reads_retention_cohorts_and_a_refused_control(
    page: Page, seeded: Shop, console_users: dict[str, str], directory: Path
) -> None:
    await log_in(page, seeded, console_users["viewer"], "/admin/analytics")
    await page.get_by_role("navigation", name="Analytics").get_by_role("link", name="Retention").click()
    await page.get_by_label("First event", exact=True).fill(VIEW)
    await page.get_by_label("Return event", exact=True).fill(VIEW)
    await page.get_by_label("Period", exact=True).select_option("week")
    await page.get_by_label("Periods", exact=True).fill("2")
    await page.get_by_label("From", exact=True).fill(FIRST)
    await page.get_by_label("To", exact=True).fill(LAST)
    await page.get_by_role("button", name="Show").click()
    cohorts = page.get_by_role("table", name="Cohorts by week")
    assert await _rows(cohorts) == [
        ["Cohort", "People", "Week 0", "Week 1"],
        ["Week of 2026-03-02", "4", "100.0% (4)", "25.0% (1)"],
        ["Week of 2026-03-09", "1", "100.0% (1)", "0.0% (0)"],
    ]
    drawn = await _chart(page, "retention-chart")
    assert [series["values"] for series in drawn["series"]] == [[100.0, 25.0], [100.0, 0.0]]
    await _shoot(page, directory, "retention")

    # A refused control: the message beside the field, no chart, and nothing broke (no 500).
    await page.get_by_label("Periods", exact=True).fill("0")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("#field-periods-error")).to_contain_text("greater than or equal to 1")
    await expect(page.locator("canvas")).to_have_count(0)


async def test_without_javascript_the_tables_carry_every_number(
    browser: Browser, seeded: Shop, console_users: dict[str, str], traffic: Traffic
) -> None:
    context = await guarded_context(browser, traffic, java_script_enabled=False)
    try:
        page = await context.new_page()
        await log_in(
            page,
            seeded,
            console_users["viewer"],
            f"/admin/analytics?event={VIEW}&interval=week&from={FIRST}&to={LAST}",
        )
        weekly = page.get_by_role("table", name=f"{VIEW} per week")
        assert (await _rows(weekly))[1:] == [
            ["Week of 2026-03-02", "6", "4"],
            ["Week of 2026-03-09", "2", "2"],
        ]
        await expect(page.locator("canvas")).to_have_count(0)
        await expect(page.get_by_role("table", name="Active users per day")).to_be_visible()
    finally:
        await context.close()
