"""POST /api/v1/products: validation, authorization, duplicates, idempotency."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem, count, create, product_payload


async def test_create_returns_the_product_with_location_and_etag(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await client.post(
        "/api/v1/products",
        json=product_payload(sku="SCARF-1", name="  Merino Scarf  ", tags=["wool", "wool", "gift"]),
        headers=keys.auth("editor"),
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/api/v1/products/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert body["name"] == "Merino Scarf"
    assert body["price"] == {"amount": "49.90", "currency": "EUR"}
    assert body["tags"] == ["wool", "gift"]
    assert body["attributes"] == {"color": "navy", "weight_g": 180, "organic": True}
    assert body["version"] == 1
    assert body["created_at"] == body["updated_at"]
    assert body["created_at"].endswith("Z")
    assert body["id"][14] == "7"  # a UUIDv7


async def test_read_only_fields_are_never_honoured(client: httpx.AsyncClient, keys: Keys) -> None:
    body = await create(
        client,
        keys.auth("editor"),
        id="00000000-0000-0000-0000-000000000001",
        version=99,
        created_at="2001-01-01T00:00:00Z",
        updated_at="2001-01-01T00:00:00Z",
    )
    assert body["id"] != "00000000-0000-0000-0000-000000000001"
    assert body["version"] == 1
    assert not body["created_at"].startswith("2001")


async def test_amounts_are_exact_and_formatted_to_the_currency(client: httpx.AsyncClient, keys: Keys) -> None:
    cases = [
        ({"amount": "249", "currency": "EUR"}, "249.00"),
        ({"amount": 19.9, "currency": "USD"}, "19.90"),  # a JSON number, parsed as a decimal
        ({"amount": "1500", "currency": "JPY"}, "1500"),
        ({"amount": "1.125", "currency": "KWD"}, "1.125"),
        ({"amount": "0.1", "currency": "EUR"}, "0.10"),
        ({"amount": "999999999999", "currency": "EUR"}, "999999999999.00"),
        ({"amount": "12.3400", "currency": "EUR"}, "12.34"),
    ]
    for price, expected in cases:
        body = await create(client, keys.auth("editor"), price=price)
        assert body["price"]["amount"] == expected
        read = await client.get(f"/api/v1/products/{body['id']}")
        assert read.json()["price"]["amount"] == expected


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("negative price", {"price": {"amount": "-1.00", "currency": "EUR"}}, "price.amount"),
    ("NaN", {"price": {"amount": "NaN", "currency": "EUR"}}, "price.amount"),
    ("infinite", {"price": {"amount": "Infinity", "currency": "EUR"}}, "price.amount"),
    ("absurd", {"price": {"amount": "1e15", "currency": "EUR"}}, "price.amount"),
    ("too many decimals", {"price": {"amount": "1.005", "currency": "EUR"}}, "price"),
    ("decimals in yen", {"price": {"amount": "100.5", "currency": "JPY"}}, "price"),
    ("not a number", {"price": {"amount": "ten", "currency": "EUR"}}, "price.amount"),
    ("boolean amount", {"price": {"amount": True, "currency": "EUR"}}, "price.amount"),
    ("unknown currency", {"price": {"amount": "1.00", "currency": "ABC"}}, "price.currency"),
    ("lowercase currency", {"price": {"amount": "1.00", "currency": "eur"}}, "price.currency"),
    ("missing price", {"price": None}, "price"),
    ("empty name", {"name": "   "}, "name"),
    ("long name", {"name": "x" * 201}, "name"),
    ("control character", {"name": "Scarf\x07"}, "name"),
    ("newline in name", {"name": "Scarf\nDrop table"}, "name"),
    ("bad sku", {"sku": "has space"}, "sku"),
    ("long sku", {"sku": "A" * 65}, "sku"),
    ("long description", {"description": "x" * 10_001}, "description"),
    ("bad status", {"status": "deleted"}, "status"),
    ("bad category", {"category": "Not A Slug"}, "category"),
    ("too many tags", {"tags": [f"t{i}" for i in range(21)]}, "tags"),
    ("long tag", {"tags": ["x" * 41]}, "tags.0"),
    ("nested attribute", {"attributes": {"size": {"eu": 42}}}, "attributes.size"),
    ("too many attributes", {"attributes": {f"a{i}": i for i in range(51)}}, "attributes"),
    ("bad attribute name", {"attributes": {"has space": "x"}}, "attributes"),
    ("negative stock", {"stock": -1}, "stock"),
    ("fractional stock", {"stock": 1.5}, "stock"),
    ("unknown field", {"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("case", "change", "field"), INVALID, ids=[c[0] for c in INVALID])
async def test_invalid_input_is_422_naming_the_field_and_creates_nothing(
    client: httpx.AsyncClient, keys: Keys, case: str, change: dict[str, Any], field: str
) -> None:
    payload = product_payload(**change)
    payload = {k: v for k, v in payload.items() if v is not None}
    response = await client.post("/api/v1/products", json=payload, headers=keys.auth("editor"))
    body = assert_problem(response, 422)
    assert field in [error["field"] for error in body["errors"]], body["errors"]
    assert all(error["message"] for error in body["errors"])
    assert await count(client, keys.auth("viewer")) == 0


async def test_every_bad_field_is_listed(client: httpx.AsyncClient, keys: Keys) -> None:
    payload = product_payload(sku="bad sku", name="", price={"amount": "-1", "currency": "EUR"}, stock=-5)
    body = assert_problem(
        await client.post("/api/v1/products", json=payload, headers=keys.auth("editor")), 422
    )
    assert {"sku", "name", "price.amount", "stock"} <= {e["field"] for e in body["errors"]}


async def test_malformed_json_is_400(client: httpx.AsyncClient, keys: Keys) -> None:
    headers = keys.auth("editor") | {"Content-Type": "application/json"}
    for raw in (b"{not json", b'{"sku": NaN}', b"\xff\xfe", b""):
        response = await client.post("/api/v1/products", content=raw, headers=headers)
        assert_problem(response, 400)


async def test_a_body_that_is_not_an_object_is_422(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post("/api/v1/products", json=[1, 2], headers=keys.auth("editor"))
    assert_problem(response, 422)


async def test_other_media_types_are_415(client: httpx.AsyncClient, keys: Keys) -> None:
    headers = keys.auth("editor") | {"Content-Type": "text/plain"}
    assert_problem(await client.post("/api/v1/products", content=b"{}", headers=headers), 415)


async def test_bodies_over_one_mebibyte_are_413(client: httpx.AsyncClient, keys: Keys) -> None:
    payload = product_payload(description="x" * (1024 * 1024 + 1))
    response = await client.post("/api/v1/products", json=payload, headers=keys.auth("editor"))
    assert_problem(response, 413)

    async def chunks():  # no Content-Length: the limit still holds while streaming
        for _ in range(20):
            yield b" " * 65536

    streamed = await client.post(
        "/api/v1/products",
        content=chunks(),
        headers=keys.auth("editor") | {"Content-Type": "application/json"},
    )
    assert_problem(streamed, 413)


async def test_duplicate_sku_is_409(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys.auth("editor"), sku="DUP-1")
    response = await client.post(
        "/api/v1/products", json=product_payload(sku="DUP-1"), headers=keys.auth("editor")
    )
    assert_problem(response, 409)
    assert await count(client, keys.auth("viewer")) == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer shelf_not-a-real-key"}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ("client", 403),
        ("viewer", 403),
    ],
    ids=["anonymous", "unknown-key", "wrong-scheme", "client", "viewer"],
)
async def test_only_editors_and_admins_create(
    client: httpx.AsyncClient, keys: Keys, headers: Any, status: int
) -> None:
    auth = keys.auth(headers) if isinstance(headers, str) else headers
    response = await client.post("/api/v1/products", json=product_payload(), headers=auth)
    assert_problem(response, status)
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    for role in ("editor", "admin"):
        assert (
            await client.post("/api/v1/products", json=product_payload(), headers=keys.auth(role))
        ).status_code == 201


async def test_idempotency_key_replays_the_first_response(client: httpx.AsyncClient, keys: Keys) -> None:
    payload = product_payload(sku="IDEM-1")
    headers = keys.auth("editor") | {"Idempotency-Key": "order-42"}
    first = await client.post("/api/v1/products", json=payload, headers=headers)
    again = await client.post("/api/v1/products", json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await count(client, keys.auth("viewer")) == 1


async def test_idempotency_key_with_another_body_is_422(client: httpx.AsyncClient, keys: Keys) -> None:
    headers = keys.auth("editor") | {"Idempotency-Key": "order-43"}
    await client.post("/api/v1/products", json=product_payload(sku="IDEM-2"), headers=headers)
    response = await client.post("/api/v1/products", json=product_payload(sku="IDEM-3"), headers=headers)
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert await count(client, keys.auth("viewer")) == 1


async def test_idempotency_keys_belong_to_their_caller(client: httpx.AsyncClient, keys: Keys) -> None:
    for role, sku in (("editor", "IDEM-4"), ("admin", "IDEM-5")):
        response = await client.post(
            "/api/v1/products",
            json=product_payload(sku=sku),
            headers=keys.auth(role) | {"Idempotency-Key": "shared"},
        )
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
    assert await count(client, keys.auth("viewer")) == 2


async def test_an_oversized_idempotency_key_is_422(client: httpx.AsyncClient, keys: Keys) -> None:
    headers = keys.auth("editor") | {"Idempotency-Key": "k" * 256}
    assert_problem(await client.post("/api/v1/products", json=product_payload(), headers=headers), 422)
