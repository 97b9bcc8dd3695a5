"""The console's navigation: each entry names the permission it needs, and a role sees only those.

Adding an area is one line in ``NAV`` (its routes still check the same permission with
``web.admin.guard.requires``: a hidden link is a courtesy, the guard is the rule).
"""

from __future__ import annotations

from dataclasses import dataclass

from shelf.identity.permissions import Permission, Principal


@dataclass(frozen=True, slots=True)
class NavEntry:
    label: str
    href: str
    permission: Permission
    description: str = ""  # shown on the dashboard's card for the area

    def is_current(self, path: str) -> bool:
        if self.href == "/admin":
            return path == "/admin"
        return path == self.href or path.startswith(self.href + "/")


# In the order they appear. Other areas (Flags, Experiments, Feedback, Imports, System)
# add their line here.
NAV: list[NavEntry] = [
    NavEntry("Dashboard", "/admin", Permission.CATALOG_READ_ALL, "The catalog at a glance."),
    NavEntry("Products", "/admin/products", Permission.CATALOG_READ_ALL, "Search, edit and publish."),
    NavEntry("Users", "/admin/users", Permission.USERS_MANAGE, "Who signs in, with which role."),
    NavEntry("API keys", "/admin/apikeys", Permission.API_KEYS_MANAGE, "Keys for programs and shops."),
    NavEntry("Audit log", "/admin/audit", Permission.AUDIT_READ, "Every change: who, when, what."),
    NavEntry(
        "Analytics",
        "/admin/analytics",
        Permission.ANALYTICS_READ,
        "Trends, active users, funnels, retention and top products, from the shop's events.",
    ),
    NavEntry(
        "Feedback",
        "/admin/feedback",
        Permission.FEEDBACK_READ,
        "What shoppers and apps tell you, with the page, product and flag variants; triage it.",
    ),
    NavEntry(
        "Flags",
        "/admin/flags",
        Permission.FLAGS_READ,
        "Switches and splits: who gets what, tried for any context; stale ones marked.",
    ),
    NavEntry(
        "Experiments",
        "/admin/experiments",
        Permission.EXPERIMENTS_READ,
        "A/B tests on flags: rates, lift, chance to win, sample-ratio check.",
    ),
    NavEntry(
        "Import & export",
        "/admin/imports",
        Permission.CATALOG_WRITE,
        "Bring products in from a CSV, JSONL or Shopify file; download the catalog.",
    ),
    NavEntry("System", "/admin/system", Permission.METRICS_READ, "Throughput, latency, errors, cache."),
]


def visible_nav(principal: Principal) -> list[NavEntry]:
    """The entries this caller may use, in order; none for anonymous callers and ``client`` keys."""
    return [entry for entry in NAV if principal.can(entry.permission)]
