"""The page guard: anonymous visitors log in first, callers without the permission get the 403 page."""

from __future__ import annotations

import httpx

from shelf.identity.permissions import ROLE_PERMISSIONS, Role
from shelf.web.admin.nav import NAV
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem
from tests.integration.web.admin.conftest import Staff, log_in, nav_labels
from tests.integration.web.helpers import BROWSER, assert_self_contained


async def test_every_staff_role_opens_the_dashboard(client: httpx.AsyncClient, staff: Staff) -> None:
    for email in (staff.viewer, staff.editor, staff.admin):
        await log_in(client, email)
        page = await client.get("/admin", headers=BROWSER)
        assert page.status_code == 200
        assert "<h1>Dashboard</h1>" in page.text
        assert '<a href="/admin" aria-current="page">Dashboard</a>' in page.text
        assert 'aria-label="Console"' in page.text
        assert 'href="#main"' in page.text  # the skip link, from base.html
        for landmark in ("<header", "<main", "<footer"):
            assert landmark in page.text
        assert_self_contained(page.text)
        client.cookies.clear()


async def test_a_client_key_gets_the_403_page_and_no_console(client: httpx.AsyncClient, keys: Keys) -> None:
    page = await client.get("/admin", headers=BROWSER | keys.auth("client"))
    assert page.status_code == 403
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "You can&#39;t do that here" in page.text
    assert "Your role (client) may not use this page" in page.text
    assert nav_labels(page.text) == []  # nothing to navigate to
    assert "Log out" not in page.text
    assert_self_contained(page.text)
    # Programs get a problem document, as everywhere.
    assert_problem(await client.get("/admin", headers=keys.auth("client")), 403)


async def test_a_staff_key_or_token_may_script_the_console(client: httpx.AsyncClient, keys: Keys) -> None:
    """Pages take the principal the gateway resolved: a Bearer key works (no cookie, so no CSRF)."""
    page = await client.get("/admin", headers=BROWSER | keys.auth("viewer"))
    assert page.status_code == 200
    assert "Log out" not in page.text  # only a console session can log out


async def test_the_navigation_shows_what_the_role_may_use(client: httpx.AsyncClient, staff: Staff) -> None:
    for role, email in (("viewer", staff.viewer), ("editor", staff.editor), ("admin", staff.admin)):
        await log_in(client, email)
        labels = nav_labels((await client.get("/admin", headers=BROWSER)).text)
        expected = [entry.label for entry in NAV if entry.permission in ROLE_PERMISSIONS[Role(role)]]
        assert labels == expected, role
        client.cookies.clear()


async def test_an_unknown_console_page_is_the_consoles_404(client: httpx.AsyncClient, staff: Staff) -> None:
    await log_in(client, staff.viewer)
    page = await client.get("/admin/no-such-page", headers=BROWSER)
    assert page.status_code == 404
    assert "We couldn&#39;t find that page" in page.text
    assert 'aria-label="Console"' in page.text
    assert "Go to the dashboard" in page.text
