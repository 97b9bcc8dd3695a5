"""The dashboard: counts by status, recent changes, low stock, and the audit for those who may read it."""

from __future__ import annotations

import re

import httpx

from shelf.app import Container
from shelf.catalog.service import PAGES, Preconditions
from shelf.web.admin.nav import NAV
from tests.integration.web.admin.conftest import Staff, log_in
from tests.integration.web.helpers import BROWSER, SETUP, add_product


def stat(html: str, label: str) -> int:
    match = re.search(
        rf'<span class="stat__value">([\d,]+)</span> <span class="stat__label">{label}</span>', html
    )
    assert match, label
    return int(match.group(1).replace(",", ""))


def section(html: str, title: str) -> str:
    return html.split(f">{title}</h2>", 1)[1].split("</section>", 1)[0]


async def test_the_dashboard_shows_the_catalog_at_a_glance(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    await add_product(container, name="Plenty Jar", status="active", stock=50)
    scarce = await add_product(container, name="Scarce Jar", status="active", stock=2)
    await add_product(container, name="Empty Jar", status="active", stock=0)
    await add_product(container, name="Draft Jar", status="draft", stock=0)
    await add_product(container, name="Old Jar", status="archived", stock=1)
    await log_in(client, staff.viewer)

    html = (await client.get("/admin", headers=BROWSER)).text
    assert (stat(html, "in all"), stat(html, "draft"), stat(html, "active"), stat(html, "archived")) == (
        5,
        1,
        3,
        1,
    )
    assert 'href="/admin/products?status=draft"' in html
    recent = re.findall(
        r'<a href="/admin/products/[0-9a-f-]{36}">([^<]+)</a>', section(html, "Recently changed")
    )
    assert recent == ["Old Jar", "Draft Jar", "Empty Jar", "Scarce Jar", "Plenty Jar"]
    low = re.findall(r'<a href="/admin/products/[0-9a-f-]{36}">([^<]+)</a>', section(html, "Low stock"))
    assert low == ["Empty Jar", "Scarce Jar"]  # active ones only, fewest first
    assert "Latest changes" not in html  # a viewer may not read the audit log
    assert "New product" not in html

    # A change shows at once: the figures are retired with the catalog's cached pages.
    await container.catalog.update_product(SETUP, scarce["id"], {"stock": 40}, Preconditions(['"1"']))
    again = (await client.get("/admin", headers=BROWSER)).text
    low = re.findall(r'<a href="/admin/products/[0-9a-f-]{36}">([^<]+)</a>', section(again, "Low stock"))
    assert low == ["Empty Jar"]
    recent = re.findall(
        r'<a href="/admin/products/[0-9a-f-]{36}">([^<]+)</a>', section(again, "Recently changed")
    )
    assert recent[0] == "Scarce Jar"


async def test_admins_also_see_the_latest_changes_and_every_area(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    await add_product(container, name="Audited Jar")
    await log_in(client, staff.admin)
    html = (await client.get("/admin", headers=BROWSER)).text
    changes = section(html, "Latest changes")
    assert "product.create" in changes
    assert ">Audited Jar</a>" in changes
    assert "page test setup" in changes
    areas = re.findall(r'<h3 class="card__title"><a href="([^"]+)">', section(html, "Areas"))
    assert areas[:4] == ["/admin/products", "/admin/users", "/admin/apikeys", "/admin/audit"]
    assert areas == [entry.href for entry in NAV if entry.href != "/admin"]  # every area there is


async def test_an_empty_catalog_invites_the_first_product(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    # The tables were emptied behind the service's back after the last test: so must its cache be.
    await container.cache.invalidate(PAGES)
    await log_in(client, staff.editor)
    html = (await client.get("/admin", headers=BROWSER)).text
    assert stat(html, "in all") == 0
    assert "Create the first one</a>" in html
    assert "Nothing is running out." in html
