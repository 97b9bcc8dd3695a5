"""The product form: what an editor typed, the payload it makes, and the service's errors by field.

A form keeps every value as typed (strings), so a refused form comes back exactly as it was sent.
The catalog's own schema decides what is valid; this module only turns form text into the JSON
shape the service takes (a price object, a tag list, typed attribute values) and the service's
error locations (``price.amount``, ``tags.3``) into the form's fields.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from shelf.catalog.currencies import MINOR_UNITS
from shelf.catalog.models import ProductStatus
from shelf.catalog.schemas import MAX_ATTRIBUTES, MAX_TAGS, ProductWrite
from shelf.web.admin.rendering import sentence

FIELD_LIMIT = 20_000  # characters kept of any one field; the schema refuses long values itself
CURRENCIES = [(code, code) for code in sorted(MINOR_UNITS)]
STATUSES = [(status.value, status.value.capitalize()) for status in ProductStatus]
_INTEGER = re.compile(r"-?\d{1,18}")
_DECIMAL = re.compile(r"-?\d{1,18}\.\d{1,18}")
# What a field's value must look like, said once, for errors whose own words are the schema's.
PLAIN = {
    "stock": "Enter the stock as a whole number from 0 to 2,000,000,000.",
    "status": "Choose draft, active or archived.",
    "currency": "Choose a currency from the list.",
}


@dataclass
class ProductForm:
    name: str = ""
    sku: str = ""
    description: str = ""
    price: str = ""
    currency: str = "EUR"
    status: str = ProductStatus.DRAFT.value
    category: str = ""
    tags: str = ""
    stock: str = "0"
    attributes: str = ""
    version: str = ""  # the version the form was loaded at (edits only)
    idempotency_key: str = ""  # one per new-product form: a double post creates one product

    @classmethod
    def new(cls) -> ProductForm:
        return cls(idempotency_key=str(uuid.uuid4()))

    @classmethod
    def from_product(cls, product: dict[str, Any]) -> ProductForm:
        """The form of a product as the service returns it (``ProductRead`` as a dict)."""
        return cls(
            name=product["name"],
            sku=product["sku"],
            description=product["description"],
            price=str(product["price"]["amount"]),
            currency=product["price"]["currency"],
            status=str(product["status"]),
            category=product["category"] or "",
            tags=", ".join(product["tags"]),
            stock=str(product["stock"]),
            attributes="\n".join(
                f"{key} = {_attribute_text(value)}" for key, value in product["attributes"].items()
            ),
            version=str(product["version"]),
        )

    @classmethod
    def from_form(cls, form: FormData) -> ProductForm:
        values = {}
        for item in fields(cls):
            raw = form.get(item.name)
            values[item.name] = raw[:FIELD_LIMIT] if isinstance(raw, str) else ""
        return cls(**values)

    def payload(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The product as the catalog takes it, and the errors of what could not even be read."""
        errors: dict[str, str] = {}
        if not self.price.strip():
            errors["price"] = "Enter the price, such as 49.90."
        attributes, problem = parse_attributes(self.attributes)
        if problem:
            errors["attributes"] = problem
        payload = {
            "sku": self.sku.strip(),
            "name": self.name,
            "description": self.description.replace("\r\n", "\n"),
            "price": {"amount": self.price.strip(), "currency": self.currency.strip()},
            "status": self.status,
            "category": self.category.strip() or None,
            "tags": [tag.strip() for tag in self.tags.split(",") if tag.strip()],
            "attributes": attributes,
            "stock": self.stock.strip(),
        }
        return payload, errors

    @property
    def loaded_version(self) -> int | None:
        return int(self.version) if self.version.isdecimal() and len(self.version) < 10 else None

    def differences(self, latest: ProductForm) -> dict[str, str]:
        """The fields where ``latest`` (saved by someone else) differs from what is in this form."""
        mine, theirs = asdict(self), asdict(latest)
        return {
            name: theirs[name] or "(empty)"
            for name in PRODUCT_FIELDS
            if _normal(name, mine[name]) != _normal(name, theirs[name])
        }


# The form's fields, in the order it shows them, with their labels.
LABELS = {
    "name": "Name",
    "sku": "SKU",
    "description": "Description",
    "tags": "Tags",
    "attributes": "Attributes",
    "status": "Status",
    "price": "Price",
    "currency": "Currency",
    "category": "Category",
    "stock": "Stock",
}
PRODUCT_FIELDS = tuple(LABELS)


def _normal(name: str, value: str) -> str:
    value = value.replace("\r\n", "\n").strip()
    if name == "tags":
        return ",".join(tag.strip() for tag in value.split(",") if tag.strip())
    if name == "price":
        try:
            return str(Decimal(value).normalize())
        except ArithmeticError:
            return value
    return value


def _attribute_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if isinstance(value, str) and (_attribute_value(text) != text or text != text.strip()):
        # Text that would read back as something else (a number, yes/no, trimmed): quoted.
        return f'"{text}"'
    return text


def _attribute_value(text: str) -> bool | int | Decimal | str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        return Decimal(text)
    return text


def parse_attributes(text: str) -> tuple[dict[str, Any], str | None]:
    """``name = value`` per line; numbers and ``true``/``false`` are typed, the rest is text."""
    attributes: dict[str, Any] = {}
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals or not name:
            return attributes, f"Line {number}: write each attribute as name = value."
        if name in attributes:
            return attributes, f"Line {number}: the attribute {name} is already given above."
        attributes[name] = _attribute_value(value.strip())
    return attributes, None


def field_errors(error: ValidationError) -> dict[str, str]:
    """The schema's errors by form field, in plain words; the first error of a field wins."""
    found: dict[str, str] = {}
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        head = location[0] if location else "name"
        name = "currency" if location[:2] == ["price", "currency"] else head
        message = str(item["msg"]).removeprefix("Value error, ")
        if name in PLAIN and (item["type"] != "value_error" or name == "stock"):
            message = PLAIN[name]
        elif name == "tags":
            message = _tag_message(item["type"], location, message)
        elif name == "attributes":
            message = (
                f"Use at most {MAX_ATTRIBUTES} attributes."
                if item["type"] == "too_long"
                else f"{location[1] if len(location) > 1 else 'Attributes'}: {message}"
            )
        found.setdefault(name, sentence(message))
    return found


def schema_errors(payload: dict[str, Any], known: dict[str, str]) -> dict[str, str]:
    """The schema's errors of a form that cannot go to the service yet (``known`` are its own),
    so that one round trip shows every field that needs fixing."""
    try:
        ProductWrite.model_validate(payload)
    except ValidationError as invalid:
        return {name: message for name, message in field_errors(invalid).items() if name not in known}
    return {}


def _tag_message(kind: str, location: list[str], message: str) -> str:
    if kind == "too_long" and len(location) == 1:
        return f"Use at most {MAX_TAGS} tags."
    if len(location) > 1 and location[1].isdecimal():
        return f"Tag {int(location[1]) + 1}: {message}"
    return message
