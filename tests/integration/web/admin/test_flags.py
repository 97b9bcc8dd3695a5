"""The console's flags: the list with its stale marks, the new and edit forms (errors next to each
field, an edit conflict shown instead of overwritten, delete with confirmation), the "evaluate for
this context" preview, and a viewer who reads and previews but is offered no change."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import httpx
from sqlalchemy import update

from shelf.app import Container
from shelf.flags.models import Flag
from tests.integration.web.admin.conftest import Staff, log_in, nav_labels
from tests.integration.web.admin.test_product_form import field_error
from tests.integration.web.helpers import BROWSER, SETUP, assert_self_contained
from tests.security.conftest import audit_count

LAYOUT = {
    "key": "checkout.layout",
    "description": "The checkout's layout",
    "type": "multivariate",
    "enabled": "1",
    "rollout": "100",
    "variants": '[{"key": "control", "weight": 50}, {"key": "compact", "weight": 50}]',
    "rules": '[{"conditions": [{"attribute": "country", "op": "eq", "value": "NO"}], "variant": "compact"}]',
}


def text_of(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]*)<', html)
    assert match, f"no {testid}"
    return unescape(match.group(1))


async def test_an_editor_sees_each_error_next_to_its_field_then_creates_the_flag(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    csrf = await log_in(client, staff.editor)
    assert "Flags" in nav_labels((await client.get("/admin", headers=BROWSER)).text)
    before = await audit_count(container)
    bad = LAYOUT | {
        "key": "Checkout Layout",
        "rollout": "150",
        "variants": '[{"key": "control", "weight": 50}, {"key": "compact", "weight": 40}',
        "csrf_token": csrf,
    }
    refused = await client.post("/admin/flags/new", data=bad, headers=BROWSER)
    assert refused.status_code == 422
    html = refused.text
    assert "lower-case letters" in (field_error(html, "key") or "")
    assert field_error(html, "rollout") == "Enter the rollout as a whole number from 0 to 100."
    assert (field_error(html, "variants") or "").startswith("This is not JSON: line 1, column")
    assert 'value="Checkout Layout"' in html  # what was typed stays
    assert await audit_count(container) == before

    weights = LAYOUT | {"variants": LAYOUT["variants"].replace("50}]", "40}]"), "csrf_token": csrf}
    refused = await client.post("/admin/flags/new", data=weights, headers=BROWSER)
    assert refused.status_code == 422
    assert field_error(refused.text, "variants") == "Variant weights must sum to 100."

    created = await client.post("/admin/flags/new", data=LAYOUT | {"csrf_token": csrf}, headers=BROWSER)
    assert created.status_code == 303, created.text
    assert created.headers["location"] == "/admin/flags/checkout.layout?created=1"
    stored = await container.flags.get_flag(SETUP, "checkout.layout")
    assert [(v.key, v.weight) for v in stored.variants] == [("control", 50), ("compact", 50)]
    assert stored.rules[0].variant == "compact"
    again = await client.post("/admin/flags/new", data=LAYOUT | {"csrf_token": csrf}, headers=BROWSER)
    assert again.status_code == 409
    assert "already exists" in (field_error(again.text, "key") or "")

    listing = (await client.get("/admin/flags", headers=BROWSER)).text
    assert_self_contained(listing)
    assert 'href="/admin/flags/new"' in listing
    assert "control 50%, compact 50%; 1 rule first" in listing


async def test_the_preview_evaluates_the_saved_flag_for_a_context(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    await container.flags.create_flag(
        SETUP, {**LAYOUT, "enabled": True, "rollout": 100, "variants": [], "rules": [], "type": "boolean"}
    )
    await log_in(client, staff.viewer)
    url = "/admin/flags/checkout.layout"
    page = await client.get(url, params={"targeting_key": "user-7", "attributes": ""}, headers=BROWSER)
    assert page.status_code == 200
    assert (text_of(page.text, "preview-value"), text_of(page.text, "preview-reason")) == ("true", "STATIC")
    bad = await client.get(url, params={"targeting_key": "u", "attributes": "[1]"}, headers=BROWSER)
    assert bad.status_code == 422
    assert field_error(bad.text, "attributes") == 'Write a JSON object, in braces, such as {"country": "NO"}.'
    assert 'data-testid="preview-reason"' not in bad.text

    flag = await container.flags.get_flag(SETUP, "checkout.layout")
    await container.flags.replace_flag(
        SETUP,
        "checkout.layout",
        {
            "type": "multivariate",
            "rollout": 100,
            "variants": [{"key": "control", "weight": 50}, {"key": "compact", "weight": 50}],
            "rules": [
                {"conditions": [{"attribute": "country", "op": "eq", "value": "NO"}], "variant": "compact"}
            ],
        },
        [f'"{flag.version}"'],
    )
    norway = await client.get(
        url, params={"targeting_key": "user-7", "attributes": '{"country": "NO"}'}, headers=BROWSER
    )
    assert text_of(norway.text, "preview-variant") == "compact"
    assert text_of(norway.text, "preview-reason") == "TARGETING_MATCH"
    elsewhere = await client.get(
        url, params={"targeting_key": "user-7", "attributes": '{"country": "SE"}'}, headers=BROWSER
    )
    assert text_of(elsewhere.text, "preview-reason") == "SPLIT"
    anonymous = await client.get(url, params={"targeting_key": "", "attributes": "{}"}, headers=BROWSER)
    assert text_of(anonymous.text, "preview-reason") == "ERROR"
    assert "TARGETING_KEY_MISSING" in anonymous.text
    assert len(container.flags.exposures) == 0  # a preview is not an exposure


async def test_a_conflicting_save_is_shown_and_overwrites_nothing(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    await container.flags.create_flag(SETUP, {"key": "checkout.layout", "rollout": 10})
    csrf = await log_in(client, staff.editor)
    form = await client.get("/admin/flags/checkout.layout", headers=BROWSER)
    assert 'name="version" value="1"' in form.text
    await container.flags.update_flag(SETUP, "checkout.layout", {"rollout": 30}, ['"1"'])  # someone else
    mine = {
        "description": "",
        "type": "boolean",
        "enabled": "1",
        "rollout": "20",
        "variants": "",
        "rules": "",
    }
    refused = await client.post(
        "/admin/flags/checkout.layout", data=mine | {"version": "1", "csrf_token": csrf}, headers=BROWSER
    )
    assert refused.status_code == 409
    html = unescape(refused.text)
    assert "Someone else saved this flag first" in html
    assert 'href="/admin/flags/checkout.layout">reload the latest version' in html
    assert "Saved meanwhile: 30" in html
    assert 'name="version" value="2"' in html  # saving again is a deliberate choice
    assert (await container.flags.get_flag(SETUP, "checkout.layout")).rollout == 30
    saved = await client.post(
        "/admin/flags/checkout.layout", data=mine | {"version": "2", "csrf_token": csrf}, headers=BROWSER
    )
    assert saved.status_code == 303
    assert (await container.flags.get_flag(SETUP, "checkout.layout")).rollout == 20


async def test_delete_asks_first_and_refuses_a_changed_flag(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    await container.flags.create_flag(SETUP, {"key": "old.switch"})
    csrf = await log_in(client, staff.editor)
    url = "/admin/flags/old.switch/delete"
    asked = await client.post(url, data={"version": "1", "csrf_token": csrf}, headers=BROWSER)
    assert asked.status_code == 200
    assert "Delete for good" in asked.text
    await container.flags.update_flag(SETUP, "old.switch", {"rollout": 5}, ['"1"'])
    stale = await client.post(
        url, data={"version": "1", "confirm": "yes", "csrf_token": csrf}, headers=BROWSER
    )
    assert stale.status_code == 409
    assert "It changed meanwhile" in stale.text
    done = await client.post(
        url, data={"version": "2", "confirm": "yes", "csrf_token": csrf}, headers=BROWSER
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/flags?deleted=1"
    assert "old.switch" not in (await client.get("/admin/flags", headers=BROWSER)).text


async def test_a_viewer_reads_flags_with_stale_marks_and_no_controls(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    await container.flags.create_flag(SETUP, {"key": "fresh.flag", "rollout": 40})
    await container.flags.create_flag(SETUP, {"key": "forgotten.flag", "rollout": 40})
    await container.flags.create_flag(SETUP, {"key": "done.flag", "rollout": 100})
    now = container.flags._clock.now()
    async with container.database.sessions() as session:
        long_ago = now - timedelta(days=31)
        await session.execute(update(Flag).where(Flag.key == "forgotten.flag").values(created_at=long_ago))
        await session.execute(
            update(Flag)
            .where(Flag.key == "done.flag")
            .values(fully_rolled_out_at=long_ago, last_evaluated_at=now)
        )
        await session.commit()
    await log_in(client, staff.viewer)
    assert "Flags" in nav_labels((await client.get("/admin", headers=BROWSER)).text)
    listing = (await client.get("/admin/flags", headers=BROWSER)).text
    rows = dict(re.findall(r'<tr data-flag="([^"]+)">(.*?)</tr>', listing, re.S))
    assert "badge--stale" not in rows["fresh.flag"]
    assert "Not evaluated for 30 days" in rows["forgotten.flag"]
    assert "One answer for everyone for 30 days" in rows["done.flag"]
    assert "/admin/flags/new" not in listing
    page = (await client.get("/admin/flags/fresh.flag", headers=BROWSER)).text
    assert 'method="post"' not in page.replace('action="/admin/logout"', "").split("<main", 1)[1]
    assert "data-flag-preview" in page
    form = await client.get("/admin/flags/new", headers=BROWSER)
    assert form.status_code == 403


async def test_an_admin_goes_from_a_flag_to_its_history_and_back(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    await container.flags.create_flag(SETUP, {"key": "audited.flag"})
    await log_in(client, staff.admin)
    page = (await client.get("/admin/flags/audited.flag", headers=BROWSER)).text
    history = "/admin/audit?entity_type=flag&amp;entity_id=audited.flag"
    assert f'href="{history}"' in page
    log = await client.get(unescape(history), headers=BROWSER)
    assert log.status_code == 200
    assert "flag.create" in log.text
    assert 'href="/admin/flags/audited.flag"' in log.text
