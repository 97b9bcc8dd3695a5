"""Services emit server-side events: the catalog records product_created/updated/deleted."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from shelf.analytics.models import events
from shelf.app import Container
from tests.conftest import Keys
from tests.integration.analytics.helpers import stored
from tests.integration.catalog.helpers import create


async def test_product_writes_are_events(client: httpx.AsyncClient, container: Container, keys: Keys) -> None:
    editor = keys.auth("editor")
    product = await create(client, editor)
    patched = await client.patch(
        f"/api/v1/products/{product['id']}",
        content=b'{"stock": 3}',
        headers=editor | {"If-Match": '"1"', "Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    deleted = await client.delete(f"/api/v1/products/{product['id']}", headers=editor | {"If-Match": '"2"'})
    assert deleted.status_code == 204
    assert await stored(container) == 3
    async with container.database.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(events.c.event, events.c.distinct_id, events.c.product_id).order_by(
                    events.c.timestamp_ms
                )
            )
        ).all()
    assert [row.event for row in rows] == ["product_created", "product_updated", "product_deleted"]
    assert {row.product_id for row in rows} == {product["id"]}
    assert all(row.distinct_id.startswith("api_key:") for row in rows)
