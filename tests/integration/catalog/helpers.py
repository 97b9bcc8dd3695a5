from __future__ import annotations

import itertools
from typing import Any

import httpx

_skus = itertools.count(1)


def product_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "sku": f"SKU-{next(_skus):06d}",
        "name": "Merino Wool Scarf",
        "description": "A warm scarf in soft merino wool.",
        "price": {"amount": "49.90", "currency": "EUR"},
        "status": "active",
        "category": "apparel",
        "tags": ["wool", "gift"],
        "attributes": {"color": "navy", "weight_g": 180, "organic": True},
        "stock": 12,
    }
    payload.update(overrides)
    return payload


async def create(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/products", json=product_payload(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def count(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    total, cursor = 0, None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/products", params=params, headers=headers)).json()
        total += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return total


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert "Traceback" not in response.text
    return body
