"""OWASP API9:2023 Improper Inventory Management.

The inventory is the route table: everything is under ``/api/v1`` except a declared handful of
public routes; the OpenAPI document lists exactly the API, of this version; nothing else answers,
no debug, legacy-version or framework-default route.
"""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from shelf import __version__
from tests.security.conftest import routed_pairs

# The storefront's pages: HTML for people, not part of the API, so not in the OpenAPI document.
STOREFRONT = {
    ("GET", "/"),
    ("GET", "/static/{path}"),  # the pages' CSS, script and icon, packaged
    ("GET", "/products"),
    ("GET", "/products/{product_id}"),
    ("GET", "/products/{product_id}/{slug}"),
    ("GET", "/feedback"),
    ("POST", "/feedback"),  # the feedback form without JavaScript (its script posts to the API)
    ("GET", "/cart"),
    ("POST", "/cart/items"),
    ("POST", "/cart/items/{product_id}"),
    ("POST", "/cart/items/{product_id}/remove"),
    ("POST", "/storefront/events"),  # the first-party tracker's beacons (ADR 0017)
    ("POST", "/storefront/consent"),  # the analytics consent banner's answer
}
# The admin console's pages (web/admin/): HTML for staff, not part of the API either.
CONSOLE = {
    ("GET", "/admin/login"),
    ("POST", "/admin/login"),
    ("POST", "/admin/logout"),
    ("GET", "/admin"),
    ("GET", "/admin/system"),
    ("GET", "/admin/feedback"),
    ("GET", "/admin/feedback/{feedback_id}"),
    ("POST", "/admin/feedback/{feedback_id}"),
    ("GET", "/admin/products"),
    ("POST", "/admin/products/status"),
    ("GET", "/admin/products/new"),
    ("POST", "/admin/products/new"),
    ("GET", "/admin/products/{product_id}"),
    ("POST", "/admin/products/{product_id}"),
    ("POST", "/admin/products/{product_id}/delete"),
    ("GET", "/admin/users"),
    ("POST", "/admin/users"),
    ("POST", "/admin/users/{user_id}"),
    ("GET", "/admin/apikeys"),
    ("POST", "/admin/apikeys"),
    ("POST", "/admin/apikeys/{key_id}/revoke"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/imports"),
    ("POST", "/admin/imports"),  # multipart upload (the CSRF token is its first field)
    ("GET", "/admin/imports/{job_id}"),
    ("GET", "/admin/flags"),
    ("GET", "/admin/flags/new"),
    ("POST", "/admin/flags/new"),
    ("GET", "/admin/flags/{key}"),
    ("POST", "/admin/flags/{key}"),
    ("POST", "/admin/flags/{key}/delete"),
    ("GET", "/admin/analytics"),
    ("GET", "/admin/analytics/funnel"),
    ("GET", "/admin/analytics/retention"),
    ("GET", "/admin/experiments"),
    ("GET", "/admin/experiments/new"),
    ("POST", "/admin/experiments/new"),
    ("GET", "/admin/experiments/{experiment_id}"),
    ("POST", "/admin/experiments/{experiment_id}/start"),
    ("POST", "/admin/experiments/{experiment_id}/stop"),
}
# The OpenFeature Remote Evaluation Protocol, where OpenFeature's OFREP providers call it (its
# paths, not ours to choose; flags/ofrep.py). Documented in the OpenAPI document like the API.
OFREP = {
    ("POST", "/ofrep/v1/evaluate/flags/{key}"),
    ("POST", "/ofrep/v1/evaluate/flags"),
    ("GET", "/ofrep/v1/configuration"),
}
OUTSIDE_THE_API = {
    ("GET", "/healthz"),  # the liveness probe
    # Event capture where PostHog's SDKs send it (their paths, not ours to choose)
    *(("POST", path) for path in ("/batch/", "/capture/", "/e/", "/i/v0/e/")),
    ("GET", "/readyz"),  # the readiness probe
    ("GET", "/metrics"),  # Prometheus metrics: admins, or a scraper with SHELF_METRICS_TOKEN
    ("GET", "/openapi.json"),  # the API description
    ("GET", "/docs"),  # the API reference page
    ("GET", "/docs/assets/{path}"),  # its scripts and styles, packaged
    *OFREP,
    *STOREFRONT,
    *CONSOLE,
}
NOT_DOCUMENTED = {
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/assets/{path}"),
    *STOREFRONT,
    *CONSOLE,
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def documented(schema: dict[str, object]) -> set[tuple[str, str]]:
    paths = schema["paths"]
    assert isinstance(paths, dict)
    return {
        (method.upper(), path) for path, item in paths.items() for method in item if method in HTTP_METHODS
    }


def test_every_route_is_under_api_v1_except_the_declared_public_ones(
    route_table: set[tuple[str, str]],
) -> None:
    outside = {pair for pair in route_table if not pair[1].startswith("/api/v1/")}
    assert outside == OUTSIDE_THE_API, (
        "routes outside /api/v1 must be declared in OUTSIDE_THE_API: "
        f"undeclared {sorted(outside - OUTSIDE_THE_API)}, gone {sorted(OUTSIDE_THE_API - outside)}"
    )


async def test_the_openapi_document_lists_exactly_the_api(app: FastAPI, http: httpx.AsyncClient) -> None:
    response = await http.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    served = routed_pairs(app)
    expected = served - NOT_DOCUMENTED
    listed = documented(schema)
    assert listed == expected, (
        f"undocumented: {sorted(expected - listed)}; documented, not served: {sorted(listed - expected)}"
    )
    assert schema["info"]["version"] == __version__
    operation_ids = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), f"{where} has no summary"
            assert operation.get("tags"), f"{where} has no tag"
            assert not operation.get("deprecated"), f"{where} is deprecated but still served"
            operation_ids.append(operation["operationId"])
    assert len(operation_ids) == len(set(operation_ids))
    assert "servers" not in schema or all(
        not re.search(r"localhost|127\.0\.0\.1|internal|staging", server["url"])
        for server in schema["servers"]
    )


def test_no_route_looks_like_a_debug_test_or_internal_one(route_table: set[tuple[str, str]]) -> None:
    suspicious = re.compile(
        r"debug|internal|test|_dev|/dev|private|actuator|phpinfo|shell|eval|exec|backdoor", re.I
    )
    # OFREP's "/evaluate/" is the protocol's own word (exactly the three routes of OFREP).
    assert not [pair for pair in route_table - OFREP if suspicious.search(pair[1])]
    versions = {match.group(0) for _, path in route_table if (match := re.match(r"/api/v\d+", path))}
    assert versions == {"/api/v1"}, "exactly one API version is served"


@pytest.mark.parametrize(
    "path",
    [
        "/debug",
        "/api/v1/debug",
        "/_debug",
        "/admin/debug",
        "/admin/console",
        "/console",
        "/env",
        "/.env",
        "/config",
        "/redoc",
        "/docs/oauth2-redirect",
        "/swagger.json",
        "/api/openapi.json",
        "/api/v0/products",
        "/api/v2/products",
        "/api/products",
        "/v1/products",
        "/server-status",
        "/actuator/health",
        "/graphql",
        "/.git/config",
        "/src/shelf/settings.py",
    ],
)
async def test_no_undocumented_route_answers(http: httpx.AsyncClient, path: str) -> None:
    response = await http.get(path)
    assert response.status_code == 404, f"{path} answered {response.status_code}"
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_reference_page_loads_this_servers_description_and_nothing_remote(
    http: httpx.AsyncClient,
) -> None:
    page = (await http.get("/docs")).text
    assert "/openapi.json" in page
    assert not re.search(r"""(?:src|href|url)\s*[=:]\s*["']?(?:https?:)?//""", page)
