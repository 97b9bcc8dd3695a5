"""Fixtures of the console's page tests: one user per role, and signing in through the login form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

import httpx
import pytest

from shelf.app import Container
from shelf.identity.permissions import Role
from tests.integration.web.helpers import BROWSER, csrf_token_of

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Staff:
    admin: str
    editor: str
    viewer: str


@pytest.fixture
async def staff(container: Container) -> Staff:
    emails = {}
    for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER):
        user = await container.identity.create_user(f"{role}@console.test", PASSWORD, role)
        emails[role.value] = user.email
    return Staff(**emails)


async def log_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Log in through the login form as a browser does; returns the session's CSRF token."""
    form = await client.get("/admin/login", headers=BROWSER)
    assert form.status_code == 200, form.text
    answer = await client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": csrf_token_of(form.text), "next": "/admin"},
        headers=BROWSER,
    )
    assert answer.status_code == 303, answer.text
    dashboard = await client.get("/admin", headers=BROWSER)
    assert dashboard.status_code == 200, dashboard.text
    return csrf_token_of(dashboard.text)


def nav_labels(html: str) -> list[str]:
    """The entries of the console's navigation, in order."""
    nav = re.search(r'<nav class="admin-nav" aria-label="Console">(.*?)</nav>', html, re.S)
    # As a browser shows them: "Import &amp; export" reads "Import & export".
    return [unescape(label) for label in re.findall(r"<a [^>]*>([^<]+)</a>", nav.group(1))] if nav else []
