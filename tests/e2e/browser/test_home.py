"""The front page in real Chromium: landmarks, the skip link, assets from this server only."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.browser.conftest import BROWSER_TESTS, Shop, Traffic

pytestmark = BROWSER_TESTS


async def test_the_front_page_shows_categories_and_featured_products(page: Page, shop: Shop) -> None:
    response = await page.goto(shop.url("/"))
    assert response is not None
    assert response.status == 200
    await expect(page).to_have_title("Shelf: shop our catalog")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to Shelf")

    featured = page.get_by_role("region", name="Featured products")
    await expect(featured.get_by_role("link", name="Glacier Merino Scarf")).to_be_visible()
    await expect(featured.get_by_role("link", name="Glacier Enamel Mug")).to_be_visible()
    await expect(featured.get_by_text("€59.00")).to_be_visible()
    await expect(page.get_by_text("Glacier Secret Prototype")).to_have_count(0)  # a draft

    categories = page.get_by_role("region", name="Shop by category")
    await expect(categories.get_by_role("link", name="Apparel")).to_have_attribute(
        "href", "/products?category=apparel"
    )


async def test_landmarks_and_the_skip_link(page: Page, shop: Shop, traffic: Traffic) -> None:
    await page.goto(shop.url("/"))
    for role in ("banner", "main", "contentinfo", "search"):
        await expect(page.get_by_role(role)).to_have_count(1)
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()

    # The first Tab lands on the skip link, which is shown when focused and moves focus to <main>.
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"

    # The stylesheet and the script came from this server, versioned, and did load.
    assert await skip.evaluate("element => getComputedStyle(element).position") == "absolute"
    assets = [url for url in traffic.requests if "/static/" in url]
    assert any("/static/css/shelf.css?v=" in url for url in assets), traffic.requests
    assert any("/static/js/shelf.js?v=" in url for url in assets), traffic.requests


async def test_the_page_policy_blocks_injected_inline_script_and_the_harness_notices(
    page: Page, shop: Shop, traffic: Traffic
) -> None:
    await page.goto(shop.url("/"))
    await page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
        }"""
    )
    assert await page.evaluate("window.injected === undefined")
    for _ in range(100):  # the console message arrives a moment later
        if traffic.console_errors:
            break
        await page.wait_for_timeout(20)
    assert "Content Security Policy" in traffic.console_errors[0], traffic.console_errors
    traffic.console_errors.clear()  # seen and expected: the fixture fails on any other
