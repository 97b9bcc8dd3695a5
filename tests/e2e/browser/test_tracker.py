"""The first-party tracker in real Chromium (ADR 0017): a shopper's browse, search, product view and
add-to-cart land in the event table as one visitor; with Do-Not-Track or Global Privacy Control
the browser sends nothing at all; a console login links the visitor to the user ($identify)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.browser.conftest import BROWSER_TESTS, DESKTOP, Shop, Traffic
from tests.e2e.browser.console import log_in

pytestmark = BROWSER_TESTS
EVENTS_PATH = "/storefront/events"
Stored = list[tuple[str, str, dict[str, Any]]]  # (event, distinct_id, properties)


def _events_of(shop: Shop, distinct_id: str) -> Stored:
    """``(event, distinct_id, properties)`` of the tracker's events stored for ``distinct_id``."""
    path = shop.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        found = connection.execute(
            "SELECT event, distinct_id, properties FROM analytics_events"
            " WHERE distinct_id = ? ORDER BY timestamp_ms",
            (distinct_id,),
        ).fetchall()
    stored = [(event, who, json.loads(properties)) for event, who, properties in found]
    # The server's own events for the visitor (flag exposures on the product page) are not the tracker's.
    return [row for row in stored if row[2].get("$lib") == "shelf-tracker"]


async def _wait_for(shop: Shop, distinct_id: str, expected: set[str]) -> Stored:
    deadline = time.monotonic() + 15
    while True:
        stored = _events_of(shop, distinct_id)
        if expected <= {event for event, _who, _properties in stored} or time.monotonic() > deadline:
            return stored
        await asyncio.sleep(0.2)


async def _distinct_id(page: Page) -> str:
    value = await page.locator("script[data-shelf-tracker]").get_attribute("data-distinct-id")
    assert value, "no tracker on the page"
    return value


async def test_a_shoppers_visit_lands_as_one_visitors_events(
    page: Page, shop: Shop, traffic: Traffic
) -> None:
    scarf_id = shop.product_ids["BROWSER-SCARF"]
    await page.goto(shop.url("/"))
    visitor = await _distinct_id(page)

    search = page.get_by_role("search").get_by_role("searchbox", name="Search products")
    await search.fill("glacier")
    await search.press("Enter")
    await expect(page).to_have_url(shop.url("/products?q=glacier"))
    await expect(page.locator(".product-card__name")).to_have_count(2)

    await page.get_by_role("link", name="Glacier Merino Scarf").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Glacier Merino Scarf")
    await page.get_by_label("Quantity").fill("2")
    await page.get_by_role("button", name="Add to cart").click()
    await expect(page).to_have_url(shop.url(f"/cart?added={scarf_id}"))
    await expect(page.locator(".cart-link__count")).to_have_text("2")
    assert await _distinct_id(page) == visitor  # the same visitor on every page

    wanted = {"$pageview", "search", "product_viewed", "add_to_cart"}
    stored = await _wait_for(shop, visitor, wanted)
    names = [event for event, _who, _properties in stored]
    assert wanted <= set(names), names
    assert {who for _event, who, _properties in stored} == {visitor}
    by_name: dict[str, list[dict[str, Any]]] = {}
    for event, _who, properties in stored:
        by_name.setdefault(event, []).append(properties)
    paths = [properties["$pathname"] for properties in by_name["$pageview"]]
    assert paths[:3] == ["/", "/products", f"/products/{scarf_id}/glacier-merino-scarf"], paths
    [searched] = by_name["search"]
    assert (searched["query"], searched["result_count"]) == ("glacier", 2)
    [viewed] = by_name["product_viewed"]
    assert (viewed["product_id"], viewed["sku"], viewed["price"]) == (scarf_id, "BROWSER-SCARF", "59.00")
    [added] = by_name["add_to_cart"]
    assert (added["product_id"], added["quantity"]) == (scarf_id, 2)
    assert all(properties["$lib"] == "shelf-tracker" for _event, _who, properties in stored)
    beacons = [url for url in traffic.requests if url.endswith(EVENTS_PATH)]
    assert 1 <= len(beacons) < len(names), (beacons, names)  # batched: fewer beacons than events


@pytest.fixture(params=["dnt-header", "gpc-script"])
async def private_page(
    request: pytest.FixtureRequest, browser: Browser, traffic: Traffic
) -> AsyncIterator[Page]:
    """A visitor who says no: Do-Not-Track as a header, or Global Privacy Control seen by the script
    only (navigator.globalPrivacyControl, without the Sec-GPC header), so both checks are tested."""
    headers = {"DNT": "1"} if request.param == "dnt-header" else {}
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB", extra_http_headers=headers)
    if request.param == "gpc-script":
        await context.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true })"
        )
    await context.route("**/*", traffic.guard)
    context.on("request", traffic.record)
    tab = await context.new_page()
    yield tab
    await context.close()
    assert not traffic.outside, f"requests left 127.0.0.1: {traffic.outside}"


async def test_with_do_not_track_or_global_privacy_control_nothing_is_sent(
    private_page: Page, shop: Shop, traffic: Traffic
) -> None:
    page = private_page
    scarf_id = shop.product_ids["BROWSER-SCARF"]
    await page.goto(shop.url("/products?q=glacier"))
    visitor = await _distinct_id(page)
    await page.goto(shop.url(f"/products/{scarf_id}/glacier-merino-scarf"))
    await page.get_by_role("button", name="Add to cart").click()
    await expect(page).to_have_url(shop.url(f"/cart?added={scarf_id}"))
    await page.wait_for_timeout(1500)  # longer than the tracker's flush pause
    assert [url for url in traffic.requests if url.endswith(EVENTS_PATH)] == []
    assert _events_of(shop, visitor) == []


async def test_logging_in_to_the_console_links_the_visitor_to_the_user(
    page: Page, shop: Shop, console_users: dict[str, str]
) -> None:
    await page.goto(shop.url("/products"))
    visitor = await _distinct_id(page)
    await log_in(page, shop, console_users["viewer"])
    path = shop.database_url.removeprefix("sqlite:///")
    deadline = time.monotonic() + 15
    while True:
        with sqlite3.connect(path) as connection:
            identified = connection.execute(
                "SELECT distinct_id, properties FROM analytics_events WHERE event = '$identify'"
            ).fetchall()
            links = connection.execute(
                "SELECT distinct_id FROM analytics_person_aliases WHERE anon_distinct_id = ?", (visitor,)
            ).fetchall()
        mine = [who for who, raw in identified if json.loads(raw)["$anon_distinct_id"] == visitor]
        if mine or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert len(mine) == 1, identified
    assert mine[0].startswith("user:"), mine
    assert links == [(mine[0],)]
