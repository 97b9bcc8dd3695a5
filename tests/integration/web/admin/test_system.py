"""The System page: this server's throughput, latency, errors, cache and buffer, for admins only."""

from __future__ import annotations

import re

import httpx

from shelf.app import Container
from tests.integration.web.admin.conftest import Staff, log_in, nav_labels
from tests.integration.web.helpers import BROWSER, add_product, assert_self_contained


def figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]+)<', html)
    assert match, f"no {name} figure on the page"
    return match.group(1).strip()


async def test_admins_see_the_servers_own_figures(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    product = await add_product(container)
    for _ in range(5):  # traffic of a shop: the same product twice is a cache hit the second time
        assert (await client.get(f"/api/v1/products/{product['id']}")).status_code == 200
    await log_in(client, staff.admin)
    page = await client.get("/admin/system", headers=BROWSER)
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    assert "<h1>System</h1>" in page.text
    assert '<meta http-equiv="refresh" content="10">' in page.text
    assert "System" in nav_labels(page.text)
    assert float(figure(page.text, "throughput").removesuffix(" req/s")) > 0
    for quantile in ("p50", "p95", "p99"):
        assert re.fullmatch(r"\d+\.\d ms", figure(page.text, quantile)), figure(page.text, quantile)
    assert re.fullmatch(r"\d+\.\d\d %", figure(page.text, "error-rate"))
    hit_ratio = float(figure(page.text, "cache-hit-ratio").removesuffix(" %"))
    assert 0 < hit_ratio <= 100
    assert re.fullmatch(r"\d+ events", figure(page.text, "buffer-depth"))
    assert_self_contained(page.text)


async def test_editors_and_viewers_neither_see_nor_open_it(client: httpx.AsyncClient, staff: Staff) -> None:
    for email in (staff.editor, staff.viewer):
        await log_in(client, email)
        dashboard = await client.get("/admin", headers=BROWSER)
        assert "System" not in nav_labels(dashboard.text)
        assert 'href="/admin/system"' not in dashboard.text
        refused = await client.get("/admin/system", headers=BROWSER)
        assert refused.status_code == 403
        assert "data-figure" not in refused.text
        client.cookies.clear()


async def test_anonymous_visitors_are_sent_to_log_in(client: httpx.AsyncClient) -> None:
    answer = await client.get("/admin/system", headers=BROWSER)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/login?next=/admin/system"
