"""A real ``shelf serve`` process over real HTTP: the journey of issue 2's README, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.databases import database
from tests.process import running_server, shelf

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database(str(request.param), tmp_path) as database_url:
        assert shelf("db", "upgrade", database_url=database_url).returncode == 0
        assert shelf("seed", "--products", "60", database_url=database_url).returncode == 0
        yield database_url


async def test_a_new_user_manages_products_over_http(url: str) -> None:
    created_key = shelf("apikeys", "create", "--name", "e2e", "--role", "editor", database_url=url)
    auth = {"Authorization": f"Bearer {created_key.stdout.strip().splitlines()[-1]}"}
    with running_server(url) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            health = await http.get("/healthz")
            assert health.json() == {"status": "ok"}
            assert "server" not in health.headers
            assert "/api/v1/products" in (await http.get("/openapi.json")).json()["paths"]
            assert (await http.get("/docs")).status_code == 200

            new = {
                "sku": "E2E-1",
                "name": "Glacier Merino Scarf",
                "price": {"amount": "59.00", "currency": "EUR"},
                "status": "active",
                "category": "apparel",
                "tags": ["e2e"],
            }
            created = await http.post("/api/v1/products", json=new, headers=auth)
            assert created.status_code == 201, created.text
            location, etag = created.headers["location"], created.headers["etag"]

            read = await http.get(location)
            assert read.json()["name"] == "Glacier Merino Scarf"
            assert (await http.get(location, headers={"If-None-Match": etag})).status_code == 304

            patched = await http.patch(
                location,
                content=b'{"price": {"amount": "54.50"}}',
                headers=auth | {"If-Match": etag, "Content-Type": "application/merge-patch+json"},
            )
            assert patched.status_code == 200, patched.text
            assert patched.json()["price"]["amount"] == "54.50"

            search = await http.get("/api/v1/products", params={"q": "glacier"})
            assert [item["sku"] for item in search.json()["items"]] == ["E2E-1"]
            listed = await http.get("/api/v1/products", params={"tag": "e2e", "sort": "-price", "limit": 5})
            assert [item["sku"] for item in listed.json()["items"]] == ["E2E-1"]

            bad = await http.post(
                "/api/v1/products",
                json=new | {"sku": "E2E-2", "price": {"amount": "-1", "currency": "EUR"}},
                headers=auth,
            )
            assert bad.status_code == 422
            assert bad.headers["content-type"] == "application/problem+json"
            assert bad.headers["x-request-id"]

            deleted = await http.delete(location, headers=auth | {"If-Match": patched.headers["etag"]})
            assert deleted.status_code == 204
            assert (await http.get(location)).status_code == 404
