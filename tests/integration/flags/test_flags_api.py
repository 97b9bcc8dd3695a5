"""Flag definitions over REST: editors create, change (merge patch at a version) and delete,
viewers read, invalid input is a 422 problem that changes nothing, and every change is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from shelf.app import Container
from shelf.flags.models import Flag
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem

FLAGS = "/api/v1/flags"
CHECKOUT = {
    "key": "checkout.new-flow",
    "description": "  The one-page checkout.  ",
    "type": "multivariate",
    "rollout": 100,
    "variants": [
        {"key": "control", "weight": 50},
        {"key": "one-page", "weight": 50, "payload": {"steps": 1}},
    ],
    "rules": [
        {
            "conditions": [{"attribute": "email", "op": "regex", "value": "@shelf\\.example$"}],
            "variant": "one-page",
        }
    ],
}


async def test_an_editor_creates_reads_changes_and_deletes_a_flag_and_each_change_is_audited(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    editor = keys.auth("editor")
    created = await client.post(FLAGS, json=CHECKOUT, headers=editor)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"{FLAGS}/checkout.new-flow"
    body = created.json()
    assert body["description"] == "The one-page checkout."
    assert body["variants"][1] == {"key": "one-page", "weight": 50, "payload": {"steps": 1}}
    assert (body["enabled"], body["stale"], body["last_evaluated_at"], body["updated_by"]) == (
        True,
        False,
        None,
        "test-editor",
    )

    viewer = keys.auth("viewer")
    read = await client.get(f"{FLAGS}/checkout.new-flow", headers=viewer)
    assert read.json() == body
    listed = (await client.get(FLAGS, headers=viewer)).json()
    assert [item["key"] for item in listed["items"]] == ["checkout.new-flow"]

    url = f"{FLAGS}/checkout.new-flow"
    assert_problem(await client.patch(url, json={"enabled": False}, headers=editor), 428)
    assert_problem(
        await client.patch(url, json={"enabled": False}, headers=editor | {"If-Match": '"9"'}), 412
    )
    patched = await client.patch(
        url,
        content=b'{"enabled": false, "rules": null}',
        headers=editor | {"If-Match": '"1"', "Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.headers["etag"] == '"2"'
    assert (patched.json()["enabled"], patched.json()["rules"], patched.json()["rollout"]) == (False, [], 100)
    same = await client.patch(url, json={"enabled": False}, headers=editor | {"If-Match": "*"})
    assert same.json()["version"] == 2  # nothing changed: no new version

    assert_problem(await client.delete(url, headers=editor | {"If-Match": '"1"'}), 412)
    assert (await client.delete(url, headers=editor | {"If-Match": '"2"'})).status_code == 204
    assert_problem(await client.get(url, headers=viewer), 404)

    audit = (
        await client.get("/api/v1/audit", params={"entity_type": "flag"}, headers=keys.auth("admin"))
    ).json()
    actions = [(entry["action"], entry["entity_id"]) for entry in reversed(audit["items"])]
    assert actions == [
        (action, "checkout.new-flow") for action in ("flag.create", "flag.update", "flag.delete")
    ]
    update = audit["items"][1]
    assert (update["before"]["enabled"], update["after"]["enabled"]) == (True, False)
    assert (update["before"]["version"], update["after"]["version"]) == (1, 2)


async def test_a_duplicate_key_is_409_and_invalid_flags_are_422_problems_that_change_nothing(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    editor = keys.auth("editor")
    assert (await client.post(FLAGS, json={"key": "dark-mode"}, headers=editor)).status_code == 201
    assert_problem(await client.post(FLAGS, json={"key": "dark-mode", "rollout": 5}, headers=editor), 409)
    invalid: list[dict[str, Any]] = [
        {"key": "Dark-Mode"},
        {"key": "-dark"},
        {"key": "a" * 65},
        {"key": "x", "rollout": 101},
        {"key": "x", "type": "ternary"},
        {
            "key": "x",
            "type": "multivariate",
            "variants": [{"key": "a", "weight": 60}, {"key": "b", "weight": 30}],
        },
        {
            "key": "x",
            "type": "multivariate",
            "variants": [{"key": "a", "weight": 50}, {"key": "a", "weight": 50}],
        },
        {"key": "x", "variants": [{"key": "a", "weight": 100}]},
        {"key": "x", "rules": [{"conditions": [{"attribute": "plan", "op": "in", "value": "pro"}]}]},
        {"key": "x", "rules": [{"conditions": [{"attribute": "age", "op": "gt", "value": "18"}]}]},
        {"key": "x", "rules": [{"conditions": [{"attribute": "v", "op": "semver_gte", "value": "one"}]}]},
        {"key": "x", "rules": [{"conditions": [{"attribute": "at", "op": "before", "value": "soon"}]}]},
        {"key": "x", "rules": [{"conditions": [{"attribute": "e", "op": "regex", "value": "(unclosed"}]}]},
        {"key": "x", "rules": [{"conditions": [{"attribute": "e", "op": "regex", "value": "a" * 201}]}]},
        {"key": "x", "rules": [{"conditions": [{"attribute": "e", "op": "like", "value": "a"}]}]},
        {
            "key": "x",
            "rules": [{"conditions": [{"attribute": "e", "op": "eq", "value": "a"}], "variant": "maybe"}],
        },
        {"key": "x", "rules": [{"conditions": []}]},
        {"key": "x", "surprise": True},
    ]
    for payload in invalid:
        response = await client.post(FLAGS, json=payload, headers=editor)
        assert_problem(response, 422)
        assert response.json()["errors"], payload
    url = f"{FLAGS}/dark-mode"
    bad = await client.patch(url, json={"rollout": -1}, headers=editor | {"If-Match": '"1"'})
    assert_problem(bad, 422)
    renamed = await client.patch(url, json={"key": "light-mode"}, headers=editor | {"If-Match": '"1"'})
    assert_problem(renamed, 422)
    assert [item["key"] for item in (await client.get(FLAGS, headers=editor)).json()["items"]] == [
        "dark-mode"
    ]
    assert (await client.get(url, headers=editor)).json()["version"] == 1


@pytest.mark.parametrize("role", ["client", "viewer"])
async def test_clients_and_viewers_may_not_manage_flags(
    client: httpx.AsyncClient, keys: Keys, role: str
) -> None:
    assert_problem(await client.post(FLAGS, json={"key": "sneaky"}, headers=keys.auth(role)), 403)


async def test_flags_are_marked_stale_after_30_days_unevaluated_or_30_days_fully_rolled_out(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    editor = keys.auth("editor")
    for key in ("unused", "everyone", "busy"):
        await client.post(
            FLAGS, json={"key": key, "rollout": 100 if key == "everyone" else 30}, headers=editor
        )
    old = container.flags._clock.now() - timedelta(days=31)
    async with container.database.sessions() as session:
        for flag in (await session.execute(Flag.__table__.select())).all():
            values: dict[str, Any] = {"created_at": old}
            if flag.key == "everyone":
                values |= {"fully_rolled_out_at": old}
            await session.execute(Flag.__table__.update().where(Flag.key == flag.key).values(**values))
        await session.commit()
    # "busy" and "everyone" are evaluated now; the batch is written when the service flushes it.
    for key in ("busy", "everyone"):
        await client.post(
            f"/ofrep/v1/evaluate/flags/{key}", json={"context": {"targetingKey": "u1"}}, headers=editor
        )
    await container.flags.flush_evaluated()
    items = {item["key"]: item for item in (await client.get(FLAGS, headers=editor)).json()["items"]}
    assert (items["unused"]["stale"], items["unused"]["stale_reason"]) == (True, "not_evaluated")
    assert (items["everyone"]["stale"], items["everyone"]["stale_reason"]) == (True, "fully_rolled_out")
    assert (items["busy"]["stale"], items["busy"]["stale_reason"]) == (False, None)
    assert items["busy"]["last_evaluated_at"] is not None
