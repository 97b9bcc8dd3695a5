from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from shelf.app import Container
from shelf.identity.permissions import Role

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class People:
    admin: str
    editor: str
    viewer: str


@pytest.fixture
async def people(container: Container) -> People:
    emails = {}
    for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER):
        user = await container.identity.create_user(f"{role}@shelf.test", PASSWORD, role)
        emails[role.value] = user.email
    return People(**emails)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, object]:
    response = await client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
