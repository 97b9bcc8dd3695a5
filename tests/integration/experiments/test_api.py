"""The experiments REST API: definitions, merge patches with If-Match, the life cycle, the flag
check (through the flags service the app is built with: the flags editors manage) and the audit."""

from __future__ import annotations

import httpx
import pytest

from shelf.app import Container
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem
from tests.integration.experiments.helpers import API, create, definition, exposure, send

MERGE = {"Content-Type": "application/merge-patch+json"}
FLAGS = "/api/v1/flags"
pytestmark = pytest.mark.usefixtures("dogfood_flag")


async def test_create_read_list_and_delete(client: httpx.AsyncClient, keys: Keys) -> None:
    created = await create(client, keys, description="Gallery or not")
    assert created["status"] == "draft"
    assert created["version"] == 1
    assert created["started_at"] is None
    assert created["primary_metric"] == {
        "kind": "conversion",
        "event": "add_to_cart",
        "window_seconds": 86_400,
        "property": None,
    }
    one = await client.get(f"{API}/{created['id']}", headers=keys.auth("viewer"))
    assert one.status_code == 200
    assert one.headers["etag"] == '"1"'
    assert one.json() == created
    listed = await client.get(API, headers=keys.auth("viewer"))
    assert [item["key"] for item in listed.json()["items"]] == ["layout-test"]
    deleted = await client.delete(f"{API}/{created['id']}", headers=keys.auth("editor"))
    assert deleted.status_code == 204
    assert_problem(await client.get(f"{API}/{created['id']}", headers=keys.auth("viewer")), 404)


async def test_an_unknown_flag_or_control_is_refused(client: httpx.AsyncClient, keys: Keys) -> None:
    unknown = await client.post(API, json=definition(flag_key="no.such.flag"), headers=keys.auth("editor"))
    body = assert_problem(unknown, 422)
    assert "no flag with the key 'no.such.flag'" in body["detail"]
    control = await client.post(API, json=definition(control_variant="baseline"), headers=keys.auth("editor"))
    assert "has no variant 'baseline'" in assert_problem(control, 422)["detail"]
    listed = await client.get(API, headers=keys.auth("viewer"))
    assert listed.json()["items"] == []


async def test_bad_definitions_are_422_and_duplicates_409(client: httpx.AsyncClient, keys: Keys) -> None:
    editor = keys.auth("editor")
    for bad in (
        definition(key="Not A Key"),
        definition(primary_metric={"kind": "mean", "event": "add_to_cart"}),  # no property
        definition(primary_metric={"kind": "conversion", "event": "x", "window_seconds": 5}),
        definition(minimum_sample=0),
        definition(surprise=1),
    ):
        assert_problem(await client.post(API, json=bad, headers=editor), 422)
    await create(client, keys)
    assert_problem(await client.post(API, json=definition(), headers=editor), 409)


async def test_merge_patch_needs_the_current_version(client: httpx.AsyncClient, keys: Keys) -> None:
    created = await create(client, keys)
    url, editor = f"{API}/{created['id']}", keys.auth("editor")
    assert_problem(await client.patch(url, content=b'{"name": "B"}', headers=editor | MERGE), 428)
    stale = await client.patch(url, content=b'{"name": "B"}', headers=editor | MERGE | {"If-Match": '"7"'})
    assert_problem(stale, 412)
    patched = await client.patch(
        url, content=b'{"name": "B", "minimum_sample": 500}', headers=editor | MERGE | {"If-Match": '"1"'}
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], patched.json()["minimum_sample"], patched.json()["version"]) == (
        "B",
        500,
        2,
    )
    assert patched.headers["etag"] == '"2"'


async def test_life_cycle_and_what_a_started_experiment_keeps(client: httpx.AsyncClient, keys: Keys) -> None:
    created = await create(client, keys)
    url, editor = f"{API}/{created['id']}", keys.auth("editor")
    assert_problem(await client.post(f"{url}/stop", headers=editor), 409)  # a draft is not running
    started = await client.post(f"{url}/start", headers=editor)
    assert started.status_code == 200
    assert started.json()["status"] == "running"
    assert started.json()["started_at"] is not None
    assert_problem(await client.post(f"{url}/start", headers=editor), 409)
    fixed = await client.patch(
        url, json={"control_variant": "gallery"}, headers=editor | {"If-Match": started.headers["etag"]}
    )
    assert "control_variant" in assert_problem(fixed, 409)["detail"]
    assert_problem(await client.delete(url, headers=editor), 409)  # stop it first
    stopped = await client.post(f"{url}/stop", headers=editor)
    assert stopped.json()["status"] == "stopped"
    assert stopped.json()["stopped_at"] is not None
    assert_problem(await client.post(f"{url}/start", headers=editor), 409)  # no way back


async def test_every_change_is_audited(client: httpx.AsyncClient, keys: Keys) -> None:
    created = await create(client, keys)
    url, editor = f"{API}/{created['id']}", keys.auth("editor")
    await client.patch(url, json={"name": "Renamed"}, headers=editor | {"If-Match": '"1"'})
    await client.post(f"{url}/start", headers=editor)
    await client.post(f"{url}/stop", headers=editor)
    await client.delete(url, headers=editor)
    audit = await client.get(
        "/api/v1/audit", params={"entity_type": "experiment"}, headers=keys.auth("admin")
    )
    actions = sorted(entry["action"] for entry in audit.json()["items"])
    assert actions == [
        "experiment.create",
        "experiment.delete",
        "experiment.start",
        "experiment.stop",
        "experiment.update",
    ]


async def test_starting_on_a_flag_that_is_gone_is_refused(client: httpx.AsyncClient, keys: Keys) -> None:
    created = await create(client, keys)
    editor = keys.auth("editor")
    flag = await client.get(f"{FLAGS}/storefront.product-page-layout", headers=editor)
    gone = await client.delete(
        f"{FLAGS}/storefront.product-page-layout", headers=editor | {"If-Match": flag.headers["etag"]}
    )
    assert gone.status_code == 204  # the flag is deleted after the experiment was defined
    refused = await client.post(f"{API}/{created['id']}/start", headers=editor)
    assert "no flag with the key" in assert_problem(refused, 422)["detail"]
    again = await client.get(f"{API}/{created['id']}", headers=keys.auth("viewer"))
    assert again.json()["status"] == "draft"


async def test_results_stay_readable_when_the_flag_is_deleted_or_made_boolean(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    created = await create(client, keys)
    editor = keys.auth("editor")
    started = await client.post(f"{API}/{created['id']}/start", headers=editor)
    at = started.json()["started_at"]  # exposures at the start: inside the window until now
    await send(client, container, keys, [exposure("p1", at, "control"), exposure("p2", at, "gallery")])
    flag_url = f"{FLAGS}/storefront.product-page-layout"
    boolean = {"type": "boolean", "variants": None}
    changed = await client.patch(flag_url, json=boolean, headers=editor | {"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    results = await client.get(f"{API}/{created['id']}/results", headers=keys.auth("viewer"))
    assert results.status_code == 200, results.text
    assert results.json()["sample_ratio"] is None  # no weights to compare with any more
    shown = [row["variant"] for row in results.json()["primary"]["variants"]]
    assert shown == ["control", "gallery"]  # the variants the exposures name
    await client.delete(flag_url, headers=editor | {"If-Match": '"2"'})
    results = await client.get(f"{API}/{created['id']}/results", headers=keys.auth("viewer"))
    assert results.status_code == 200, results.text
    assert [row["variant"] for row in results.json()["primary"]["variants"]] == ["control", "gallery"]
