"""Triage: editors set a status and a note, at the version they read; every change is audited."""

from __future__ import annotations

import httpx

from shelf.app import Container
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem
from tests.integration.feedback.helpers import FEEDBACK, submit


async def test_an_editor_triages_with_if_match_and_the_change_is_audited(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    receipt = await submit(client, keys.auth("client"), email="ada@example.com", text="Add a size chart")
    url = f"{FEEDBACK}/{receipt['id']}"
    editor = keys.auth("editor")

    assert_problem(await client.patch(url, json={"status": "planned"}, headers=editor), 428)
    stale = await client.patch(url, json={"status": "planned"}, headers=editor | {"If-Match": '"7"'})
    assert_problem(stale, 412)

    change = {"status": "planned", "note": "  Size chart in the next release.\r\n"}
    done = await client.patch(url, json=change, headers=editor | {"If-Match": '"1"'})
    assert done.status_code == 200, done.text
    assert done.headers["etag"] == '"2"'
    body = done.json()
    assert (body["status"], body["note"], body["version"]) == (
        "planned",
        "Size chart in the next release.",
        2,
    )
    assert body["triaged_by"] == "test-editor"
    assert body["updated_at"] > body["created_at"]
    # The old version is gone: a second editor working from it is told to read again.
    assert_problem(
        await client.patch(url, json={"status": "done"}, headers=editor | {"If-Match": '"1"'}), 412
    )
    # A merge patch of one field keeps the other; a patch that changes nothing is no new version.
    merged = await client.patch(
        url,
        content=b'{"status": "done"}',
        headers=editor | {"If-Match": '"2"', "Content-Type": "application/merge-patch+json"},
    )
    assert (merged.json()["status"], merged.json()["note"], merged.json()["version"]) == (
        "done",
        "Size chart in the next release.",
        3,
    )
    same = await client.patch(url, json={"status": "done"}, headers=editor | {"If-Match": "*"})
    assert same.json()["version"] == 3

    audit = (
        await client.get("/api/v1/audit", params={"entity_id": receipt["id"]}, headers=keys.auth("admin"))
    ).json()
    entries = [(e["action"], e["before"], e["after"]) for e in reversed(audit["items"])]
    assert entries == [
        (
            "feedback.triage",
            {"status": "new", "note": "", "version": 1, "triaged_by": None},
            {
                "status": "planned",
                "note": "Size chart in the next release.",
                "version": 2,
                "triaged_by": "test-editor",
            },
        ),
        (
            "feedback.triage",
            {
                "status": "planned",
                "note": "Size chart in the next release.",
                "version": 2,
                "triaged_by": "test-editor",
            },
            {
                "status": "done",
                "note": "Size chart in the next release.",
                "version": 3,
                "triaged_by": "test-editor",
            },
        ),
    ]
    assert "ada@example.com" not in str(audit)  # the email never enters the audit log
    assert all(e["entity_type"] == "feedback" for e in audit["items"])


async def test_bad_triage_is_refused_field_by_field(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    receipt = await submit(client, keys.auth("client"))
    url = f"{FEEDBACK}/{receipt['id']}"
    headers = keys.auth("editor") | {"If-Match": '"1"'}
    for body, field in (
        ({"status": "closed"}, "status"),
        ({"note": "n" * 2001}, "note"),
        ({"note": "bell\x07"}, "note"),
        ({"rating": 1}, "rating"),
        ({}, "body"),
    ):
        refused = await client.patch(url, json=body, headers=headers)
        errors = assert_problem(refused, 422)["errors"]
        assert [e["field"] for e in errors] == [field], (body, errors)
    assert_problem(
        await client.patch(url, content=b"[1]", headers=headers | {"Content-Type": "application/json"}), 422
    )
    read = (await client.get(url, headers=keys.auth("viewer"))).json()
    assert (read["status"], read["version"]) == ("new", 1)


async def test_viewers_and_clients_may_not_triage(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    receipt = await submit(client, keys.auth("client"))
    url = f"{FEEDBACK}/{receipt['id']}"
    for role in ("viewer", "client"):
        refused = await client.patch(
            url, json={"status": "done"}, headers=keys.auth(role) | {"If-Match": '"1"'}
        )
        assert_problem(refused, 403)
    assert_problem(await client.patch(url, json={"status": "done"}, headers={"If-Match": '"1"'}), 401)
