"""Capture over HTTP in every shape PostHog's SDKs send, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import gzip
import json
import time
import uuid
from urllib.parse import quote

import httpx
from sqlalchemy import select

from shelf.analytics.models import events
from shelf.app import Container
from tests.conftest import Keys
from tests.integration.analytics.helpers import event, stored
from tests.integration.catalog.helpers import assert_problem


async def test_posthog_python_batch_is_stored(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    batch = [event("signed_up", f"user-{i}", properties={"plan": "pro"}) for i in range(3)]
    body = {"api_key": keys.client, "batch": batch, "sent_at": "2026-01-01T00:00:00+00:00"}
    response = await client.post("/batch/", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": 1}
    assert await stored(container, event="signed_up") == 3


async def test_gzip_content_encoding(client: httpx.AsyncClient, container: Container, keys: Keys) -> None:
    body = gzip.compress(json.dumps({"api_key": keys.client, "batch": [event("zipped")]}).encode())
    response = await client.post(
        "/batch/", content=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert await stored(container, event="zipped") == 1


async def test_posthog_js_gzip_js_array(client: httpx.AsyncClient, container: Container, keys: Keys) -> None:
    # posthog-js: an array of events, the key in properties.token, text/plain gzip, ms offsets.
    batch = [
        {"event": "$pageview", "uuid": str(uuid.uuid4()), "offset": 1500,
         "properties": {"token": keys.client, "distinct_id": "anon-1", "$current_url": "/"}},
        {"event": "$pageview", "uuid": str(uuid.uuid4()), "offset": 10,
         "properties": {"token": keys.client, "distinct_id": "anon-1", "$current_url": "/products"}},
    ]  # fmt: skip
    sent = int(time.time() * 1000)
    response = await client.post(
        f"/e/?compression=gzip-js&ver=1.200.0&_={sent}",
        content=gzip.compress(json.dumps(batch).encode()),
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text
    assert await stored(container, event="$pageview", distinct_id="anon-1") == 2
    async with container.database.engine.connect() as connection:
        rows = (await connection.execute(select(events.c.timestamp_ms, events.c.properties))).all()
    now = int(time.time() * 1000)
    assert all(now - 60_000 < ms <= now for ms, _ in rows)  # "offset" counts back from now
    assert all("token" not in properties for _, properties in rows)  # the key is not a property


async def test_base64_form_and_i_v0_e(client: httpx.AsyncClient, container: Container, keys: Keys) -> None:
    data = base64.b64encode(json.dumps(event("formed", token=keys.client)).encode()).decode()
    response = await client.post(
        "/i/v0/e/?compression=base64",
        content=f"data={quote(data, safe='')}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert await stored(container, event="formed") == 1


async def test_single_event_on_capture(client: httpx.AsyncClient, container: Container, keys: Keys) -> None:
    response = await client.post("/capture/", json=event("single", api_key=keys.client))
    assert response.status_code == 200, response.text
    assert await stored(container, event="single") == 1


async def test_bearer_header_and_shelf_events_api(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    response = await client.post(
        "/api/v1/events", json={"events": [event("api"), event("api")]}, headers=keys.auth("client")
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 2}
    assert await stored(container, event="api") == 2
    response = await client.post("/batch/", json={"batch": [event("api")]}, headers=keys.auth("client"))
    assert response.status_code == 200, response.text


async def test_same_batch_twice_is_stored_once(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    body = {"api_key": keys.client, "batch": [event("retried", f"u{i}") for i in range(50)]}
    for _ in range(2):
        assert (await client.post("/batch/", json=body)).status_code == 200
    assert await stored(container, event="retried") == 50
    # A retry with a later sent_at corrects the timestamps differently: still stored once.
    body["sent_at"] = "2030-01-01T00:00:00+00:00"
    assert (await client.post("/batch/", json=body)).status_code == 200
    assert await stored(container, event="retried") == 50


async def test_keys(client: httpx.AsyncClient, container: Container, keys: Keys) -> None:
    unknown = await client.post("/batch/", json={"api_key": "shelf_nope", "batch": [event()]})
    assert_problem(unknown, 401)
    missing = await client.post("/batch/", json={"batch": [event()]})
    assert_problem(missing, 401)
    viewer = await client.post("/batch/", json={"api_key": keys.viewer, "batch": [event()]})
    assert_problem(viewer, 403)
    assert await stored(container) == 0


async def test_malformed_bodies_are_400(client: httpx.AsyncClient, keys: Keys) -> None:
    for content, headers in [
        (b"{not json", {"Content-Type": "application/json"}),
        (b"", {"Content-Type": "application/json"}),
        (b"\x1f\x8b\x08garbage", {"Content-Type": "text/plain"}),
        (b"data=%%%", {"Content-Type": "application/x-www-form-urlencoded"}),
        (json.dumps({"api_key": keys.client, "batch": "x"}).encode(), {"Content-Type": "application/json"}),
    ]:
        assert_problem(await client.post("/batch/", content=content, headers=headers), 400)


async def test_a_batch_with_an_invalid_event_is_refused_whole(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    batch = [
        event("fine"),
        {"event": "no-person", "uuid": str(uuid.uuid4())},
        event("", "user-2"),
        event("bad-uuid", uuid="not-a-uuid"),
        event("deep", properties={"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}),
        event("huge", properties={"blob": "x" * 40_000}),
        event("bad-time", timestamp="yesterday"),
    ]
    response = await client.post("/batch/", json={"api_key": keys.client, "batch": batch})
    body = assert_problem(response, 422)
    fields = [error["field"] for error in body["errors"]]
    assert fields == [
        "batch[1].distinct_id",
        "batch[2].event",
        "batch[3].uuid",
        "batch[4].properties",
        "batch[5].properties",
        "batch[6].timestamp",
    ]
    assert "none was stored" in body["detail"]
    assert await stored(container) == 0


async def test_clock_skew_is_corrected_with_sent_at(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    # The client's clock is a year fast: its event happened 5 s before it sent the batch.
    body = {
        "api_key": keys.client,
        "sent_at": "2027-06-01T12:00:05+00:00",
        "batch": [event("skewed", timestamp="2027-06-01T12:00:00+00:00")],
    }
    before = int(time.time() * 1000)
    assert (await client.post("/batch/", json=body)).status_code == 200
    await stored(container)
    async with container.database.engine.connect() as connection:
        (ms,) = (await connection.execute(select(events.c.timestamp_ms))).one()
    assert before - 5_000 - 1_000 <= ms <= int(time.time() * 1000) - 5_000 + 1_000
