"""A shopper's journey in real Chromium: browse, search, open a product, fill the cart, check the total."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.e2e.browser.conftest import BROWSER_TESTS, Shop, Traffic

pytestmark = BROWSER_TESTS
# The list's buttons say which product they add (the product's name is visually hidden).
ADD_MUG = re.compile(r"^Add to cart\W+Glacier Enamel Mug$")


async def test_browse_search_product_add_to_cart_and_the_total_is_right(
    page: Page, shop: Shop, traffic: Traffic
) -> None:
    scarf_id = shop.product_ids["BROWSER-SCARF"]
    await page.goto(shop.url("/"))

    # Browse: the whole catalog, one page at a time.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="All products").click()
    await expect(page).to_have_url(shop.url("/products"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("All products")
    await expect(page.locator(".product-card")).to_have_count(24)
    await page.get_by_role("link", name="Next page").click()
    await expect(page).to_have_url(re.compile(r"/products\?cursor="))
    await expect(page.get_by_role("link", name="First page")).to_be_visible()

    # Search from the header: the draft is never shown to shoppers.
    search = page.get_by_role("search").get_by_role("searchbox", name="Search products")
    await search.fill("glacier")
    await search.press("Enter")
    await expect(page).to_have_url(shop.url("/products?q=glacier"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Results for “glacier”")
    names = page.locator(".product-card__name")
    await expect(names).to_have_text(["Glacier Enamel Mug", "Glacier Merino Scarf"], ignore_case=False)
    await expect(page.get_by_text("Glacier Secret Prototype")).to_have_count(0)

    # The product page, at its readable URL.
    await page.get_by_role("link", name="Glacier Merino Scarf").click()
    await expect(page).to_have_url(shop.url(f"/products/{scarf_id}/glacier-merino-scarf"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Glacier Merino Scarf")
    await expect(page.locator(".buy-box .price")).to_have_text("Price: €59.00")
    await expect(page.locator(".buy-box .stock")).to_have_text("In stock")
    await expect(page.get_by_role("link", name="wool")).to_have_attribute("href", "/products?tag=wool")
    await expect(page.get_by_text("A warm scarf of fine merino wool.")).to_be_visible()
    feedback = page.get_by_role("region", name="Tell us what you think of Glacier Merino Scarf")
    await expect(feedback.get_by_role("button", name="Send feedback")).to_be_visible()

    # Two scarves into the cart.
    await page.get_by_label("Quantity").fill("2")
    await page.get_by_role("button", name="Add to cart").click()
    await expect(page).to_have_url(shop.url(f"/cart?added={scarf_id}"))
    await expect(page.get_by_role("status").filter(has_text="Added Glacier Merino Scarf")).to_be_visible()
    await expect(page.locator(".cart-total")).to_have_text("€118.00")
    await expect(page.locator(".cart-link__count")).to_have_text("2")

    # A mug, added straight from the list.
    await page.go_back()
    await page.go_back()
    await expect(page).to_have_url(shop.url("/products?q=glacier"))
    await page.get_by_role("button", name=ADD_MUG).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")
    await expect(page.locator(".cart-total")).to_have_text("€132.50")  # 2 x 59.00 + 14.50

    # Change a quantity, try to take more than the stock, remove a line.
    await page.get_by_label("Quantity of Glacier Enamel Mug").fill("3")
    await page.get_by_role("button", name="Update quantity of Glacier Enamel Mug").click()
    await expect(page.locator(".cart-total")).to_have_text("€161.50")  # 118.00 + 3 x 14.50
    await page.get_by_label("Quantity of Glacier Enamel Mug").fill("4")
    await page.get_by_role("button", name="Update quantity of Glacier Enamel Mug").click()
    await expect(page.get_by_role("alert")).to_have_text("Only 3 of Glacier Enamel Mug left.")
    await expect(page.locator(".cart-total")).to_have_text("€161.50")
    await page.get_by_role("button", name="Remove Glacier Merino Scarf").click()
    await expect(page.locator(".cart-total")).to_have_text("€43.50")
    await expect(page.locator(".cart-link__count")).to_have_text("3")

    assert all(url.startswith(shop.base_url) for url in traffic.requests), traffic.requests


async def test_the_cart_outlives_the_page_and_a_foreign_post_is_refused(page: Page, shop: Shop) -> None:
    mug_id = shop.product_ids["BROWSER-MUG"]
    await page.goto(shop.url("/products?q=enamel"))
    await page.get_by_role("button", name=ADD_MUG).click()
    await expect(page.locator(".cart-total")).to_have_text("€14.50")

    # A new tab of the same browser sees the same cart.
    other = await page.context.new_page()
    await other.goto(shop.url("/cart"))
    await expect(other.locator(".cart-total")).to_have_text("€14.50")

    # A form post without the page's token (as another site would send it) changes nothing.
    refused = await page.request.post(
        shop.url(f"/cart/items/{mug_id}"), form={"quantity": "2"}, headers={"Accept": "text/html"}
    )
    assert refused.status == 403
    assert "reload the page" in await refused.text()
    await other.reload()
    await expect(other.locator(".cart-total")).to_have_text("€14.50")
