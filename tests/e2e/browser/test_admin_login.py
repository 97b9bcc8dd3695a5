"""Logging in to the admin console in real Chromium: the redirect, a wrong password, logging out."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.e2e.browser.conftest import BROWSER_TESTS, CONSOLE_PASSWORD, Shop

pytestmark = BROWSER_TESTS


async def test_log_in_after_a_wrong_password_and_log_out(
    page: Page, shop: Shop, console_users: dict[str, str]
) -> None:
    await page.goto(shop.url("/admin"))
    await expect(page).to_have_url(shop.url("/admin/login?next=/admin"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Log in")

    await page.get_by_label("Email").fill(console_users["editor"])
    await page.get_by_label("Password").fill("not my password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "The email or password is wrong, or the account is disabled."
    )
    await expect(page.get_by_label("Email")).to_have_value(console_users["editor"])
    await expect(page.get_by_label("Password")).to_have_value("")

    await page.get_by_label("Password").fill(CONSOLE_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(shop.url("/admin"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    nav = page.get_by_role("navigation", name="Console")
    await expect(nav.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "shelf_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"

    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/admin/login\?signed_out=1$"))
    await expect(page.get_by_role("status")).to_have_text("You have logged out.")
    await page.goto(shop.url("/admin"))
    await expect(page).to_have_url(shop.url("/admin/login?next=/admin"))
