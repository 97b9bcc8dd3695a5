"""What every console page must be: light, labelled, readable, keyboard-friendly, phone-sized."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.e2e.browser.conftest import BROWSER_TESTS, DESKTOP, PHONE, Shop
from tests.e2e.browser.console import log_in, nav_labels
from tests.e2e.browser.test_storefront_quality import CONTRAST, MAX_OWN_CSS_AND_JS_BYTES, _tab_stops
from tests.process import shelf

pytestmark = BROWSER_TESTS


# What every console page loads, and what the analytics pages add: uPlot (vendored, ~51 KB, counted
# like any other file of the page) and the script and styles that draw with it.
CONSOLE_ASSETS = {"shelf.css", "admin.css", "shelf.js", "admin.js"}
CHART_ASSETS = {"uPlot.min.css", "uPlot.iife.min.js", "analytics.css", "analytics.js"}


def console_pages(shop: Shop) -> dict[str, str]:
    return {
        "dashboard": "/admin",
        "products": "/admin/products",
        "filtered": "/admin/products?q=glacier&status=active&sort=-price",
        "new product": "/admin/products/new",
        "product": f"/admin/products/{shop.product_ids['BROWSER-MUG']}",
        "users": "/admin/users",
        "api keys": "/admin/apikeys",
        "audit log": "/admin/audit",
        "import & export": "/admin/imports",
        "flags": "/admin/flags",
        "new flag": "/admin/flags/new",
        "flag": "/admin/flags/storefront.product-page-layout?targeting_key=shopper-1&attributes=%7B%7D",
        "analytics": "/admin/analytics",
        "analytics by week, with a breakdown": "/admin/analytics?interval=week&breakdown=path",
        "funnel": "/admin/analytics/funnel",
        "retention": "/admin/analytics/retention?period=day&periods=14",
        "missing": "/admin/no-such-page",
    }


async def test_no_console_page_carries_more_than_100_kb_of_its_own_css_and_javascript(
    page: Page, shop: Shop, console_users: dict[str, str]
) -> None:
    await page.goto(shop.url("/admin/login"))
    weights: dict[str, int] = {}
    await log_in(page, shop, console_users["admin"])
    for name, path in {"login": "/admin/login", **console_pages(shop)}.items():
        await page.goto(shop.url(path), wait_until="load")
        own = await page.evaluate(
            """() => performance.getEntriesByType("resource")
                .filter(entry => /\\.(css|js)(\\?|$)/.test(new URL(entry.name).pathname + "?"))
                .map(entry => [entry.name, entry.decodedBodySize])"""
        )
        expected = CONSOLE_ASSETS | (CHART_ASSETS if path.startswith("/admin/analytics") else set())
        assert {url.split("?")[0].rsplit("/", 1)[1] for url, _ in own} == expected, name
        assert all(url.startswith(shop.base_url) and size > 0 for url, size in own), own
        weights[name] = sum(size for _url, size in own)
    print("own CSS+JS bytes per console page:", weights)  # noqa: T201 - the figure docs/performance.md quotes
    assert not {name: size for name, size in weights.items() if size > MAX_OWN_CSS_AND_JS_BYTES}


async def test_every_control_is_labelled_and_every_page_has_its_landmarks(
    page: Page, shop: Shop, console_users: dict[str, str]
) -> None:
    await log_in(page, shop, console_users["admin"])
    for name, path in console_pages(shop).items():
        await page.goto(shop.url(path))
        unlabelled = await page.eval_on_selector_all(
            "input:not([type=hidden]), select, textarea, button",
            """controls => controls
                .filter(c => !(c.labels?.length || c.getAttribute("aria-label")
                               || (c.tagName === "BUTTON" && c.innerText.trim())))
                .map(c => c.outerHTML)""",
        )
        assert not unlabelled, f"{name}: {unlabelled}"
        for landmark in ("banner", "main", "contentinfo"):
            assert await page.get_by_role(landmark).count() == 1, f"{name}: {landmark}"
        assert await page.get_by_role("heading", level=1).count() == 1, name


async def test_text_contrast_meets_wcag_aa(page: Page, shop: Shop, console_users: dict[str, str]) -> None:
    await page.goto(shop.url("/admin/login"))
    pairs = await page.evaluate(CONTRAST, "h1, p, a, button, label")
    await log_in(page, shop, console_users["admin"])
    selector = "h1, h2, p, a, button, label, dt, dd, td, th, li, span, legend, code"
    for name, path in console_pages(shop).items():
        await page.goto(shop.url(path))
        pairs += await page.evaluate(CONTRAST, selector)
        low = [(text, round(ratio, 2)) for text, ratio in pairs if ratio < 4.5]
        assert not low, f"{name}: text below 4.5:1 contrast: {low}"


async def test_keyboard_focus_follows_the_login_page_and_the_product_form(
    page: Page, shop: Shop, console_users: dict[str, str]
) -> None:
    await page.goto(shop.url("/admin/login"))
    assert await _tab_stops(page, 6) == [
        "a:Skip to main content",
        "a:Shelf admin",
        "input:Email *",
        "input:Password *",
        "button:Log in",
        "a:View the shop",
    ]
    await log_in(page, shop, console_users["editor"], "/admin/products/new")
    areas = [f"a:{label}" for label in nav_labels("editor")]
    stops = await _tab_stops(page, 17 + len(areas))
    assert stops == [
        "a:Skip to main content",
        "a:Shelf admin",
        *areas,
        "button:Log out",
        "a:Products",  # the breadcrumbs
        "a:New product",
        "input:Name *",
        "input:SKU *",
        "textarea:Description",
        "input:Tags",
        "textarea:Attributes",
        "select:Status",
        "input:Price *",
        "select:Currency",
        "input:Category",
        "input:Stock",
        "button:Create product",
        "a:Cancel",
    ], stops  # each stop also showed a focus ring, or it would read "NO FOCUS RING"


@pytest.fixture(scope="module")
def gone_product(shop: Shop) -> str:
    """A product that was viewed today and is gone since: the top products name it by its id, the
    widest thing their tables hold (36 characters that a name would have wrapped)."""
    created = shelf(
        "apikeys", "create", "--name", "quality-client", "--role", "client", database_url=shop.database_url
    )
    assert created.returncode == 0, created.stderr
    product_id = str(uuid.uuid4())
    event = {
        "event": "product_viewed",
        "distinct_id": "quality-visitor",
        "timestamp": datetime.now(UTC).isoformat(),
        "properties": {"product_id": product_id},
        "uuid": str(uuid.uuid4()),
    }
    body = {"api_key": created.stdout.strip().splitlines()[-1], "batch": [event]}
    sent = httpx.post(shop.url("/batch/"), json=body, timeout=10)
    assert sent.status_code == 200, sent.text
    return product_id


async def _until_shown(page: Page, url: str, text: str) -> None:
    for _ in range(50):  # events are buffered, then written within a fraction of a second
        await page.goto(url)
        if text in await page.content():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never showed {text}")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_console_pages_fit_the_screen_without_sideways_scrolling(
    browser: Browser, shop: Shop, console_users: dict[str, str], viewport: dict[str, int], gone_product: str
) -> None:
    context = await browser.new_context(viewport=viewport)
    try:
        page = await context.new_page()
        await log_in(page, shop, console_users["admin"])
        await _until_shown(page, shop.url("/admin/analytics"), gone_product)
        for name, path in console_pages(shop).items():
            await page.goto(shop.url(path))
            overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} is {overflow}px wider than a {viewport['width']}px screen"
            heights = await page.eval_on_selector_all(
                ".button", "els => els.filter(e => e.offsetParent).map(e => e.getBoundingClientRect().height)"
            )
            assert all(height >= 44 for height in heights), f"{name}: a button under 44px"
    finally:
        await context.close()
