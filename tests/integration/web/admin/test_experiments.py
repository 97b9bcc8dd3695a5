"""The console's experiments: list, the new-experiment form, and the results page with its SVG chart
and table (the same figures as the REST results), start and stop for editors only."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from shelf.app import Container
from tests.conftest import Keys
from tests.integration.experiments.helpers import create, ensure_dogfood_flag, exposure, run_between, send
from tests.integration.web.admin.conftest import Staff, log_in, nav_labels
from tests.integration.web.helpers import BROWSER, assert_self_contained

FORM = {
    "key": "console-layout",
    "name": "Console layout",
    "flag_key": "storefront.product-page-layout",
    "control_variant": "control",
    "event": "add_to_cart",
    "window_hours": "24",
    "minimum_sample": "100",
}


@pytest.fixture(autouse=True)
async def dogfood_flag(container: Container) -> None:
    await ensure_dogfood_flag(container)


async def test_an_editor_creates_starts_and_stops_an_experiment(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    csrf = await log_in(client, staff.editor)
    assert "Experiments" in nav_labels((await client.get("/admin", headers=BROWSER)).text)
    form = await client.get("/admin/experiments/new", headers=BROWSER)
    assert form.status_code == 200
    created = await client.post("/admin/experiments/new", data=FORM | {"csrf_token": csrf}, headers=BROWSER)
    assert created.status_code == 303
    url = created.headers["location"]
    assert re.fullmatch(r"/admin/experiments/[0-9a-f-]{36}", url)
    page = await client.get(url, headers=BROWSER)
    assert 'data-testid="status">draft<' in page.text
    assert "/start" in page.text
    started = await client.post(f"{url}/start", data={"csrf_token": csrf}, headers=BROWSER)
    assert started.status_code == 303
    page = await client.get(url, headers=BROWSER)
    assert 'data-testid="status">running<' in page.text
    assert 'data-testid="rate-chart"' in page.text
    await client.post(f"{url}/stop", data={"csrf_token": csrf}, headers=BROWSER)
    assert 'data-testid="status">stopped<' in (await client.get(url, headers=BROWSER)).text
    listing = await client.get("/admin/experiments", headers=BROWSER)
    assert "Console layout" in listing.text


async def test_the_form_shows_an_unknown_flag_and_stores_nothing(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    csrf = await log_in(client, staff.editor)
    data = FORM | {"flag_key": "no.such-flag", "csrf_token": csrf}
    refused = await client.post("/admin/experiments/new", data=data, headers=BROWSER)
    assert refused.status_code == 422
    assert "no flag with this key exists" in refused.text
    assert "Console layout" not in (await client.get("/admin/experiments", headers=BROWSER)).text


async def test_a_viewer_reads_the_results_page_without_buttons(
    client: httpx.AsyncClient, container: Container, keys: Keys, staff: Staff
) -> None:
    experiment = await create(client, keys)
    await run_between(container, experiment["id"], datetime(2026, 3, 2, tzinfo=UTC), None)
    rows = [exposure(f"c{i}", "2026-03-02T10:00:00Z", "control") for i in range(4)]
    rows += [exposure(f"g{i}", "2026-03-02T10:00:00Z", "gallery") for i in range(4)]
    rows += [("add_to_cart", who, "2026-03-02T11:00:00Z", {}) for who in ("c0", "g0", "g1")]
    await send(client, container, keys, rows)
    await log_in(client, staff.viewer)
    assert "Experiments" in nav_labels((await client.get("/admin", headers=BROWSER)).text)
    page = await client.get(f"/admin/experiments/{experiment['id']}", headers=BROWSER)
    assert page.status_code == 200
    html = page.text
    assert_self_contained(html)
    assert "<svg" in html
    assert html.count("<rect") == 2
    assert re.search(r'data-variant="control".*?data-field="rate">25\.00%<', html, re.S)
    assert re.search(r'data-variant="gallery".*?data-field="rate">50\.00%<', html, re.S)
    assert re.search(r'data-variant="gallery".*?data-field="lift">100\.00%<', html, re.S)
    assert 'data-field="excluded">0<' in html
    assert "/start" not in html
    assert "/stop" not in html
    forbidden = await client.get("/admin/experiments/new", headers=BROWSER)
    assert forbidden.status_code == 403
