"""The admin console in real Chromium against a real ``shelf serve``: the journeys of issue 5."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from tests.e2e.browser.conftest import BROWSER_TESTS, Shop, Traffic
from tests.e2e.browser.console import guarded_context, log_in, nav_labels

pytestmark = BROWSER_TESTS


async def test_create_a_product_with_a_bad_price_fix_it_and_find_it_in_the_shop(
    page: Page, shop: Shop, console_users: dict[str, str], traffic: Traffic
) -> None:
    await log_in(page, shop, console_users["admin"])
    await page.get_by_role("navigation", name="Console").get_by_role("link", name="Products").click()
    await page.get_by_role("link", name="New product").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("New product")

    await page.get_by_label("Name").fill("Fjord Rain Jacket")
    await page.get_by_label("SKU").fill("FJORD-JACKET")
    await page.get_by_label("Description").fill("Waterproof, breathable, packable.")
    await page.get_by_label("Price").fill("129,00")  # a comma: not a price Shelf reads
    await page.get_by_label("Currency").select_option("EUR")
    await page.get_by_label("Status").select_option("active")
    await page.get_by_label("Category").fill("apparel")
    await page.get_by_label("Tags").fill("rain, outdoor")
    await page.get_by_label("Stock").fill("15")
    await page.get_by_role("button", name="Create product").click()

    price = page.get_by_label("Price")
    await expect(price).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#field-price-error")).to_have_text(
        'Error: Amount must be a decimal number such as "249.00".'
    )
    await expect(price).to_have_accessible_description(re.compile("Amount must be a decimal number"))
    await expect(page.locator(".error-summary")).to_be_focused()  # shelf.js: read what needs fixing
    await expect(page.get_by_label("Name")).to_have_value("Fjord Rain Jacket")  # nothing typed is lost
    await expect(page.get_by_label("Tags")).to_have_value("rain, outdoor")

    await page.locator(".error-summary").get_by_role("link").click()
    await expect(price).to_be_focused()
    await price.fill("129.00")
    await page.get_by_role("button", name="Create product").click()
    await expect(page.get_by_role("status").filter(has_text="Product created.")).to_be_visible()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Fjord Rain Jacket")

    await page.get_by_role("link", name="View it in the shop").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Fjord Rain Jacket")
    await expect(page.locator(".buy-box .price")).to_have_text("Price: €129.00")
    await page.goto(shop.url("/products?q=fjord"))
    await expect(page.locator(".product-card__name")).to_have_text(["Fjord Rain Jacket"])
    assert all(url.startswith(shop.base_url) for url in traffic.requests)


async def test_an_edit_conflict_is_shown_and_the_latest_version_can_be_reloaded(
    browser: Browser, page: Page, shop: Shop, console_users: dict[str, str], traffic: Traffic
) -> None:
    scarf = shop.product_ids["BROWSER-SCARF"]
    other = await guarded_context(browser, traffic)
    try:
        second = await other.new_page()
        await log_in(page, shop, console_users["editor"], f"/admin/products/{scarf}")
        await log_in(second, shop, console_users["admin"], f"/admin/products/{scarf}")
        stock_before = await page.get_by_label("Stock").input_value()

        # The first editor saves a new stock.
        await page.get_by_label("Stock").fill("11")
        await page.get_by_role("button", name="Save", exact=True).click()
        await expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()

        # The second, who loaded the product before that, saves a new description: refused.
        await second.get_by_label("Description").fill("Now in a longer cut.")
        await second.get_by_role("button", name="Save", exact=True).click()
        conflict = second.get_by_role("alert").filter(has_text="Someone else saved this product first")
        await expect(conflict).to_be_visible()
        await expect(conflict).to_contain_text("Your changes are not saved")
        await expect(second.get_by_label("Description")).to_have_value("Now in a longer cut.")
        await expect(second.get_by_label("Stock")).to_have_accessible_description(
            re.compile("Saved meanwhile: 11")
        )
        await expect(second.get_by_label("Stock")).to_have_value(stock_before)

        await conflict.get_by_role("link", name="reload the latest version").click()
        await expect(second.get_by_label("Stock")).to_have_value("11")
        await expect(second.get_by_label("Description")).not_to_have_value("Now in a longer cut.")
        await expect(second.get_by_role("alert")).to_have_count(0)
    finally:
        await other.close()


async def test_a_viewer_sees_no_edit_controls(page: Page, shop: Shop, console_users: dict[str, str]) -> None:
    await log_in(page, shop, console_users["viewer"])
    nav = page.get_by_role("navigation", name="Console")
    await expect(nav.get_by_role("link")).to_have_text(nav_labels("viewer"))
    await expect(page.get_by_role("link", name="New product")).to_have_count(0)

    await nav.get_by_role("link", name="Products").click()
    await expect(page.get_by_role("cell", name="Glacier Secret Prototype")).to_be_visible()  # drafts too
    await expect(page.get_by_role("checkbox")).to_have_count(0)
    await expect(page.get_by_role("button", name="Change status")).to_have_count(0)
    await page.get_by_role("link", name="Glacier Secret Prototype").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Glacier Secret Prototype")
    await expect(page.get_by_text("your role may not change it")).to_be_visible()
    main = page.get_by_role("main")
    await expect(main.get_by_role("textbox")).to_have_count(0)
    await expect(main.get_by_role("button")).to_have_count(0)
    await expect(main.get_by_role("combobox")).to_have_count(0)

    await page.goto(shop.url("/admin/users"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("You can't do that here")


async def test_bulk_status_change_with_select_all(
    page: Page, shop: Shop, console_users: dict[str, str]
) -> None:
    await log_in(page, shop, console_users["editor"], "/admin/products?q=glacier&sort=name")
    await expect(page.get_by_role("row")).to_have_count(4)  # the header and three Glacier products
    select_all = page.get_by_label("Select all products on this page")
    await select_all.check()
    await expect(page.get_by_role("status").filter(has_text="3 of 3 selected")).to_be_visible()
    await page.get_by_label("Select Glacier Enamel Mug").uncheck()
    await page.get_by_label("Select Glacier Merino Scarf").uncheck()
    await expect(select_all).not_to_be_checked()
    await page.get_by_label("New status").select_option("archived")
    await page.get_by_role("button", name="Change status").click()
    await expect(page.get_by_role("status").filter(has_text="1 product now archived.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Glacier Secret Prototype")
    await expect(row.locator(".badge")).to_have_text("archived")
    await page.get_by_label("Select Glacier Secret Prototype").check()
    await page.get_by_label("New status").select_option("draft")
    await page.get_by_role("button", name="Change status").click()
    await expect(row.locator(".badge")).to_have_text("draft")


async def test_the_console_works_with_javascript_off(
    browser: Browser, shop: Shop, console_users: dict[str, str], traffic: Traffic
) -> None:
    context = await guarded_context(browser, traffic, java_script_enabled=False)
    try:
        page = await context.new_page()
        await log_in(page, shop, console_users["editor"], "/admin/products/new")
        await page.get_by_label("Name").fill("Scriptless Stool")
        await page.get_by_label("SKU").fill("NOJS-STOOL")
        await page.get_by_label("Price").fill("35.00")
        await page.get_by_role("button", name="Create product").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Scriptless Stool")
        await page.goto(shop.url("/admin/products?q=scriptless"))
        await page.get_by_label("Select Scriptless Stool").check()
        await page.get_by_label("New status").select_option("active")
        await page.get_by_role("button", name="Change status").click()
        await expect(page.get_by_text("1 product now active.")).to_be_visible()
        await page.get_by_role("button", name="Log out").click()
        await expect(page.get_by_text("You have logged out.")).to_be_visible()
    finally:
        await context.close()
    assert not traffic.outside
