"""Screenshots of the admin console's main pages, for the README's tour.

They are written to ``tmp_path``; to refresh the README's pictures, run
``SHELF_SCREENSHOT_DIR=docs/screenshots .venv/bin/pytest tests/e2e/browser/test_admin_tour.py -n 0``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.browser.conftest import BROWSER_TESTS, DESKTOP, PHONE, Shop
from tests.e2e.browser.console import log_in
from tests.e2e.browser.test_tour import PNG, directory

pytestmark = BROWSER_TESTS
__all__ = ["directory"]  # the fixture: where the screenshots go


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_screenshots_of_the_admin_console(
    browser: Browser, shop: Shop, console_users: dict[str, str], viewport: dict[str, int], directory: Path
) -> None:
    width = "phone" if viewport == PHONE else "desktop"
    context = await browser.new_context(viewport=viewport, locale="en-GB")
    try:
        page = await context.new_page()
        shots: list[tuple[str, bool]] = []

        async def shoot(name: str, *, full_page: bool = True) -> None:
            target = directory / f"admin-{name}-{width}.png"
            await page.screenshot(path=str(target), full_page=full_page)
            with target.open("rb") as written:
                assert written.read(8) == PNG
            shots.append((name, full_page))

        await page.goto(shop.url("/admin/login"))
        await page.get_by_label("Email").fill(console_users["admin"])
        await shoot("login")
        await log_in(page, shop, console_users["admin"])
        await shoot("dashboard")
        await page.goto(shop.url("/admin/products?sort=name"))
        await shoot("products", full_page=False)
        await page.goto(shop.url(f"/admin/products/{shop.product_ids['BROWSER-MUG']}"))
        await page.get_by_label("Price").fill("14,50")
        await page.get_by_label("Stock").fill("-1")
        await page.get_by_role("button", name="Save", exact=True).click()
        await expect(page.locator("#field-price-error")).to_be_visible()
        await shoot("product-error")
        await page.goto(shop.url("/admin/users"))
        await shoot("users")
        assert [name for name, _ in shots] == ["login", "dashboard", "products", "product-error", "users"]
    finally:
        await context.close()
