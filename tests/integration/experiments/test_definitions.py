"""Defining experiments over REST: editors write, viewers read, every change is audited, bad input
is a problem+json with nothing changed, and the flag (through the FlagVariantsLookup) must exist
with the control among its variants."""

from __future__ import annotations

import httpx
import pytest

from shelf.app import Container
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem
from tests.integration.experiments.helpers import API, create, definition
from tests.security.conftest import audit_count

PATCH = {"Content-Type": "application/merge-patch+json"}
FLAGS = "/api/v1/flags"
pytestmark = pytest.mark.usefixtures("dogfood_flag")


async def test_the_life_cycle_of_an_experiment_is_audited(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    created = await create(client, keys)
    assert created["status"] == "draft"
    assert created["version"] == 1
    url = f"{API}/{created['id']}"

    listed = (await client.get(API, headers=keys.auth("viewer"))).json()
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    read = await client.get(url, headers=keys.auth("viewer"))
    assert read.status_code == 200
    assert read.headers["ETag"] == '"1"'

    renamed = await client.patch(
        url, content=b'{"name": "Renamed"}', headers=keys.auth("editor") | PATCH | {"If-Match": '"1"'}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Renamed"
    assert renamed.headers["ETag"] == '"2"'

    started = await client.post(f"{url}/start", headers=keys.auth("editor"))
    assert started.status_code == 200
    assert started.json()["status"] == "running"
    assert started.json()["started_at"] is not None
    assert_problem(await client.delete(url, headers=keys.auth("editor")), 409)  # running: stop first
    assert_problem(await client.post(f"{url}/start", headers=keys.auth("editor")), 409)
    stopped = await client.post(f"{url}/stop", headers=keys.auth("editor"))
    assert stopped.json()["status"] == "stopped"
    assert (await client.delete(url, headers=keys.auth("editor"))).status_code == 204
    assert_problem(await client.get(url, headers=keys.auth("viewer")), 404)

    audit = (
        await client.get("/api/v1/audit", params={"entity_id": created["id"]}, headers=keys.auth("admin"))
    ).json()
    actions = [entry["action"] for entry in reversed(audit["items"])]
    assert actions == [
        "experiment.create",
        "experiment.update",
        "experiment.start",
        "experiment.stop",
        "experiment.delete",
    ]
    assert all(entry["entity_type"] == "experiment" for entry in audit["items"])


async def test_viewers_read_but_do_not_write(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post(API, json=definition(), headers=keys.auth("viewer"))
    assert_problem(response, 403)
    assert (await client.get(API, headers=keys.auth("viewer"))).json()["items"] == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"flag_key": "no.such-flag"}, "flag_key"),
        ({"control_variant": "baseline"}, "control_variant"),
        ({"key": "Not A Key"}, None),
        ({"primary_metric": {"kind": "mean", "event": "add_to_cart"}}, None),
    ],
)
async def test_bad_definitions_are_422_and_change_nothing(
    client: httpx.AsyncClient, container: Container, keys: Keys, changes: dict[str, object], field: str | None
) -> None:
    before = await audit_count(container)
    response = await client.post(API, json=definition(**changes), headers=keys.auth("editor"))
    body = assert_problem(response, 422)
    if field is not None:
        assert field in str(body)
    assert await audit_count(container) == before
    assert (await client.get(API, headers=keys.auth("viewer"))).json()["items"] == []


async def test_a_boolean_flag_cannot_hold_an_experiment(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    editor = keys.auth("editor")
    made = await client.post(FLAGS, json={"key": "checkout.express", "rollout": 50}, headers=editor)
    assert made.status_code == 201, made.text
    before = await audit_count(container)
    response = await client.post(API, json=definition(flag_key="checkout.express"), headers=editor)
    body = assert_problem(response, 422)
    assert "'checkout.express' is not a multivariate flag" in body["detail"]
    assert body["errors"] == [{"field": "flag_key", "in": "body", "message": "not a multivariate flag"}]
    assert await audit_count(container) == before
    assert (await client.get(API, headers=keys.auth("viewer"))).json()["items"] == []


async def test_an_experiment_runs_on_a_flag_made_through_the_flags_api(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """The app's lookup is the flags service: a new flag, its weights, and later changes to it."""
    editor = keys.auth("editor")
    flag = {
        "key": "checkout.button-colour",
        "type": "multivariate",
        "rollout": 100,
        "variants": [{"key": "blue", "weight": 70}, {"key": "green", "weight": 30}],
    }
    made = await client.post(FLAGS, json=flag, headers=editor)
    assert made.status_code == 201, made.text
    created = await create(client, keys, key="button-colour", flag_key=flag["key"], control_variant="blue")
    renamed = {"variants": [{"key": "navy", "weight": 70}, {"key": "green", "weight": 30}]}
    changed = await client.patch(f"{FLAGS}/{flag['key']}", json=renamed, headers=editor | {"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    refused = await client.post(f"{API}/{created['id']}/start", headers=editor)
    assert "has no variant 'blue'" in assert_problem(refused, 422)["detail"]  # read now, not cached
    back = {"variants": flag["variants"]}
    await client.patch(f"{FLAGS}/{flag['key']}", json=back, headers=editor | {"If-Match": '"2"'})
    started = await client.post(f"{API}/{created['id']}/start", headers=editor)
    assert started.status_code == 200, started.text
    results = await client.get(f"{API}/{created['id']}/results", headers=keys.auth("viewer"))
    assert results.status_code == 200, results.text
    assert [row["variant"] for row in results.json()["primary"]["variants"]] == ["blue", "green"]


async def test_a_duplicate_key_is_409(client: httpx.AsyncClient, keys: Keys) -> None:
    await create(client, keys)
    assert_problem(await client.post(API, json=definition(), headers=keys.auth("editor")), 409)


async def test_patch_needs_if_match_and_a_started_experiment_keeps_what_it_measures(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    created = await create(client, keys)
    url = f"{API}/{created['id']}"
    unconditional = keys.auth("editor") | PATCH
    assert_problem(await client.patch(url, content=b'{"name": "x"}', headers=unconditional), 428)
    stale = keys.auth("editor") | PATCH | {"If-Match": '"7"'}
    assert_problem(await client.patch(url, content=b'{"name": "x"}', headers=stale), 412)
    await client.post(f"{url}/start", headers=keys.auth("editor"))
    fixed = keys.auth("editor") | PATCH | {"If-Match": '"2"'}
    response = await client.patch(url, content=b'{"control_variant": "gallery"}', headers=fixed)
    assert_problem(response, 409)
    assert (await client.get(url, headers=keys.auth("viewer"))).json()["control_variant"] == "control"
