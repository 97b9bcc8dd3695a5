"""Helpers of the admin console's browser tests: logging in, and a second guarded browser tab."""

from __future__ import annotations

from urllib.parse import quote

from playwright.async_api import Browser, BrowserContext, Page, expect

from shelf.identity.permissions import ROLE_PERMISSIONS, Role
from shelf.web.admin.nav import NAV
from tests.e2e.browser.conftest import CONSOLE_PASSWORD, DESKTOP, Shop, Traffic


def nav_labels(role: str) -> list[str]:
    """The console areas a role's navigation lists, in order: every entry whose permission it holds."""
    return [entry.label for entry in NAV if entry.permission in ROLE_PERMISSIONS[Role(role)]]


async def log_in(page: Page, shop: Shop, email: str, next_path: str = "/admin") -> None:
    await page.goto(shop.url(f"/admin/login?next={quote(next_path, safe='/')}"))
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(CONSOLE_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(shop.url(next_path))


async def guarded_context(browser: Browser, traffic: Traffic, **options: object) -> BrowserContext:
    """Another browser (its own cookies), held to the same rule: nothing leaves 127.0.0.1."""
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB", **options)  # type: ignore[arg-type]
    await context.route("**/*", traffic.guard)
    context.on("request", traffic.record)
    context.on("response", traffic.check)
    context.on("console", traffic.console)
    return context
