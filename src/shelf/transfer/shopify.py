"""Shopify's product CSV export, read as Shelf products.

Shopify's file has one row per variant: the first row of a ``Handle`` carries the product (Title,
Body (HTML), Vendor, Type, Tags, Published, Status, option names), the following rows of the same
Handle only the variant's fields (option values, Variant SKU, Variant Price, Variant Inventory Qty).
Rows that only add an image (no SKU, no price, no option value) are skipped, not errors.

Shelf has no variants, so each variant becomes a product of its own, keyed by its Variant SKU: named
"Title (M / Red)" when the product has options, its Handle, Vendor and option values kept as
attributes. Shopify's file names no currency: the importer is told it (``--currency``, default USD).
The HTML body becomes plain text (tags dropped, entities decoded, block elements as line breaks):
Shelf's description is text, and markup from elsewhere is never rendered as HTML.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import IO, Any

from shelf.transfer.formats import RowProblem, SourceRow, UnusableFile, _decoding

SHOPIFY_COLUMN_OF = {
    "sku": "Variant SKU",
    "name": "Title",
    "description": "Body (HTML)",
    "price": "Variant Price",
    "price.amount": "Variant Price",
    "price.currency": "currency",
    "status": "Status",
    "category": "Type",
    "stock": "Variant Inventory Qty",
    "tags": "Tags",
}
OPTIONS = (1, 2, 3)
BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "blockquote"}
)
HIDDEN_TAGS = frozenset({"script", "style", "template", "head", "title"})


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN_TAGS:
            self._hidden += 1
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: what a reader sees, never markup."""
    if "<" not in html and "&" not in html:
        return html.strip()
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64].strip("-")


def read_shopify(text: IO[str], currency: str = "USD") -> Iterator[SourceRow]:
    return _decoding(_shopify_rows(text, currency))


def _shopify_rows(text: IO[str], currency: str) -> Iterator[SourceRow]:
    reader = csv.reader(text)
    header = [name.strip() for name in next(reader, [])]
    if "Handle" not in header or "Variant SKU" not in header:
        raise UnusableFile(
            "a Shopify product export has the columns Handle, Title, ..., Variant SKU, Variant Price"
        )
    width = len(header)
    product: dict[str, str] = {}
    for index, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != width:
            yield SourceRow(
                index, None, [RowProblem(index, "row", f"has {len(cells)} cells; the header has {width}")]
            )
            continue
        row = dict(zip(header, cells, strict=True))
        handle = row.get("Handle", "").strip()
        if handle != product.get("Handle") or row.get("Title", "").strip():
            product = row  # the first row of a product carries its fields
        if not _is_variant(row):
            continue  # an image-only row
        yield _variant(index, product, row, currency)


def _is_variant(row: dict[str, str]) -> bool:
    return any(row.get(name, "").strip() for name in ("Variant SKU", "Variant Price", "Option1 Value"))


def _variant(index: int, product: dict[str, str], row: dict[str, str], currency: str) -> SourceRow:
    sku = row.get("Variant SKU", "").strip().removeprefix("'")  # Shopify quotes numeric SKUs
    if not sku:
        problem = RowProblem(index, "Variant SKU", "is empty; Shelf keys every product by its SKU")
        return SourceRow(index, None, [problem])
    options = []
    attributes: dict[str, Any] = {"shopify_handle": product.get("Handle", "").strip()}
    for number in OPTIONS:
        name = product.get(f"Option{number} Name", "").strip()
        value = row.get(f"Option{number} Value", "").strip()
        if value and not (name == "Title" and value == "Default Title"):
            options.append(value)
            attributes[slug(name).replace("-", "_") or f"option{number}"] = value
    for key, column in (("vendor", "Vendor"), ("barcode", "Variant Barcode")):
        if row.get(column, "").strip() or product.get(column, "").strip():
            attributes[key] = (row.get(column) or product.get(column) or "").strip()
    title = product.get("Title", "").strip()
    payload: dict[str, Any] = {
        "sku": sku,
        "name": f"{title} ({' / '.join(options)})" if options else title,
        "description": html_to_text(product.get("Body (HTML)", "")),
        "price": {"amount": row.get("Variant Price", "").strip(), "currency": currency},
        "status": _status(product),
        "tags": [tag.strip() for tag in product.get("Tags", "").split(",") if tag.strip()],
        "attributes": {k: v for k, v in attributes.items() if v},
    }
    category = slug(product.get("Type", ""))
    if category:
        payload["category"] = category
    stock = row.get("Variant Inventory Qty", "").strip()
    if stock:
        payload["stock"] = stock
    return SourceRow(index, payload, [], SHOPIFY_COLUMN_OF)


def _status(product: dict[str, str]) -> str:
    status = product.get("Status", "").strip().lower()
    if status in ("active", "draft", "archived"):
        return status
    if status:
        return status  # the API's validation names what is allowed
    return "active" if product.get("Published", "").strip().lower() == "true" else "draft"
