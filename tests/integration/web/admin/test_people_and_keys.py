"""The users, API keys and audit log pages (admins only), through HTTP as a browser sends it."""

from __future__ import annotations

import re
from html import unescape

import httpx

from shelf.app import Container
from shelf.catalog.service import Preconditions
from shelf.web.admin.nav import NAV
from tests.integration.catalog.helpers import assert_problem
from tests.integration.web.admin.conftest import PASSWORD, Staff, log_in, nav_labels
from tests.integration.web.helpers import BROWSER, SETUP, add_product, assert_self_contained
from tests.security.conftest import audit_count


def error_of(html: str, name: str) -> str | None:
    match = re.search(
        rf'id="field-{name}-error"><span class="visually-hidden">Error: </span>([^<]*)</p>', html
    )
    return unescape(match.group(1)) if match else None


async def test_only_admins_see_and_open_the_admin_pages(client: httpx.AsyncClient, staff: Staff) -> None:
    for email in (staff.viewer, staff.editor):
        await log_in(client, email)
        labels = nav_labels((await client.get("/admin", headers=BROWSER)).text)
        assert labels[:2] == ["Dashboard", "Products"]
        assert not {"Users", "API keys", "Audit log", "System"} & set(labels), labels
        for path in ("/admin/users", "/admin/apikeys", "/admin/audit"):
            page = await client.get(path, headers=BROWSER)
            assert page.status_code == 403, path
            assert "may not use this page" in page.text
        client.cookies.clear()
    await log_in(client, staff.admin)
    labels = nav_labels((await client.get("/admin", headers=BROWSER)).text)
    assert labels[:5] == ["Dashboard", "Products", "Users", "API keys", "Audit log"]
    assert labels == [entry.label for entry in NAV]  # admins hold every permission: every area


async def test_admins_create_users_under_the_identity_rules(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    csrf = await log_in(client, staff.admin)
    page = await client.get("/admin/users", headers=BROWSER)
    assert page.status_code == 200
    assert "viewer@console.test" in page.text
    assert_self_contained(page.text)

    weak = await client.post(
        "/admin/users",
        data={"csrf_token": csrf, "email": "new@console.test", "password": "password", "role": "editor"},
        headers=BROWSER,
    )
    assert weak.status_code == 422
    assert "most common passwords" in (error_of(weak.text, "password") or "")
    assert 'value="new@console.test"' in weak.text  # kept; the password is not
    assert 'value="password"' not in weak.text
    short = await client.post(
        "/admin/users",
        data={"csrf_token": csrf, "email": "x", "password": "short", "role": "editor"},
        headers=BROWSER,
    )
    assert short.status_code == 422
    assert error_of(short.text, "email") is not None

    created = await client.post(
        "/admin/users",
        data={"csrf_token": csrf, "email": "New@Console.test", "password": PASSWORD, "role": "editor"},
        headers=BROWSER,
    )
    assert created.status_code == 303
    assert "The user was created." in (await client.get(created.headers["location"], headers=BROWSER)).text
    taken = await client.post(
        "/admin/users",
        data={"csrf_token": csrf, "email": "new@console.test", "password": PASSWORD, "role": "viewer"},
        headers=BROWSER,
    )
    assert taken.status_code == 409
    assert "already exists" in (error_of(taken.text, "email") or "")
    async with httpx.AsyncClient(transport=client._transport, base_url="http://shelf.test") as newcomer:
        await log_in(newcomer, "new@console.test")
        assert (await newcomer.get("/api/v1/auth/me")).json()["role"] == "editor"


async def test_role_changes_and_disabling_sign_the_user_out_and_keep_an_admin(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    users = {user.email: user for user in await container.identity.list_users(SETUP)}
    async with httpx.AsyncClient(transport=client._transport, base_url="http://shelf.test") as viewer:
        await log_in(viewer, staff.viewer)
        csrf = await log_in(client, staff.admin)
        promoted = await client.post(
            f"/admin/users/{users[staff.viewer].id}",
            data={"csrf_token": csrf, "role": "editor"},
            headers=BROWSER,
        )
        assert promoted.status_code == 303
        assert (
            "signed out everywhere" in (await client.get(promoted.headers["location"], headers=BROWSER)).text
        )
        assert (await viewer.get("/admin", headers=BROWSER)).status_code == 303  # back to the login page

    disabled = await client.post(
        f"/admin/users/{users[staff.editor].id}",
        data={"csrf_token": csrf, "disabled": "true"},
        headers=BROWSER,
    )
    assert disabled.status_code == 303
    listed = (await client.get("/admin/users", headers=BROWSER)).text
    assert '<span class="badge badge--disabled">disabled</span>' in listed
    assert 'Enable<span class="visually-hidden"> editor@console.test</span>' in listed

    before = await audit_count(container)
    last = await client.post(
        f"/admin/users/{users[staff.admin].id}", data={"csrf_token": csrf, "role": "viewer"}, headers=BROWSER
    )
    assert last.status_code == 409
    assert "this would leave shelf without an active admin" in unescape(last.text).lower()
    assert "Nothing was changed" in last.text
    assert await audit_count(container) == before
    assert (await client.get("/api/v1/auth/me")).json()["role"] == "admin"


async def test_api_keys_show_their_secret_once_and_can_be_revoked(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    csrf = await log_in(client, staff.admin)
    nameless = await client.post(
        "/admin/apikeys", data={"csrf_token": csrf, "name": " ", "role": "client"}, headers=BROWSER
    )
    assert nameless.status_code == 422
    assert error_of(nameless.text, "name") is not None

    created = await client.post(
        "/admin/apikeys",
        data={"csrf_token": csrf, "name": "shop frontend", "role": "client"},
        headers=BROWSER,
    )
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    secret = re.search(r'id="secret" type="text" value="(shelf_[^"]+)"', created.text)
    assert secret
    assert "it is shown only this once" in created.text
    assert (
        await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
    ).json()["role"] == "client"

    listed = await client.get("/admin/apikeys", headers=BROWSER)
    assert "shop frontend" in listed.text
    assert secret.group(1) not in listed.text  # never again
    assert secret.group(1)[:10] in listed.text  # its start, to tell keys apart
    assert re.search(r"<td>20\d\d-\d\d-\d\d \d\d:\d\d UTC</td>\s*<td>20\d\d-", listed.text)  # used just now
    key_id = next(
        key.id for key in await container.identity.list_api_keys(SETUP) if key.name == "shop frontend"
    )
    revoked = await client.post(f"/admin/apikeys/{key_id}/revoke", data={"csrf_token": csrf}, headers=BROWSER)
    assert revoked.status_code == 303
    after = (await client.get(revoked.headers["location"], headers=BROWSER)).text
    assert "The key was revoked." in after
    assert '<span class="badge badge--revoked">revoked</span>' in after
    assert_problem(
        await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret.group(1)}"}), 401
    )


async def test_the_audit_log_shows_who_changed_what_newest_first(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    lamp = await add_product(container, name="Audit Lamp", stock=3, tags=["brass"])
    await container.catalog.update_product(
        SETUP, lamp["id"], {"stock": 8, "price": {"amount": "12.50"}}, Preconditions(['"1"'])
    )
    await add_product(container, name="Other Thing")
    await log_in(client, staff.admin)

    page = await client.get("/admin/audit", headers=BROWSER)
    assert page.status_code == 200
    assert_self_contained(page.text)
    actions = re.findall(r"<code>([a-z_]+\.[a-z]+)</code>", page.text)
    assert actions[:3] == ["product.create", "product.update", "product.create"]  # newest first
    assert actions[-3:] == ["user.create"] * 3

    history = await client.get(f"/admin/audit?entity_type=product&entity_id={lamp['id']}", headers=BROWSER)
    html = history.text
    assert re.findall(r"<code>([a-z_]+\.[a-z]+)</code>", html) == ["product.update", "product.create"]
    update = html.split('class="audit-entry"')[1]
    rows = re.findall(
        r'<tr><th scope="row">(\w+)</th><td class="audit-changes__before">([^<]*)</td><td>([^<]*)</td></tr>',
        update,
    )
    assert rows == [("price", "49.90 EUR", "12.50 EUR"), ("stock", "3", "8"), ("version", "1", "2")]
    assert "page test setup" in html  # who
    assert f'href="/admin/products/{lamp["id"]}">Audit Lamp</a>' in html

    users = {user.email: user for user in await container.identity.list_users(SETUP)}
    by_actor = await client.get(f"/admin/audit?actor={users[staff.admin].id}", headers=BROWSER)
    assert "No changes match these filters." in by_actor.text
    wrong = await client.get("/admin/audit?actor=not-a-uuid", headers=BROWSER)
    assert wrong.status_code == 422
