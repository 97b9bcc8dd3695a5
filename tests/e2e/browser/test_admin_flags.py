"""An editor creates a flag in the console: weights that do not sum to 100 are refused next to the
Variants field, the fixed flag is created, and the "evaluate for this context" form answers for a
Norwegian shopper (a rule) and, as one types, for a Swedish one (the split), reason and all.

The pages are saved as ``admin-flags-*.png`` in ``tmp_path``; to refresh the README's pictures run
``SHELF_SCREENSHOT_DIR=docs/screenshots .venv/bin/pytest tests/e2e/browser/test_admin_flags.py -n 0``.
"""

from __future__ import annotations

import json
from pathlib import Path

from playwright.async_api import Page, expect

from shelf.flags.evaluation import bucket
from tests.e2e.browser.conftest import BROWSER_TESTS, Shop
from tests.e2e.browser.console import log_in
from tests.e2e.browser.test_tour import PNG, directory

pytestmark = BROWSER_TESTS
__all__ = ["directory"]  # the fixture: where the screenshots go

KEY = "browser.winter-banner"
RULES = [{"conditions": [{"attribute": "country", "op": "eq", "value": "NO"}], "variant": "snow"}]


def _variants(snow: int, plain: int) -> str:
    return json.dumps([{"key": "plain", "weight": plain}, {"key": "snow", "weight": snow}])


async def _shot(page: Page, target: Path) -> None:
    await page.screenshot(path=str(target), full_page=True)
    with target.open("rb") as written:
        assert written.read(8) == PNG


async def test_an_editor_fixes_a_refused_flag_then_previews_it_for_two_shoppers(
    page: Page, shop: Shop, console_users: dict[str, str], directory: Path
) -> None:
    await log_in(page, shop, console_users["editor"])
    await page.get_by_role("navigation", name="Console").get_by_role("link", name="Flags").click()
    await expect(page).to_have_url(shop.url("/admin/flags"))
    await expect(page.get_by_role("heading", name="Flags", level=1)).to_be_visible()
    await expect(page.get_by_role("link", name="storefront.product-page-layout")).to_be_visible()  # seeded

    await page.get_by_role("link", name="New flag").click()
    await page.get_by_label("Key").fill(KEY)
    await page.get_by_label("Description").fill("A snowy banner on the front page")
    await page.get_by_label("Type").select_option("multivariate")
    await page.get_by_label("Rollout").fill("100")
    await page.get_by_label("Variants").fill(_variants(snow=50, plain=40))
    await page.get_by_label("Rules").fill(json.dumps(RULES))
    await page.get_by_role("button", name="Create flag").click()

    variants = page.get_by_label("Variants")
    error = page.locator("#field-variants-error")
    await expect(error).to_have_text("Error: Variant weights must sum to 100.")
    await expect(variants).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_role("alert").filter(has_text="There is a problem")).to_be_visible()
    await expect(page.get_by_label("Key")).to_have_value(KEY)  # what was typed stays
    await _shot(page, directory / "admin-flags-error-desktop.png")

    await variants.fill(_variants(snow=50, plain=50))
    await page.get_by_role("button", name="Create flag").click()
    await expect(page).to_have_url(shop.url(f"/admin/flags/{KEY}?created=1"))
    await expect(page.get_by_text("Flag created.")).to_be_visible()

    result = page.locator("[data-testid=preview-result]")
    await page.get_by_label("Targeting key").fill("shopper-42")
    await page.get_by_label("Context attributes").fill('{"country": "NO"}')
    await page.get_by_role("button", name="Evaluate").click()
    await expect(result.get_by_test_id("preview-reason")).to_have_text("TARGETING_MATCH")
    await expect(result.get_by_test_id("preview-variant")).to_have_text("snow")

    # Live: the answer follows the context as it is typed, without pressing Evaluate.
    expected = "plain" if bucket(KEY, "shopper-42", "variant") < 0.5 else "snow"
    await page.get_by_label("Context attributes").fill('{"country": "SE"}')
    await expect(result.get_by_test_id("preview-reason")).to_have_text("SPLIT")
    await expect(result.get_by_test_id("preview-variant")).to_have_text(expected)
    await _shot(page, directory / "admin-flags-preview-desktop.png")

    # Without JavaScript the same form loads the page with the answer (the URL says what was asked).
    await page.reload()
    await expect(page.get_by_label("Context attributes")).to_have_value('{"country": "SE"}')
    await expect(result.get_by_test_id("preview-reason")).to_have_text("SPLIT")

    await page.get_by_role("link", name="Flags", exact=True).first.click()
    row = page.locator(f"tr[data-flag='{KEY}']")
    await expect(row).to_contain_text("100% get a variant: plain 50%, snow 50%; 1 rule first")
    await expect(row).to_contain_text("never")  # a preview is not an evaluation
