"""Who may read ``/metrics``: a scraper with ``SHELF_METRICS_TOKEN``, admins, and nobody else.

The authorization matrix (tests/security) covers the roles; this covers the scrape token, which is
no principal of the identity system and is answered before authentication.
"""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from shelf.settings import Settings
from tests.conftest import Keys
from tests.integration.monitoring.conftest import METRICS_TOKEN, MakeApp, connect

BEARER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


async def test_the_scrape_token_reads_metrics_and_nothing_else(make_app: MakeApp) -> None:
    app = make_app(metrics_token=METRICS_TOKEN)
    async with connect(app) as http:
        scraped = await http.get("/metrics", headers=BEARER)
        assert scraped.status_code == 200
        assert "shelf_http_requests_total" in scraped.text
        assert scraped.headers["x-request-id"]  # answered inside the gateway's outer layers
        assert scraped.headers["x-content-type-options"] == "nosniff"
        # The token is no API key: anywhere else it is an unknown credential.
        for path in ("/api/v1/users", "/api/v1/products"):
            assert (await http.get(path, headers=BEARER)).status_code == 401, path


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        f"Bearer {METRICS_TOKEN}x",
        f"Bearer {METRICS_TOKEN[:-1]}",
        f"bearer  {METRICS_TOKEN}",
        "Basic Zm9vOmJhcg==",
    ],
)
async def test_anything_but_the_exact_token_is_refused(make_app: MakeApp, authorization: str | None) -> None:
    app = make_app(metrics_token=METRICS_TOKEN)
    headers = {"Authorization": authorization} if authorization else {}
    async with connect(app) as http:
        response = await http.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "shelf_" not in response.text


async def test_without_a_token_configured_only_admins_read_metrics(
    http_client: httpx.AsyncClient, keys: Keys
) -> None:
    assert (await http_client.get("/metrics", headers=BEARER)).status_code == 401
    assert (await http_client.get("/metrics", headers=keys.auth("viewer"))).status_code == 403
    admin = await http_client.get("/metrics", headers=keys.auth("admin"))
    assert admin.status_code == 200
    assert "# TYPE shelf_http_requests_total counter" in admin.text


def test_a_short_token_is_refused_at_startup() -> None:
    with pytest.raises(ValidationError, match="metrics_token"):
        Settings(metrics_token="too-short")


@pytest.fixture
async def http_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client
