"""The console's feedback inbox, through the pages as a browser uses them."""

from __future__ import annotations

import re

import httpx

from shelf.app import Container
from tests.conftest import Keys
from tests.integration.feedback.helpers import new_product, submit
from tests.integration.web.admin.conftest import Staff, log_in, nav_labels
from tests.integration.web.helpers import BROWSER, assert_self_contained


async def test_an_editor_reads_the_inbox_with_context_and_summary_and_triages(
    client: httpx.AsyncClient, container: Container, keys: Keys, staff: Staff
) -> None:
    scarf = await new_product(container, name="Glacier Scarf")
    first = await submit(
        client,
        keys.auth("client"),
        product_id=scarf["id"],
        rating=2,
        text="Too <b>short</b>",
        email="e@x.example",
    )
    await submit(client, keys.auth("client"), product_id=scarf["id"], rating=5, text="Perfect")
    await submit(client, keys.auth("client"), rating=4, text="Quick delivery", distinct_id="user-99")

    await log_in(client, staff.editor)
    assert "Feedback" in nav_labels((await client.get("/admin", headers=BROWSER)).text)
    inbox = await client.get("/admin/feedback", headers=BROWSER)
    assert inbox.status_code == 200
    assert inbox.headers["cache-control"] == "no-store"
    html = inbox.text
    assert_self_contained(html)
    assert html.count('class="feedback-item"') == 3
    assert "Too &lt;b&gt;short&lt;/b&gt;" in html  # escaped, never markup
    assert f'<a href="/products/{scarf["id"]}">Glacier Scarf</a>' in html
    assert "<code>checkout-button</code> = <code>green</code>" in html
    assert "<code>user-99</code>" in html
    assert "e@x.example" not in html  # editors do not see emails
    assert "Given (only administrators see it)" in html
    assert re.search(r"data-summary-average>3\.67<", html)  # (2 + 5 + 4) / 3
    assert 'name="status"' in html  # editors triage

    only_scarf = (await client.get(f"/admin/feedback?product={scarf['id']}", headers=BROWSER)).text
    assert only_scarf.count('class="feedback-item"') == 2
    assert "Feedback on Glacier Scarf" in only_scarf
    assert re.search(r"data-summary-average>3\.50<", only_scarf)
    low = (await client.get("/admin/feedback?rating=2&status=new", headers=BROWSER)).text
    assert low.count('class="feedback-item"') == 1
    today = first["created_at"][:10]
    dated = (await client.get(f"/admin/feedback?since={today}&until={today}", headers=BROWSER)).text
    assert dated.count('class="feedback-item"') == 3
    refused = await client.get("/admin/feedback?since=yesterday", headers=BROWSER)
    assert refused.status_code == 422
    assert "Enter a date such as 2026-03-05." in refused.text


async def test_an_editor_triages_and_a_stale_form_is_a_conflict_that_keeps_what_was_typed(
    client: httpx.AsyncClient, container: Container, keys: Keys, staff: Staff
) -> None:
    scarf = await new_product(container, name="Glacier Scarf")
    first = await submit(client, keys.auth("client"), product_id=scarf["id"], rating=2)
    await submit(client, keys.auth("client"), rating=4)
    csrf = await log_in(client, staff.editor)
    back = f"/admin/feedback?product={scarf['id']}"
    form = {
        "csrf_token": csrf,
        "status": "planned",
        "note": "Longer model next season",
        "version": "1",
        "next": back,
    }
    saved = await client.post(f"/admin/feedback/{first['id']}", data=form, headers=BROWSER)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{back}&saved={first['id']}"
    after = (await client.get(saved.headers["location"], headers=BROWSER)).text
    assert "The triage was saved." in after
    assert "Longer model next season" in after
    item = (await client.get(f"/admin/feedback/{first['id']}", headers=BROWSER)).text
    assert '<option value="planned" selected>' in item
    assert "Last triaged by editor@console.test" in item

    # A second editor's form still says version 1: the page says who saved first, keeps what was typed.
    stale = form | {"status": "wont_do", "note": "Not for us"}
    conflict = await client.post(f"/admin/feedback/{first['id']}", data=stale, headers=BROWSER)
    assert conflict.status_code == 409
    assert "Someone else triaged this first" in conflict.text
    assert "editor@console.test triaged this feedback while you were looking at it." in conflict.text
    assert ">Not for us</textarea>" in conflict.text
    assert 'name="version" value="2"' in conflict.text  # saving again now applies to what they saw

    too_long = await client.post(
        f"/admin/feedback/{first['id']}", data=form | {"version": "2", "note": "n" * 2001}, headers=BROWSER
    )
    assert too_long.status_code == 422
    assert "must be at most 2,000 characters long" in too_long.text
    # Triaged feedback leaves the "new" pile.
    untriaged = (await client.get("/admin/feedback?status=new", headers=BROWSER)).text
    assert untriaged.count('class="feedback-item"') == 1
    assert f'id="feedback-{first["id"]}"' not in untriaged


async def test_a_viewer_reads_but_may_not_triage_and_an_admin_sees_emails(
    client: httpx.AsyncClient, container: Container, keys: Keys, staff: Staff
) -> None:
    receipt = await submit(client, keys.auth("client"), email="ada@example.com")
    csrf = await log_in(client, staff.viewer)
    page = (await client.get(f"/admin/feedback/{receipt['id']}", headers=BROWSER)).text
    assert "Your role may read feedback but not triage it." in page
    assert 'name="status"' not in page
    refused = await client.post(
        f"/admin/feedback/{receipt['id']}",
        data={"csrf_token": csrf, "status": "done", "version": "1"},
        headers=BROWSER,
    )
    assert refused.status_code == 403
    client.cookies.clear()

    await log_in(client, staff.admin)
    page = (await client.get(f"/admin/feedback/{receipt['id']}", headers=BROWSER)).text
    assert '<a href="mailto:ada@example.com">ada@example.com</a>' in page
    assert (await client.get("/admin/feedback/not-an-id", headers=BROWSER)).status_code == 404


async def test_the_inbox_pages_through_older_feedback(
    client: httpx.AsyncClient, container: Container, keys: Keys, staff: Staff
) -> None:
    for rating in (1, 2, 3, 4, 5) * 5:
        await submit(client, keys.auth("client"), rating=rating)
    await log_in(client, staff.viewer)
    first = (await client.get("/admin/feedback?q=size", headers=BROWSER)).text
    assert first.count('class="feedback-item"') == 20
    older = re.search(r'<a class="button button--secondary" href="([^"]+)">Older feedback</a>', first)
    assert older
    second = (await client.get(older.group(1).replace("&amp;", "&"), headers=BROWSER)).text
    assert second.count('class="feedback-item"') == 5
    assert "Older feedback" not in second
    assert 'value="size"' in second  # the filters are kept
