"""Where the login page may send people back to, and what the navigation offers each role."""

from __future__ import annotations

import pytest

from shelf.identity.permissions import ANONYMOUS, Permission, Principal, Role
from shelf.web.admin import nav
from shelf.web.admin.guard import safe_next
from shelf.web.admin.nav import NavEntry, visible_nav


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/admin", "/admin"),
        ("/admin/products?q=scarf&status=draft", "/admin/products?q=scarf&status=draft"),
        ("/admin/products#top", "/admin/products"),
        (None, "/admin"),
        ("", "/admin"),
        ("/admin/login?next=/admin", "/admin"),
        ("/administrator", "/admin"),
        ("/products", "/admin"),
        ("https://evil.example/admin", "/admin"),
        ("http:/admin", "/admin"),
        ("//evil.example/admin", "/admin"),
        ("/\\evil.example", "/admin"),
        ("/admin\\..\\..\\x", "/admin"),
        ("/admin/./users", "/admin"),
        ("/admin/../products", "/admin"),
        ("/admin\nLocation: https://evil.example", "/admin"),
        ("/admin\t", "/admin"),
        ("/admin/" + "x" * 3000, "/admin"),
    ],
)
def test_safe_next(raw: str | None, expected: str) -> None:
    assert safe_next(raw) == expected


def test_entries_are_shown_by_permission_never_by_role(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [
        NavEntry("Dashboard", "/admin", Permission.CATALOG_READ_ALL),
        NavEntry("Catalog", "/admin/products", Permission.CATALOG_READ_ALL),
        NavEntry("Users", "/admin/users", Permission.USERS_MANAGE),
        NavEntry("Audit", "/admin/audit", Permission.AUDIT_READ),
    ]
    monkeypatch.setattr(nav, "NAV", entries)

    def labels(role: Role | None) -> list[str]:
        principal = Principal(kind="user", role=role) if role else ANONYMOUS
        return [entry.label for entry in visible_nav(principal)]

    assert labels(Role.ADMIN) == ["Dashboard", "Catalog", "Users", "Audit"]
    assert labels(Role.EDITOR) == ["Dashboard", "Catalog"]
    assert labels(Role.VIEWER) == ["Dashboard", "Catalog"]
    assert labels(Role.CLIENT) == []
    assert labels(None) == []


def test_an_entry_is_current_on_its_own_pages() -> None:
    products = NavEntry("Products", "/admin/products", Permission.CATALOG_READ_ALL)
    dashboard = NavEntry("Dashboard", "/admin", Permission.CATALOG_READ_ALL)
    assert products.is_current("/admin/products")
    assert products.is_current("/admin/products/new")
    assert not products.is_current("/admin/productsfeed")
    assert dashboard.is_current("/admin")
    assert not dashboard.is_current("/admin/products")
