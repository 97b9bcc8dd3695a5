"""The console's import page: an editor uploads a file, follows the job, reads the refused rows."""

from __future__ import annotations

import re
import uuid

import httpx

from shelf.app import Container
from shelf.identity.permissions import Role

PASSWORD = "a long unusual phrase"
CSV = (
    b"sku,name,price,currency\n"
    b"WEB-1,Good Lamp,12.00,EUR\n"
    b"WEB-2,Bad price,12.001,EUR\n"
    b",No SKU,3,EUR\n"
    b"WEB-4,Good Mug,4,EUR\n"
)


async def session(client: httpx.AsyncClient, container: Container, role: Role) -> tuple[dict[str, str], str]:
    email = f"{role}-{uuid.uuid4().hex[:6]}@import.test"
    await container.identity.create_user(email, PASSWORD, role)
    started = await client.post("/api/v1/auth/session", data={"username": email, "password": PASSWORD})
    assert started.status_code == 201, started.text
    cookie = client.cookies["shelf_session"]
    client.cookies.clear()
    return {"Cookie": f"shelf_session={cookie}"}, started.json()["csrf_token"]


async def test_an_editor_imports_from_the_console_and_reads_the_report(
    client: httpx.AsyncClient, container: Container
) -> None:
    cookie, token = await session(client, container, Role.EDITOR)
    form = await client.get("/admin/imports", headers=cookie)
    assert form.status_code == 200
    assert '<label for="import-file">File</label>' in form.text
    assert ">Import</button>" in form.text
    posted = await client.post(
        "/admin/imports",
        headers=cookie,
        data={"csrf_token": token, "format": ""},
        files={"file": ("console.csv", CSV, "text/csv")},
    )
    assert posted.status_code == 303, posted.text
    match = re.fullmatch(r"/admin/imports/([0-9a-f-]{36})", posted.headers["location"])
    assert match
    await container.transfer.wait(uuid.UUID(match.group(1)))
    page = await client.get(posted.headers["location"], headers=cookie)
    assert page.status_code == 200
    assert "Import complete." in page.text
    assert "<td>3</td><td>price</td><td>EUR allows at most 2 decimal places</td>" in page.text
    assert "<td>4</td><td>sku</td>" in page.text
    assert "Download error report" in page.text


async def test_the_upload_needs_the_form_token_and_an_editor(
    client: httpx.AsyncClient, container: Container
) -> None:
    cookie, _token = await session(client, container, Role.EDITOR)
    forged = await client.post(
        "/admin/imports",
        headers=cookie,
        data={"csrf_token": "forged"},
        files={"file": ("x.csv", CSV, "text/csv")},
    )
    assert forged.status_code == 403
    viewer, viewer_token = await session(client, container, Role.VIEWER)
    refused = await client.post(
        "/admin/imports",
        headers=viewer,
        data={"csrf_token": viewer_token},
        files={"file": ("x.csv", CSV, "text/csv")},
    )
    assert refused.status_code == 403
    async with container.database.sessions() as db:
        from sqlalchemy import func, select  # noqa: PLC0415

        from shelf.catalog.models import Product  # noqa: PLC0415

        assert await db.scalar(select(func.count()).select_from(Product)) == 0
