"""Screenshots of the storefront's main pages, at phone and desktop width, for the README's tour.

They are written to ``tmp_path``; to refresh the README's pictures, run
``SHELF_SCREENSHOT_DIR=docs/screenshots .venv/bin/pytest tests/e2e/browser/test_tour.py -n 0``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.browser.conftest import BROWSER_TESTS, DESKTOP, PHONE, Shop

pytestmark = BROWSER_TESTS
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    chosen = Path(os.environ.get("SHELF_SCREENSHOT_DIR") or tmp_path)
    chosen.mkdir(parents=True, exist_ok=True)
    return chosen


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_screenshots_of_the_storefront(
    browser: Browser, shop: Shop, viewport: dict[str, int], directory: Path
) -> None:
    width = "phone" if viewport == PHONE else "desktop"
    context = await browser.new_context(viewport=viewport, locale="en-GB")
    try:
        page = await context.new_page()
        scarf = f"/products/{shop.product_ids['BROWSER-SCARF']}/glacier-merino-scarf"
        await page.goto(shop.url(scarf))
        await page.get_by_label("Quantity").fill("2")
        await page.get_by_role("button", name="Add to cart").click()
        await page.goto(shop.url("/products?q=glacier"))
        await page.get_by_role("button", name="Add to cart", exact=False).first.click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")
        shots = {"home": "/", "list": "/products?category=apparel", "product": scarf, "cart": "/cart"}
        for name, path in shots.items():
            await page.goto(shop.url(path))
            target = directory / f"{name}-{width}.png"
            await page.screenshot(path=str(target), full_page=name != "list")
            with target.open("rb") as written:
                assert written.read(8) == PNG
    finally:
        await context.close()
