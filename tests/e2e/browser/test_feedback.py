"""Feedback end to end in real Chromium: a shopper sends it from a product page, with JavaScript
and without; an editor signs in, finds it in the inbox with its product and context, triages it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.browser.conftest import BROWSER_TESTS, DESKTOP, Shop, Traffic
from tests.process import shelf

pytestmark = BROWSER_TESTS
PASSWORD = "a long unusual feedback phrase"
EDITOR = "feedback-editor@browser.test"


@pytest.fixture(scope="session")
def feedback_editor(shop: Shop) -> str:
    done = shelf(
        "users", "create", "--email", EDITOR, "--role", "editor", "--password-stdin",
        database_url=shop.database_url, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return EDITOR


@pytest.fixture
async def no_script_page(browser: Browser, traffic: Traffic) -> AsyncIterator[Page]:
    """Like ``page``, with JavaScript off: what a shopper without it (or before it loads) gets."""
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB", java_script_enabled=False)
    await context.route("**/*", traffic.guard)
    context.on("request", traffic.record)
    context.on("response", traffic.check)
    tab = await context.new_page()
    yield tab
    await context.close()
    assert not traffic.outside, f"requests left 127.0.0.1: {traffic.outside}"


async def test_a_shopper_sends_feedback_from_a_product_page_without_leaving_it(
    page: Page, shop: Shop, traffic: Traffic
) -> None:
    scarf_id = shop.product_ids["BROWSER-SCARF"]
    product_url = shop.url(f"/products/{scarf_id}/glacier-merino-scarf")
    await page.goto(product_url)
    widget = page.get_by_role("region", name="Tell us what you think of Glacier Merino Scarf")
    await expect(widget.get_by_text("2,000 of 2,000 characters left")).to_be_visible()

    # Sent without a rating: the script points at the field at once, and sends nothing.
    await widget.get_by_role("button", name="Send feedback").click()
    await expect(widget.get_by_role("alert").filter(has_text="There is a problem")).to_be_visible()
    await expect(widget.locator("#field-rating-error")).to_have_text(
        "Error: Choose a rating from 1 to 5 stars."
    )

    await widget.get_by_label("4 stars, very good").check()
    message = widget.get_by_label("Your message")
    await message.fill("Lovely and warm.\nA size chart would help.")
    await expect(widget.get_by_text("1,959 of 2,000 characters left")).to_be_visible()  # 41 typed
    await expect(widget.get_by_label("Leave this field empty")).to_have_attribute("tabindex", "-1")
    await widget.get_by_role("button", name="Send feedback").click()
    thanks = widget.get_by_role("status").filter(has_text="Thank you for your feedback")
    await expect(thanks).to_be_visible()
    await expect(widget.locator("form")).to_be_hidden()
    await expect(page).to_have_url(product_url)  # it never left the page
    posts = [url for url in traffic.requests if url.endswith("/api/v1/feedback")]
    assert len(posts) == 1, posts  # sent once, in the background


async def test_without_javascript_the_form_posts_and_says_thank_you(no_script_page: Page, shop: Shop) -> None:
    page = no_script_page
    mug_id = shop.product_ids["BROWSER-MUG"]
    await page.goto(shop.url(f"/products/{mug_id}/glacier-enamel-mug"))
    widget = page.get_by_role("region", name="Tell us what you think of Glacier Enamel Mug")
    await widget.get_by_label("Your message").fill("Chipped after a week.")
    await widget.get_by_role("button", name="Send feedback").click()  # no rating yet
    await expect(page).to_have_url(shop.url("/feedback"))
    await expect(page.get_by_role("alert").filter(has_text="There is a problem")).to_be_visible()
    await expect(page.get_by_label("Your message")).to_have_value("Chipped after a week.")  # kept

    await page.get_by_label("2 stars, fair").check()
    await page.get_by_label("Email (optional)").fill("mug.owner@example.com")
    await page.get_by_role("button", name="Send feedback").click()
    await expect(page).to_have_url(shop.url(f"/feedback?sent=1&product={mug_id}"))
    await expect(page.get_by_role("status")).to_contain_text("Thank you for your feedback")
    await expect(page.get_by_role("link", name="Back to Glacier Enamel Mug")).to_be_visible()


async def test_an_editor_finds_the_feedback_in_the_inbox_with_its_context_and_triages_it(
    page: Page, shop: Shop, feedback_editor: str
) -> None:
    mug_id = shop.product_ids["BROWSER-MUG"]
    # A shopper's feedback, through the site-wide entry in the header.
    await page.goto(shop.url("/"))
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Feedback").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Send feedback")
    await page.goto(shop.url(f"/feedback?product={mug_id}"))
    await page.get_by_label("1 star, poor").check()
    await page.get_by_label("Your message").fill("The handle gets hot.")
    await page.get_by_role("button", name="Send feedback").click()
    await expect(page.get_by_role("status").filter(has_text="Thank you for your feedback")).to_be_visible()
    await page.context.clear_cookies()

    await page.goto(shop.url("/admin/feedback"))
    await expect(page).to_have_url(shop.url("/admin/login?next=/admin/feedback"))
    await page.get_by_label("Email").fill(feedback_editor)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(shop.url("/admin/feedback"))
    await expect(
        page.get_by_role("navigation", name="Console").get_by_role("link", name="Feedback")
    ).to_have_attribute("aria-current", "page")

    await page.get_by_label("Product").select_option(mug_id)
    await page.get_by_label("Rating").select_option("1")
    await page.get_by_role("button", name="Filter").click()
    items = page.locator(".feedback-item")
    await expect(items).to_have_count(1)
    item = items.first
    await expect(item.get_by_text("The handle gets hot.")).to_be_visible()
    await expect(item.get_by_role("link", name="Glacier Enamel Mug", exact=True)).to_have_attribute(
        "href", f"/products/{mug_id}"
    )
    await expect(item.locator("dd code").filter(has_text=re.compile(r"^anon-[0-9a-f]{32}$"))).to_be_visible()
    await expect(item.get_by_text(f"/feedback?product={mug_id}")).to_be_visible()  # the page it was sent from
    await expect(page.locator("[data-summary-count]")).to_contain_text("Average of")
    await expect(page.locator(".feedback-trend")).to_be_visible()

    await item.get_by_text("Triage", exact=True).click()
    await item.get_by_label("Status").select_option(label="Planned")
    await item.get_by_label("Note").fill("Insulated handle in the next batch.")
    await item.get_by_role("button", name="Save triage of this feedback").click()
    await expect(page.get_by_role("status").filter(has_text="The triage was saved.")).to_be_visible()
    triaged = page.locator(".feedback-item").first
    await expect(triaged.locator(".feedback-status")).to_have_text("Planned")
    await expect(triaged.locator("p").filter(has_text="Insulated handle in the next batch.")).to_be_visible()
