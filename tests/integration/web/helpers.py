"""Helpers of the page tests: browsers' headers, and what a page may not contain."""

from __future__ import annotations

import re
from typing import Any

from shelf.app import Container
from shelf.identity.permissions import Principal, Role
from tests.integration.catalog.helpers import product_payload

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SETUP = Principal(kind="cli", name="page test setup", role=Role.ADMIN)
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


async def add_product(container: Container, **overrides: Any) -> dict[str, Any]:
    created = await container.catalog.create_product(SETUP, product_payload(**overrides))
    return created.product


def csrf_token_of(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "the page has no form with a csrf_token"
    return match.group(1)


def assert_self_contained(html: str, *, data_blocks: bool = False) -> None:
    """Nothing inline that the page policy would block, and nothing from another host.

    ``data_blocks``: the page may hold ``<script type="application/json">`` data (never executed,
    so outside the policy), the only inline script it may have."""
    if data_blocks:
        html = re.sub(r'<script type="application/json" id="[\w-]+">[^<]*</script>', "", html)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline <script>"
    assert not re.search(r"\sstyle=", html), "an inline style attribute"
    assert not re.search(r"<style", html), "an inline <style>"
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//""", html), "a remote URL"
    assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler"
