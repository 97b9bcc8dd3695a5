"""The products table and its bulk status change, through HTTP as a browser sends it."""

from __future__ import annotations

import re
from urllib.parse import unquote

import httpx

from shelf.app import Container
from shelf.catalog.service import Preconditions
from tests.integration.web.admin.conftest import Staff, log_in
from tests.integration.web.helpers import BROWSER, SETUP, add_product, assert_self_contained
from tests.security.conftest import audit_count


def names_in_table(html: str) -> list[str]:
    return re.findall(r'<td><a href="/admin/products/[0-9a-f-]{36}">([^<]+)</a></td>', html)


async def test_staff_see_every_status_and_can_filter_and_sort(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    await add_product(container, name="Aurora Lamp", status="active", category="lighting")
    await add_product(container, name="Borealis Lamp", status="draft", category="lighting")
    await add_product(container, name="Comet Rug", status="archived", category="home-textiles")
    await log_in(client, staff.viewer)

    everything = await client.get("/admin/products?sort=name", headers=BROWSER)
    assert everything.status_code == 200
    assert names_in_table(everything.text) == ["Aurora Lamp", "Borealis Lamp", "Comet Rug"]
    assert '<span class="badge badge--draft">draft</span>' in everything.text
    assert '<option value="home-textiles">Home textiles</option>' in everything.text  # archived's too
    assert_self_contained(everything.text)

    drafts = await client.get("/admin/products?status=draft", headers=BROWSER)
    assert names_in_table(drafts.text) == ["Borealis Lamp"]
    searched = await client.get("/admin/products?q=lamp&sort=-name", headers=BROWSER)
    assert names_in_table(searched.text) == ["Borealis Lamp", "Aurora Lamp"]
    by_category = await client.get("/admin/products?category=home-textiles", headers=BROWSER)
    assert names_in_table(by_category.text) == ["Comet Rug"]

    wrong = await client.get("/admin/products?status=gone&sort=sideways", headers=BROWSER)
    assert wrong.status_code == 422
    assert "Choose a status from the list." in wrong.text
    assert "Choose an order from the list." in wrong.text


async def test_the_table_pages_with_cursors(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    for number in range(53):
        await add_product(container, name=f"Pager {number:02d}", status="draft")
    await log_in(client, staff.viewer)
    first = await client.get("/admin/products?sort=name", headers=BROWSER)
    assert len(names_in_table(first.text)) == 50
    next_url = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert next_url
    second = await client.get(unquote(next_url.group(1)).replace("&amp;", "&"), headers=BROWSER)
    assert names_in_table(second.text) == ["Pager 50", "Pager 51", "Pager 52"]
    assert 'rel="first"' in second.text
    stale = await client.get(
        "/admin/products?sort=-name&cursor=" + next_url.group(1).split("cursor=")[1], headers=BROWSER
    )
    assert stale.status_code == 422
    assert "That page link has expired" in stale.text


async def test_a_viewer_sees_no_edit_controls(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    product = await add_product(
        container, name="Read Only Vase", status="draft", attributes={"colour": "teal"}
    )
    await log_in(client, staff.viewer)
    table = (await client.get("/admin/products", headers=BROWSER)).text
    assert "Read Only Vase" in table
    assert 'type="checkbox"' not in table
    assert "Change status" not in table
    assert "New product" not in table
    page = await client.get(f"/admin/products/{product['id']}", headers=BROWSER)
    assert page.status_code == 200
    assert "your role may not change it" in page.text
    assert "<input" not in page.text.split("<main", 1)[1].split("</main>")[0]
    assert "<textarea" not in page.text
    assert "Delete" not in page.text
    assert "colour: teal" in page.text
    assert (await client.get("/admin/products/new", headers=BROWSER)).status_code == 403


async def test_editors_change_the_status_of_several_products_at_once(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    first = await add_product(container, name="Bulk One", status="draft")
    second = await add_product(container, name="Bulk Two", status="draft")
    already = await add_product(container, name="Bulk Three", status="active")
    csrf = await log_in(client, staff.editor)
    table = (await client.get("/admin/products?q=bulk", headers=BROWSER)).text
    assert f'value="{first["id"]}:1"' in table
    assert 'form="bulk"' in table
    before = await audit_count(container)

    changed = await client.post(
        "/admin/products/status",
        data={
            "csrf_token": csrf,
            "status": "active",
            "return_to": "/admin/products?q=bulk",
            "product": [f"{first['id']}:1", f"{second['id']}:1", f"{already['id']}:1"],
        },
        headers=BROWSER,
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == "/admin/products?q=bulk&changed=2&unchanged=1&to=active"
    notice = (await client.get(changed.headers["location"], headers=BROWSER)).text
    assert "2 products now active; 1 already was." in notice
    assert await audit_count(container) == before + 2
    shop = (await client.get("/products?q=bulk", headers=BROWSER)).text  # the shop sees them at once
    assert "Bulk One" in shop
    assert "Bulk Two" in shop


async def test_a_bulk_change_after_someone_else_changed_one_changes_nothing(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    first = await add_product(container, name="Stale One", status="draft")
    second = await add_product(container, name="Stale Two", status="draft")
    csrf = await log_in(client, staff.editor)
    # Someone else saves the second product meanwhile: it is at version 2 now.
    await container.catalog.update_product(SETUP, second["id"], {"stock": 3}, Preconditions(['"1"']))
    before = await audit_count(container)
    refused = await client.post(
        "/admin/products/status",
        data={"csrf_token": csrf, "status": "archived", "product": [f"{first['id']}:1", f"{second['id']}:1"]},
        headers=BROWSER,
    )
    assert refused.status_code == 409
    assert "Nothing was changed" in refused.text
    assert "Stale Two" in refused.text
    assert 'href="/admin/products"' in refused.text
    assert await audit_count(container) == before

    nothing = await client.post(
        "/admin/products/status", data={"csrf_token": csrf, "status": "archived"}, headers=BROWSER
    )
    assert nothing.status_code == 422
    assert "Choose 1 to 100 products" in nothing.text


async def test_a_bulk_change_needs_the_sessions_csrf_token(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    product = await add_product(container, name="Guarded", status="draft")
    await log_in(client, staff.admin)
    forged = await client.post(
        "/admin/products/status", data={"status": "active", "product": f"{product['id']}:1"}, headers=BROWSER
    )
    assert forged.status_code == 403
    read = (await client.get(f"/admin/products/{product['id']}", headers=BROWSER)).text
    assert '<option value="draft" selected>' in read
