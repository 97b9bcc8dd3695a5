"""The product list's filter form: from query parameters to a ``ProductQuery``, and back to URLs.

Shoppers' URLs are forgiving where the API is strict: blank fields are absent, and a bad value is
shown next to its field instead of answering a bare 422.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError

from shelf.catalog.queries import ProductQuery

PAGE_SIZE = 24
SORTS = (
    ("price", "Price: low to high"),
    ("-price", "Price: high to low"),
    ("name", "Name: A to Z"),
    ("-name", "Name: Z to A"),
)
MESSAGES = {
    "q": "Search for at most 200 characters.",
    "category": "Choose a category from the list.",
    "tag": "Choose a tag shown on a product.",
    "price_min": "Enter the lowest price as a number, such as 10 or 12.50.",
    "price_max": "Enter the highest price as a number, such as 100 or 99.90.",
    "sort": "Choose an order from the list.",
}
FIELDS = ("q", "category", "tag", "price_min", "price_max", "sort")


@dataclass
class Listing:
    """What the shopper asked for, as typed, and what is wrong with it."""

    q: str = ""
    category: str = ""
    tag: str = ""
    price_min: str = ""
    price_max: str = ""
    sort: str = ""
    cursor: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, params: dict[str, str | None]) -> Listing:
        def value(name: str) -> str:
            return (params.get(name) or "").strip()

        return cls(
            q=value("q"),
            category=value("category"),
            tag=value("tag"),
            price_min=value("price_min"),
            price_max=value("price_max"),
            sort=value("sort"),
            cursor=value("cursor"),
        )

    def query(self) -> ProductQuery | None:
        """The catalog query, or ``None`` with ``errors`` filled in."""
        given: dict[str, Any] = {name: getattr(self, name) for name in FIELDS if getattr(self, name)}
        if self.cursor:
            given["cursor"] = self.cursor
        try:
            query = ProductQuery(limit=PAGE_SIZE, **given)
        except ValidationError as error:
            for item in error.errors():
                name = str(item["loc"][0]) if item["loc"] else "q"
                self.errors.setdefault(name, MESSAGES.get(name, "Check this value."))
            return None
        if query.price_min is not None and query.price_max is not None and query.price_min > query.price_max:
            self.errors["price_max"] = "The highest price must not be below the lowest price."
            return None
        return query

    def url(self, **changes: str | None) -> str:
        """``/products?...`` with the current filters, changed as given (``None`` removes one)."""
        params: dict[str, str | None] = {name: getattr(self, name) or None for name in (*FIELDS, "cursor")}
        params.update(changes)
        kept = {name: value for name, value in params.items() if value}
        return f"/products?{urlencode(kept)}" if kept else "/products"

    @property
    def filtered(self) -> bool:
        return any(getattr(self, name) for name in FIELDS if name != "sort")

    def sort_options(self) -> list[tuple[str, str]]:
        default = "Best match" if self.q else "Newest first"
        options = [("", default), *SORTS]
        if self.q:
            options.append(("-created_at", "Newest first"))
        return options
