"""Reads by id through ``platform.point_reads`` (catalog/product_rows.py): the same bytes as the ORM.

A product read by id leaves the database on a connection of the point reads' own, converted by
hand; these tests read the same products through the ORM and compare what each serialises to.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx

from shelf.app import Container
from shelf.catalog.models import Product
from shelf.catalog.product_rows import ProductRow, ProductRows
from shelf.catalog.schemas import ProductRead
from shelf.platform.jsonutil import dumps
from shelf.platform.point_reads import NoPointReads
from tests.conftest import Keys
from tests.integration.catalog.helpers import create, product_payload


async def both_ways(container: Container, product_id: uuid.UUID) -> tuple[Any, Any]:
    database = container.database
    assert database.point_reads.available  # a file or a server, never SQLite in memory, in these tests
    by_point = await ProductRows(database.point_reads, database.sessions).product(product_id)
    by_orm = await ProductRows(NoPointReads(), database.sessions).product(product_id)
    return by_point, by_orm


def serialised(product: Any) -> str:
    return dumps(ProductRead.from_product(product).model_dump(mode="python"))


async def test_a_point_read_serialises_to_the_bytes_of_an_orm_read(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    payload = product_payload(
        name="Ærø Ψ wool — ☃",
        description='Line one\nline "two" \\ tab\there',
        price={"amount": "0.10", "currency": "EUR"},
        category=None,
        tags=["gift", "sale"],
        attributes={"weight_kg": Decimal("0.125"), "layers": 3, "organic": False, "note": "ünïcode ☃"},
    )
    response = await client.post(  # with a bare decimal number in it, which httpx's json= cannot write
        "/api/v1/products",
        content=dumps(payload).encode(),
        headers=keys.auth("editor") | {"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    odd = response.json()
    assert '"weight_kg":0.125' in response.text
    plain = await create(client, keys.auth("editor"), status="draft", tags=[], attributes={})
    for created in (odd, plain):
        by_point, by_orm = await both_ways(container, uuid.UUID(created["id"]))
        assert isinstance(by_point, ProductRow)
        assert isinstance(by_orm, Product)
        assert serialised(by_point) == serialised(by_orm)
        assert by_point.status == created["status"]
        assert by_point.created_at.utcoffset() is not None


async def test_a_point_read_of_a_missing_product_is_none(container: Container) -> None:
    assert await both_ways(container, uuid.uuid4()) == (None, None)


async def test_a_point_read_sees_a_write_committed_on_another_connection_at_once(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    created = await create(client, keys.auth("editor"))
    product_id = uuid.UUID(created["id"])
    await both_ways(container, product_id)  # the point reads' connection is open now
    response = await client.patch(
        f"/api/v1/products/{product_id}",
        json={"stock": 7},
        headers=keys.auth("editor") | {"Content-Type": "application/merge-patch+json", "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    by_point, _ = await both_ways(container, product_id)
    assert (by_point.stock, by_point.version) == (7, 2)
