"""OFREP over HTTP: bodies as open-feature/protocol's service/openapi.yaml names them, the bulk
ETag and 304, client keys evaluating, and exposures sent once per user, flag and variant."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from shelf.app import Container
from shelf.flags.service import EXPOSURE_EVENT
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem

OFREP = "/ofrep/v1/evaluate/flags"
LAYOUT = {
    "key": "layout",
    "type": "multivariate",
    "rollout": 100,
    "variants": [
        {"key": "control", "weight": 50},
        {"key": "gallery", "weight": 50, "payload": {"columns": 3}},
    ],
    "rules": [
        {"conditions": [{"attribute": "country", "op": "in", "value": ["NO", "SE"]}], "variant": "gallery"}
    ],
}


async def _flags(client: httpx.AsyncClient, keys: Keys, *payloads: dict[str, Any]) -> None:
    for payload in payloads:
        created = await client.post("/api/v1/flags", json=payload, headers=keys.auth("editor"))
        assert created.status_code == 201, created.text


async def test_a_client_key_evaluates_one_flag_with_openfeature_reasons(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await _flags(client, keys, LAYOUT, {"key": "banner", "rollout": 100}, {"key": "off", "enabled": False})
    app = keys.auth("client")

    matched = await client.post(
        f"{OFREP}/layout", json={"context": {"targetingKey": "u1", "country": "NO"}}, headers=app
    )
    assert matched.status_code == 200, matched.text
    assert matched.headers["content-type"] == "application/json"
    assert matched.json() == {
        "key": "layout",
        "value": "gallery",
        "reason": "TARGETING_MATCH",
        "variant": "gallery",
        "metadata": {"payload": '{"columns":3}'},
    }
    split = (
        await client.post(f"{OFREP}/layout", json={"context": {"targetingKey": "u1"}}, headers=app)
    ).json()
    assert split["reason"] == "SPLIT"
    assert split["variant"] in ("control", "gallery")
    static = (await client.post(f"{OFREP}/banner", json={}, headers=app)).json()
    assert (static["value"], static["variant"], static["reason"]) == (True, "on", "STATIC")
    disabled = (await client.post(f"{OFREP}/off", json={"context": {}}, headers=app)).json()
    assert (disabled["value"], disabled["reason"]) == (False, "DISABLED")

    missing = await client.post(f"{OFREP}/nope", json={"context": {}}, headers=app)
    assert missing.status_code == 404
    assert missing.json() == {
        "key": "nope",
        "errorCode": "FLAG_NOT_FOUND",
        "errorDetails": "no flag with the key 'nope'",
    }
    no_key = await client.post(f"{OFREP}/layout", json={"context": {"country": "DK"}}, headers=app)
    assert (no_key.status_code, no_key.json()["errorCode"]) == (400, "TARGETING_KEY_MISSING")
    bad_key = await client.post(f"{OFREP}/layout", json={"context": {"targetingKey": 7}}, headers=app)
    assert (bad_key.status_code, bad_key.json()["errorCode"]) == (400, "INVALID_CONTEXT")
    not_json = await client.post(f"{OFREP}/layout", content=b"{context", headers=app)
    assert (not_json.status_code, not_json.json()["errorCode"]) == (400, "PARSE_ERROR")


async def test_bulk_evaluation_has_an_etag_and_answers_304_until_a_flag_or_the_context_changes(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await _flags(client, keys, LAYOUT, {"key": "banner", "rollout": 100}, {"key": "beta", "rollout": 50})
    app = keys.auth("client")
    body = {"context": {"targetingKey": "u1", "country": "SE"}}
    first = await client.post(OFREP, json=body, headers=app)
    assert first.status_code == 200, first.text
    flags = {item["key"]: item for item in first.json()["flags"]}
    assert sorted(flags) == ["banner", "beta", "layout"]
    assert flags["layout"]["variant"] == "gallery"
    etag = first.headers["etag"]
    again = await client.post(OFREP, json=body, headers=app | {"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    other = await client.post(
        OFREP, json={"context": {"targetingKey": "u2"}}, headers=app | {"If-None-Match": etag}
    )
    assert other.status_code == 200
    assert other.headers["etag"] != etag

    patched = await client.patch(
        "/api/v1/flags/banner", json={"enabled": False}, headers=keys.auth("editor") | {"If-Match": '"1"'}
    )
    assert patched.status_code == 200
    changed = await client.post(OFREP, json=body, headers=app | {"If-None-Match": etag})
    assert changed.status_code == 200
    assert {item["key"]: item["reason"] for item in changed.json()["flags"]}["banner"] == "DISABLED"

    no_key = (await client.post(OFREP, json={"context": {}}, headers=app)).json()
    errors = {item["key"]: item.get("errorCode") for item in no_key["flags"]}
    assert errors == {"banner": None, "beta": "TARGETING_KEY_MISSING", "layout": "TARGETING_KEY_MISSING"}
    bad = await client.post(OFREP, json={"context": ["not", "an", "object"]}, headers=app)
    assert bad.status_code == 400
    assert bad.json() == {"errorCode": "INVALID_CONTEXT", "errorDetails": "the context must be a JSON object"}


async def test_configuration_and_who_may_evaluate(client: httpx.AsyncClient, keys: Keys) -> None:
    await _flags(client, keys, {"key": "banner", "rollout": 100})
    config = await client.get("/ofrep/v1/configuration", headers=keys.auth("client"))
    assert config.json()["name"] == "Shelf"
    assert config.json()["capabilities"]["cacheInvalidation"]["polling"]["enabled"] is True
    cached = await client.get(
        "/ofrep/v1/configuration", headers=keys.auth("client") | {"If-None-Match": config.headers["etag"]}
    )
    assert cached.status_code == 304
    assert_problem(await client.post(f"{OFREP}/banner", json={}), 401)
    assert_problem(await client.post(OFREP, json={}), 401)


async def test_exposures_are_emitted_once_per_user_flag_and_variant(
    client: httpx.AsyncClient, container: Container, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _flags(client, keys, LAYOUT)
    sent: list[tuple[str, str, dict[str, Any]]] = []

    class Recorder:
        async def emit(self, event: str, distinct_id: str, properties: Any) -> None:
            sent.append((event, distinct_id, dict(properties)))

    monkeypatch.setattr(container.flags, "_events", Recorder())  # this test only
    app = keys.auth("client")
    for _ in range(3):
        await client.post(
            f"{OFREP}/layout", json={"context": {"targetingKey": "nora", "country": "NO"}}, headers=app
        )
    await client.post(f"{OFREP}/layout", json={"context": {"country": "NO"}}, headers=app)  # no user: none
    assert sent == [
        (EXPOSURE_EVENT, "nora", {"$feature_flag": "layout", "$feature_flag_response": "gallery"})
    ]


async def test_each_evaluation_counts_in_shelf_flag_evaluations_by_reason(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await _flags(client, keys, LAYOUT)

    def count(flag: str, variant: str, reason: str) -> float:
        labels = {"flag": flag, "variant": variant, "reason": reason}
        return REGISTRY.get_sample_value("shelf_flag_evaluations_total", labels) or 0.0

    before = count("layout", "gallery", "TARGETING_MATCH"), count("", "", "ERROR")
    app = keys.auth("client")
    for _ in range(2):
        sweden = {"context": {"targetingKey": "u", "country": "SE"}}
        await client.post(f"{OFREP}/layout", json=sweden, headers=app)
    await client.post(f"{OFREP}/nope", json={"context": {"targetingKey": "u"}}, headers=app)
    assert count("layout", "gallery", "TARGETING_MATCH") == before[0] + 2
    assert count("", "", "ERROR") == before[1] + 1
