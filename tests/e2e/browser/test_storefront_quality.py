"""What every storefront page must be: light, keyboard-friendly, labelled, readable, phone-sized."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.browser.conftest import BROWSER_TESTS, DESKTOP, PHONE, Shop

pytestmark = BROWSER_TESTS

MAX_OWN_CSS_AND_JS_BYTES = 100 * 1024


async def _fill_cart(page: Page, shop: Shop) -> None:
    await page.goto(shop.url(f"/products/{shop.product_ids['BROWSER-SCARF']}"))
    await page.get_by_role("button", name="Add to cart").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")


def storefront_pages(shop: Shop) -> dict[str, str]:
    return {
        "home": "/",
        "list": "/products",
        "search": "/products?q=glacier&sort=price",
        "product": f"/products/{shop.product_ids['BROWSER-SCARF']}/glacier-merino-scarf",
        "cart": "/cart",
        "feedback": f"/feedback?product={shop.product_ids['BROWSER-SCARF']}",
        "missing": "/no/such/page",
    }


async def test_no_page_carries_more_than_100_kb_of_its_own_css_and_javascript(page: Page, shop: Shop) -> None:
    await _fill_cart(page, shop)
    weights: dict[str, int] = {}
    for name, path in storefront_pages(shop).items():
        await page.goto(shop.url(path), wait_until="load")
        # The browser's own account of what the page loaded (also for files from its cache).
        own = await page.evaluate(
            """() => performance.getEntriesByType("resource")
                .filter(entry => /\\.(css|js)(\\?|$)/.test(new URL(entry.name).pathname + "?"))
                .map(entry => [entry.name, entry.decodedBodySize])"""
        )
        assert own, f"{name}: no stylesheet or script was loaded"
        assert all(url.startswith(shop.base_url) for url, _size in own), own
        assert all(size > 0 for _url, size in own), own
        weights[name] = sum(size for _url, size in own)
    print("own CSS+JS bytes per page:", weights)  # noqa: T201 - the figure docs/performance.md quotes
    too_heavy = {name: size for name, size in weights.items() if size > MAX_OWN_CSS_AND_JS_BYTES}
    assert not too_heavy, too_heavy


async def _tab_stops(page: Page, count: int) -> list[str]:
    stops = []
    for _ in range(count):
        await page.keyboard.press("Tab")
        stops.append(
            await page.evaluate(
                """() => {
                    const el = document.activeElement;
                    const style = getComputedStyle(el);
                    if (style.outlineStyle === "none" && style.boxShadow === "none") return "NO FOCUS RING";
                    const name =
                        el.getAttribute("aria-label") || el.labels?.[0]?.innerText || el.innerText;
                    const words = (name || el.name || "").trim().replace(/\\s+/g, " ");
                    return `${el.tagName.toLowerCase()}:${words}`;
                }"""
            )
        )
    return stops


async def test_keyboard_focus_follows_the_page_on_the_product_page(page: Page, shop: Shop) -> None:
    await page.goto(shop.url(f"/products/{shop.product_ids['BROWSER-SCARF']}/glacier-merino-scarf"))
    # The visitor is in one of storefront.product-page-layout's variants (flags/demo.py): "control"
    # has the tags, after the description, then the buy box beside them; "gallery" the buy box first.
    layout = await page.get_attribute("article.product", "data-layout")
    tags, buy_box = ["a:wool", "a:featured"], ["input:Quantity", "button:Add to cart"]
    main_column = [*buy_box, *tags] if layout == "gallery" else [*tags, *buy_box]
    stops = await _tab_stops(page, 19)
    assert stops == [
        "a:Skip to main content",
        "a:Shelf",
        "input:Search products",
        "button:Search",
        "a:All products",
        "a:Feedback",
        "a:Cart 0 items",
        "a:Home",  # the breadcrumbs
        "a:Products",
        "a:Apparel",
        "a:Glacier Merino Scarf",
        *main_column,
        "input:★☆☆☆☆ 1 star, poor",  # the feedback form: one stop for the rating's radio group
        "textarea:Your message",
        "input:Email (optional)",  # its honeypot is out of the tab order
        "button:Send feedback",
    ], stops  # each stop also showed a focus ring, or it would read "NO FOCUS RING"


async def test_every_form_control_has_a_label(page: Page, shop: Shop) -> None:
    await _fill_cart(page, shop)
    for name, path in storefront_pages(shop).items():
        await page.goto(shop.url(path))
        unlabelled = await page.eval_on_selector_all(
            "input:not([type=hidden]), select, textarea, button",
            """controls => controls
                .filter(c => !(
                    c.labels?.length || c.getAttribute("aria-label")
                    || (c.tagName === "BUTTON" && c.innerText.trim())
                ))
                .map(c => c.outerHTML)""",
        )
        assert not unlabelled, f"{name}: {unlabelled}"


CONTRAST = """selector => {
    const channel = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    const luminance = rgb => {
        const [r, g, b] = rgb.match(/[\\d.]+/g).map(Number);
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    };
    const background = el => {
        for (; el; el = el.parentElement) {
            const colour = getComputedStyle(el).backgroundColor;
            if (colour !== "rgba(0, 0, 0, 0)" && colour !== "transparent") return colour;
        }
        return "rgb(255, 255, 255)";
    };
    const shown = [...document.querySelectorAll(selector)]
        .filter(el => el.offsetParent && el.innerText.trim());
    return shown.map(el => {
        const [a, b] = [luminance(getComputedStyle(el).color), luminance(background(el))];
        return [el.innerText.trim().slice(0, 40), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
    });
}"""


async def test_text_contrast_meets_wcag_aa(page: Page, shop: Shop) -> None:
    await _fill_cart(page, shop)
    selector = "h1, h2, p, a, button, label, dt, dd, td, th, li, span, legend"
    for name, path in storefront_pages(shop).items():
        await page.goto(shop.url(path))
        pairs = await page.evaluate(CONTRAST, selector)
        assert pairs, name
        low = [(text, round(ratio, 2)) for text, ratio in pairs if ratio < 4.5]
        assert not low, f"{name}: text below 4.5:1 contrast: {low}"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_pages_fit_the_screen_without_sideways_scrolling(
    browser: Browser, shop: Shop, viewport: dict[str, int]
) -> None:
    context = await browser.new_context(viewport=viewport)
    try:
        page = await context.new_page()
        await _fill_cart(page, shop)
        for name, path in storefront_pages(shop).items():
            await page.goto(shop.url(path))
            overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} is {overflow}px wider than a {viewport['width']}px screen"
            buttons: Callable[[], Awaitable[list[float]]] = lambda: page.eval_on_selector_all(  # noqa: E731
                ".button", "els => els.filter(e => e.offsetParent).map(e => e.getBoundingClientRect().height)"
            )
            assert all(height >= 44 for height in await buttons()), f"{name}: a button under 44px"
    finally:
        await context.close()
