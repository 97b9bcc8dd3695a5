"""``/metrics`` through the whole app: what is counted, under which labels, in a format promtool accepts."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi import FastAPI

from shelf.app import Container
from shelf.monitoring.summary import names_read
from tests.conftest import Keys
from tests.integration.catalog.helpers import create
from tests.integration.monitoring.conftest import (
    METRICS_TOKEN,
    MakeApp,
    connect,
    promtool_check_metrics,
    sample,
)

PRODUCT = "/api/v1/products/{product_id}"
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}


async def scrape(http: httpx.AsyncClient) -> str:
    response = await http.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


def requests_of(route: str, status: str, method: str = "GET") -> float:
    return sample("shelf_http_requests_total", method=method, route=route, status=status)


async def test_requests_are_counted_and_timed_by_route_template_and_status_class(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    product = await create(client, keys.auth("editor"))
    missing = uuid.uuid4()
    before_ok, before_missing = requests_of(PRODUCT, "2xx"), requests_of(PRODUCT, "4xx")
    timed_before = sample("shelf_http_request_duration_seconds_count", method="GET", route=PRODUCT)

    assert (await client.get(f"/api/v1/products/{product['id']}")).status_code == 200
    assert (await client.get(f"/api/v1/products/{missing}")).status_code == 404
    assert (await client.get("/api/v1/products/not-a-uuid")).status_code == 422

    assert requests_of(PRODUCT, "2xx") == before_ok + 1
    assert requests_of(PRODUCT, "4xx") == before_missing + 2
    assert (
        sample("shelf_http_request_duration_seconds_count", method="GET", route=PRODUCT) == timed_before + 3
    )
    assert requests_of("/api/v1/products", "2xx", method="POST") >= 1


async def test_no_raw_path_ever_becomes_a_label(make_app: MakeApp) -> None:
    app = make_app(metrics_token=METRICS_TOKEN)
    probe = uuid.uuid4().hex
    before = requests_of("unmatched", "4xx")
    async with connect(app) as http:
        for path in (f"/{probe}", f"/api/v1/{probe}/x", f"/static-{probe}", f"/api/v1/products/{probe}"):
            assert (await http.get(path)).status_code in (404, 422)
        assert (await http.get(f"/static/{probe}.css")).status_code == 404
        text = await scrape(http)
    assert probe not in text, "a raw path reached a label"
    assert requests_of("unmatched", "4xx") == before + 3
    assert requests_of("/static/{path}", "4xx") >= 1  # a mount is its template too
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert routes, "no route label at all"
    assert all(route == "unmatched" or route.startswith("/") for route in routes), routes


async def test_the_exposition_has_every_family_and_promtool_accepts_it(make_app: MakeApp, keys: Keys) -> None:
    app = make_app(metrics_token=METRICS_TOKEN, rate_limit_anonymous="1/minute")
    async with connect(app) as http:
        product = await create(http, keys.auth("editor"))
        for _ in range(2):  # a miss then a hit in the cache
            await http.get(f"/api/v1/products/{product['id']}", headers=keys.auth("viewer"))
        await http.get("/api/v1/products")
        assert (await http.get("/api/v1/products")).status_code == 429
        text = await scrape(http)
    families = {
        "shelf_http_requests_total",
        "shelf_http_request_duration_seconds_bucket",
        "shelf_http_requests_in_flight",
        "shelf_cache_hits_total",
        "shelf_cache_misses_total",
        "shelf_db_pool_connections_in_use",
        "shelf_db_pool_connections_open",
        "shelf_db_pool_connections_max",
        "shelf_event_buffer_depth",
        "shelf_rate_limit_rejections_total",
        "shelf_build_info",
    }
    exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and line[0] != "#"}
    assert families <= exported, f"missing: {sorted(families - exported)}"
    for family in names_read():  # what the System page's summary reads
        assert f"# TYPE {family} " in text, family
    assert 'shelf_rate_limit_rejections_total{policy="anonymous"}' in text
    assert re.search(r'shelf_build_info\{[^}]*version="[0-9.]+"', text)
    assert "_created" not in text
    promtool_check_metrics(text)


async def test_cache_hits_and_misses_are_counted(client: httpx.AsyncClient, keys: Keys) -> None:
    product = await create(client, keys.auth("editor"))
    hits, misses = (
        sample("shelf_cache_hits_total", cache="memory"),
        sample("shelf_cache_misses_total", cache="memory"),
    )
    await client.get(f"/api/v1/products/{product['id']}", headers=keys.auth("viewer"))  # fills the cache
    await client.get(f"/api/v1/products/{product['id']}", headers=keys.auth("viewer"))
    assert sample("shelf_cache_misses_total", cache="memory") >= misses + 1
    assert sample("shelf_cache_hits_total", cache="memory") >= hits + 1


async def test_pool_use_is_tracked(app: FastAPI, container: Container, client: httpx.AsyncClient) -> None:
    assert sample("shelf_db_pool_connections_max") >= 1
    async with container.database.engine.connect():
        in_use = sample("shelf_db_pool_connections_in_use")
        assert in_use >= 1
        assert sample("shelf_db_pool_connections_open") >= in_use
    assert sample("shelf_db_pool_connections_in_use") == in_use - 1


async def test_in_flight_requests_are_counted_while_they_run(client: httpx.AsyncClient) -> None:
    before = sample("shelf_http_requests_in_flight")
    await client.get("/healthz")
    assert sample("shelf_http_requests_in_flight") == before
