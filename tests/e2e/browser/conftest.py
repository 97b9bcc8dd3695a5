"""Real Chromium against a real ``shelf serve``: the harness of the browser journeys.

- ``shop``: one ``shelf serve`` process for the session, on a free port of 127.0.0.1, with a fresh
  SQLite database (migrated, seeded with a small demo catalog, plus a few products the journeys
  know by name, created over the real HTTP API).
- ``browser``: Debian's Chromium (``/usr/bin/chromium``), headless, launched by Playwright;
  Playwright's own browser builds are never downloaded. Without it the tests skip on a laptop and
  fail under ``CI=true``.
- ``page``: a fresh browser context (no cookies) whose every request is recorded; a request to
  anything but 127.0.0.1 is aborted, and fails the test.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request, Response, Route, async_playwright

from tests.databases import server_missing
from tests.process import running_server, shelf

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Belt and braces for "nothing leaves this machine": no name but the loopback resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
LOCAL_HOSTS = {"127.0.0.1"}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# Every browser test module sets this: one xdist worker runs them all, against one server.
BROWSER_TESTS = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.xdist_group("browser")]


@dataclass(frozen=True)
class Known:
    """A product the journeys look for, created over the API before the browser starts."""

    sku: str
    name: str
    amount: str
    category: str
    stock: int
    tags: tuple[str, ...] = ()
    description: str = ""
    status: str = "active"


KNOWN = (
    Known(
        "BROWSER-SCARF",
        "Glacier Merino Scarf",
        "59.00",
        "apparel",
        12,
        ("wool", "featured"),
        "A warm scarf of fine merino wool.\nHand wash cold.",
    ),
    Known("BROWSER-MUG", "Glacier Enamel Mug", "14.50", "home-kitchen", 3, ("featured",)),
    Known("BROWSER-DRAFT", "Glacier Secret Prototype", "999.00", "apparel", 5, status="draft"),
)


@dataclass
class Shop:
    base_url: str
    database_url: str  # the server's database, for ``shelf`` commands (tests/process.py: shelf)
    product_ids: dict[str, str] = field(default_factory=dict)  # by SKU

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    directory = tmp_path_factory.mktemp("browser")
    database_url = f"sqlite:///{directory / 'shelf.db'}"
    for command in (("db", "upgrade"), ("seed", "--products", "60", "--random-seed", "7")):
        done = shelf(*command, database_url=database_url)
        assert done.returncode == 0, done.stderr
    created = shelf("apikeys", "create", "--name", "browser", "--role", "editor", database_url=database_url)
    assert created.returncode == 0, created.stderr
    auth = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    with running_server(database_url) as base_url:
        shop = Shop(base_url, database_url)
        for known in KNOWN:
            body = {
                "sku": known.sku,
                "name": known.name,
                "description": known.description,
                "price": {"amount": known.amount, "currency": "EUR"},
                "status": known.status,
                "category": known.category,
                "tags": list(known.tags),
                "stock": known.stock,
            }
            answer = httpx.post(f"{base_url}/api/v1/products", json=body, headers=auth, timeout=10)
            assert answer.status_code == 201, answer.text
            shop.product_ids[known.sku] = answer.json()["id"]
        yield shop


# The admin console's people ------------------------------------------------------------------
CONSOLE_PASSWORD = "a long unusual browser phrase"


@pytest.fixture(scope="session")
def console_users(shop: Shop) -> dict[str, str]:
    """One console user per role on the server's database, made as a new admin would: ``shelf users
    create``. By role: ``{"admin": "admin@browser.test", ...}``; the password is ``CONSOLE_PASSWORD``."""
    emails = {}
    for role in ("admin", "editor", "viewer"):
        email = f"{role}@browser.test"
        done = shelf(
            "users", "create", "--email", email, "--role", role, "--password-stdin",
            database_url=shop.database_url, stdin=CONSOLE_PASSWORD + "\n",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        emails[role] = email
    return emails


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        server_missing(
            f"Chromium at {CHROMIUM}", "Install Debian's chromium package (.ci/run does so in CI)."
        )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@dataclass
class Traffic:
    """Every request a page made, and those that tried to leave 127.0.0.1."""

    requests: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    broken_assets: list[str] = field(default_factory=list)

    def record(self, request: Request) -> None:
        self.requests.append(request.url)

    def check(self, response: Response) -> None:
        # A page may answer 4xx on purpose (a refused form shows the cart with a 422); its CSS,
        # script and images may not.
        if response.request.resource_type != "document" and response.status >= 400:
            self.broken_assets.append(f"{response.status} {response.url}")

    def console(self, message: ConsoleMessage) -> None:
        # Script errors and Content-Security-Policy violations; failed loads are judged by check().
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.append(message.text)

    async def guard(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            await route.continue_()
            return
        self.outside.append(url)
        await route.abort("blockedbyclient")


@pytest.fixture
async def traffic() -> Traffic:
    return Traffic()


@pytest.fixture
async def page(browser: Browser, traffic: Traffic) -> AsyncIterator[Page]:
    """A desktop-sized page in a fresh context; fails the test if any request left 127.0.0.1."""
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
    await context.route("**/*", traffic.guard)
    context.on("request", traffic.record)
    context.on("response", traffic.check)
    context.on("console", traffic.console)
    context.on("weberror", lambda error: traffic.console_errors.append(str(error.error)))
    tab = await context.new_page()
    yield tab
    await context.close()
    assert not traffic.outside, f"requests left 127.0.0.1: {traffic.outside}"
    # A Content-Security-Policy violation or a script error shows up as a console error.
    assert not traffic.console_errors, f"errors in the browser console: {traffic.console_errors}"
    assert not traffic.broken_assets, f"assets that failed to load: {traffic.broken_assets}"


def money_text(text: str) -> str:
    """Collapse the whitespace of a rendered amount (``"€ 59.00"`` → ``"€59.00"``)."""
    return re.sub(r"\s+", "", text)
