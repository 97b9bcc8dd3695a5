"""The console's product table: its filter form as typed, the ``ProductQuery`` it asks for, its URLs.

Like the storefront's list (``web.storefront.listing``), forgiving where the API is strict: blank
fields are absent, and a bad value is shown next to its field instead of a bare 422.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError

from shelf.catalog.models import ProductStatus
from shelf.catalog.queries import ProductQuery

PAGE_SIZE = 50
PATH = "/admin/products"
FIELDS = ("q", "status", "category", "sort")
SORTS = (
    ("-created_at", "Newest first"),
    ("created_at", "Oldest first"),
    ("name", "Name: A to Z"),
    ("-name", "Name: Z to A"),
    ("price", "Price: low to high"),
    ("-price", "Price: high to low"),
)
STATUSES = [(status.value, status.value.capitalize()) for status in ProductStatus]
MESSAGES = {
    "q": "Search for at most 200 characters.",
    "status": "Choose a status from the list.",
    "category": "Choose a category from the list.",
    "sort": "Choose an order from the list.",
    "cursor": "That page link has expired; start from the first page.",
}


@dataclass
class ProductListing:
    q: str = ""
    status: str = ""
    category: str = ""
    sort: str = ""
    cursor: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, params: dict[str, str | None]) -> ProductListing:
        def value(name: str) -> str:
            return (params.get(name) or "").strip()

        return cls(
            q=value("q"),
            status=value("status"),
            category=value("category"),
            sort=value("sort"),
            cursor=value("cursor"),
        )

    def query(self) -> ProductQuery | None:
        """The catalog query, or ``None`` with ``errors`` filled in."""
        given: dict[str, Any] = {
            name: getattr(self, name) for name in (*FIELDS, "cursor") if getattr(self, name)
        }
        try:
            return ProductQuery(limit=PAGE_SIZE, **given)
        except ValidationError as error:
            for item in error.errors():
                name = str(item["loc"][0]) if item["loc"] else "q"
                self.errors.setdefault(name, MESSAGES.get(name, "Check this value."))
            return None

    def url(self, **changes: str | None) -> str:
        """This table's URL with the current filters, changed as given (``None`` removes one)."""
        params: dict[str, str | None] = {name: getattr(self, name) or None for name in (*FIELDS, "cursor")}
        params.update(changes)
        kept = {name: value for name, value in params.items() if value}
        return f"{PATH}?{urlencode(kept)}" if kept else PATH

    @property
    def filtered(self) -> bool:
        return any(getattr(self, name) for name in FIELDS if name != "sort")

    def sort_options(self) -> list[tuple[str, str]]:
        if self.q:
            return [("", "Best match"), *SORTS]
        return [("", SORTS[0][1]), *SORTS[1:]]
