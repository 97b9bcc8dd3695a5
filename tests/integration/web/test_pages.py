"""The web foundation over HTTP: page policy, HTML errors for browsers, static assets, the front page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from shelf.app import Container, create_app
from shelf.gateway.security import PAGE_CONTENT_SECURITY_POLICY
from shelf.settings import Settings
from shelf.web.assets import IMMUTABLE, REVALIDATE
from shelf.web.errors import PageRoute
from tests.integration.web.helpers import BROWSER, add_product, assert_self_contained


async def test_pages_get_the_strict_page_policy_and_contain_nothing_it_would_block(
    client: httpx.AsyncClient, container: Container
) -> None:
    await add_product(container, name="Policy Lamp")
    page = await client.get("/", headers=BROWSER)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers.get_list("content-security-policy") == [PAGE_CONTENT_SECURITY_POLICY]
    assert "'unsafe-inline'" not in PAGE_CONTENT_SECURITY_POLICY
    assert re.search(r"(^|; )script-src 'self'(;|$)", PAGE_CONTENT_SECURITY_POLICY)
    assert page.headers["cache-control"] == "private, no-cache"
    assert page.headers["x-frame-options"] == "DENY"
    assert_self_contained(page.text)


async def test_a_missing_page_is_a_page_for_browsers_and_a_problem_for_programs(
    client: httpx.AsyncClient, container: Container
) -> None:
    for_browser = await client.get("/no/such/page", headers=BROWSER)
    assert for_browser.status_code == 404
    assert for_browser.headers["content-type"] == "text/html; charset=utf-8"
    assert "We couldn&#39;t find that page" in for_browser.text
    assert for_browser.headers["content-security-policy"] == PAGE_CONTENT_SECURITY_POLICY
    assert_self_contained(for_browser.text)

    for_program = await client.get("/no/such/page")
    assert for_program.status_code == 404
    assert for_program.headers["content-type"] == "application/problem+json"

    # Under /api/ a problem it stays, even for a client that prefers HTML.
    api = await client.get("/api/v1/nothing-here", headers=BROWSER)
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    wrong_method = await client.delete("/", headers=BROWSER)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "text/html; charset=utf-8"
    assert "GET" in wrong_method.headers["allow"]


@pytest.fixture
async def failing_page(settings: Settings, app: FastAPI, container: Container) -> AsyncIterator[FastAPI]:
    broken = create_app(settings)
    router = APIRouter(route_class=PageRoute)

    @router.get("/broken")
    async def broken_page() -> None:
        raise RuntimeError("secret internals: password=s3cr3t")

    broken.include_router(router)
    yield broken
    await broken.state.container.aclose()


async def test_an_unexpected_error_on_a_page_is_a_friendly_500(failing_page: FastAPI) -> None:
    transport = httpx.ASGITransport(app=failing_page, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://shelf.test") as http:
        page = await http.get("/broken", headers=BROWSER | {"X-Request-ID": "page-error-0001"})
    assert page.status_code == 500
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "Something went wrong on our side" in page.text
    assert "page-error-0001" in page.text  # the reference to quote
    assert "s3cr3t" not in page.text
    assert "RuntimeError" not in page.text
    assert page.headers["content-security-policy"] == PAGE_CONTENT_SECURITY_POLICY


async def test_static_assets_are_versioned_immutable_and_revalidated_otherwise(
    client: httpx.AsyncClient, container: Container
) -> None:
    page = (await client.get("/", headers=BROWSER)).text
    stylesheet = re.search(r'href="(/static/css/shelf\.css\?v=[0-9a-f]{16})"', page)
    assert stylesheet, "the page links the stylesheet with its version"
    versioned = await client.get(stylesheet.group(1))
    assert versioned.status_code == 200
    assert versioned.headers["content-type"].startswith("text/css")
    assert versioned.headers["cache-control"] == IMMUTABLE

    stale = await client.get("/static/css/shelf.css?v=0000000000000000")
    assert stale.headers["cache-control"] == REVALIDATE
    plain = await client.get("/static/css/shelf.css")
    assert plain.headers["cache-control"] == REVALIDATE
    again = await client.get("/static/css/shelf.css", headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""

    missing = await client.get("/static/css/nothing.css", headers=BROWSER)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    escape = await client.get("/static/../settings.py")
    assert escape.status_code == 404


async def test_static_assets_spend_no_rate_limit(settings: Settings, container: Container) -> None:
    limited = create_app(
        settings.model_copy(update={"rate_limit_enabled": True, "rate_limit_anonymous": "1/minute"})
    )
    try:
        transport = httpx.ASGITransport(app=limited)
        async with httpx.AsyncClient(transport=transport, base_url="http://shelf.test") as http:
            assets = [await http.get("/static/js/shelf.js") for _ in range(5)]
            assert [asset.status_code for asset in assets] == [200] * 5
            assert all("ratelimit" not in asset.headers for asset in assets)
            pages = [await http.get("/", headers=BROWSER) for _ in range(2)]
            assert [page.status_code for page in pages] == [200, 429]
    finally:
        await limited.state.container.aclose()


async def test_the_front_page_lists_active_categories_and_products_only(
    client: httpx.AsyncClient, container: Container
) -> None:
    await add_product(container, name="Storm Shell Jacket", category="apparel", status="active")
    await add_product(container, name="Unreleased Kettle", category="appliances", status="draft")
    await add_product(container, name="Retired Sandal", category="footwear", status="archived")
    page = await client.get("/", headers=BROWSER)
    assert page.status_code == 200
    assert "Storm Shell Jacket" in page.text
    assert "Unreleased Kettle" not in page.text
    assert "Retired Sandal" not in page.text
    assert 'href="/products?category=apparel"' in page.text
    assert "category=appliances" not in page.text
    assert "category=footwear" not in page.text
    assert "New arrivals" in page.text  # nothing is tagged "featured"

    await add_product(container, name="Hero Lantern", tags=["featured"])
    featured = await client.get("/", headers=BROWSER)
    assert "Featured products" in featured.text
    assert "Hero Lantern" in featured.text
    assert "Storm Shell Jacket" not in featured.text
