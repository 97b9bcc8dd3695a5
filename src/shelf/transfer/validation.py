"""Each row checked with the REST API's own rules: ``ProductCreate``, nothing looser or stricter.

``checked`` is the importer's path. Most rows of a real file are plain (ASCII or already NFC text,
a decimal price, known status): for those, ``lean_columns`` runs the same checks as
``ProductCreate`` without building a model (about a tenth of the cost). Whenever a row is not
plainly valid (any check fails, or a value is of a kind the lean checks do not handle, such as
text that needs normalising), it says "not sure" and the row goes through ``ProductCreate``
itself, so a bad row's problems are pydantic's own messages, and an unusual good row is cleaned
exactly as the API cleans it. The lean path never accepts a row ``ProductCreate`` refuses nor
stores a different value (tests/unit/transfer/test_validation.py compares the two).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from shelf.catalog.currencies import MINOR_UNITS
from shelf.catalog.models import ProductStatus
from shelf.catalog.money import check_currency_precision, parse_amount
from shelf.catalog.schemas import (
    MAX_ATTRIBUTE_KEY_LENGTH,
    MAX_ATTRIBUTE_VALUE_LENGTH,
    MAX_ATTRIBUTES,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    READ_ONLY_FIELDS,
    SKU_PATTERN,
    SLUG_PATTERN,
    ProductCreate,
)
from shelf.gateway.problems import field_errors
from shelf.transfer.formats import RowProblem, SourceRow

Columns = dict[str, Any]  # a product's stored fields: what ``columns_of`` returns

_FIELDS = frozenset(ProductCreate.model_fields)
_REQUIRED = frozenset({"sku", "name", "price"})
_PRICE_KEYS = frozenset({"amount", "currency"})
_SKU = re.compile(SKU_PATTERN)
_SLUG = re.compile(SLUG_PATTERN)
_ATTRIBUTE_KEY = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_ATTRIBUTE_KEY_LENGTH}}}")
_STOCK_TEXT = re.compile(r"0|[1-9][0-9]{0,9}")  # what int() and pydantic read alike
_MAX_STOCK = 2_000_000_000
_STATUSES = frozenset(status.value for status in ProductStatus)
_LINE_BREAKS = str.maketrans("", "", "\n\r\t")


class _NotSure(Exception):
    """The lean checks cannot vouch for the row: ``ProductCreate`` decides."""


def columns_of(data: ProductCreate) -> Columns:
    return {
        "sku": data.sku,
        "name": data.name,
        "description": data.description,
        "price_amount": data.price.amount,
        "price_currency": data.price.currency,
        "status": data.status.value,
        "category": data.category,
        "tags": list(data.tags),
        "attributes": dict(data.attributes),
        "stock": data.stock,
    }


def validate(source: SourceRow) -> tuple[ProductCreate | None, list[RowProblem]]:
    """The row as a product, or the problems that stop it, each naming the file's column."""
    if source.payload is None:
        return None, source.problems
    try:
        return ProductCreate.model_validate(source.payload), []
    except ValidationError as error:
        return None, [
            RowProblem(source.row, column_of(item["field"], source.columns), item["message"])
            for item in field_errors(error)
        ]


def checked(source: SourceRow) -> tuple[Columns | None, list[RowProblem]]:
    """The row's stored fields, or its problems: ``validate``'s answer, by the lean path when it can."""
    if source.payload is not None:
        columns = lean_columns(source.payload)
        if columns is not None:
            return columns, []
    data, problems = validate(source)
    return (None if data is None else columns_of(data)), problems


def lean_columns(payload: dict[str, Any]) -> Columns | None:
    """``columns_of(ProductCreate.model_validate(payload))`` for a plainly valid row, else ``None``."""
    try:
        return _lean(payload)
    except (_NotSure, ValueError, ArithmeticError):
        return None


def _lean(payload: dict[str, Any]) -> Columns:
    keys = payload.keys() - READ_ONLY_FIELDS
    if not keys <= _FIELDS or not keys >= _REQUIRED:
        raise _NotSure
    sku = payload["sku"]
    if type(sku) is not str or not _SKU.fullmatch(sku):
        raise _NotSure
    name = _line(payload["name"], 200)
    description = payload.get("description", "")
    if type(description) is not str or len(description) > 10_000 or not _plain_text(description):
        raise _NotSure
    amount, currency = _price(payload["price"])
    status = payload.get("status", ProductStatus.DRAFT.value)
    if type(status) is not str or status not in _STATUSES:
        raise _NotSure
    category = payload.get("category")
    if category is not None and (
        type(category) is not str or len(category) > 64 or not _SLUG.fullmatch(category)
    ):
        raise _NotSure
    return {
        "sku": sku,
        "name": name,
        "description": description,
        "price_amount": amount,
        "price_currency": currency,
        "status": status,
        "category": category,
        "tags": _tags(payload.get("tags", [])),
        "attributes": _attributes(payload.get("attributes", {})),
        "stock": _stock(payload.get("stock", 0)),
    }


def _plain_text(text: str) -> bool:
    """No control character but line breaks and tabs, and already NFC (``_clean_text`` is a no-op)."""
    printable = text.isprintable() or text.translate(_LINE_BREAKS).isprintable()
    return printable and (text.isascii() or unicodedata.is_normalized("NFC", text))


def _line(value: Any, longest: int) -> str:
    """``_clean_line`` (trim, NFC, no control characters) when it needs no normalising."""
    if type(value) is not str:
        raise _NotSure
    text = value.strip()
    # isprintable() is False for every control character (and for some harmless ones: not sure).
    if not 1 <= len(text) <= longest or not text.isprintable():
        raise _NotSure
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        raise _NotSure
    return text


def _price(price: Any) -> tuple[Decimal, str]:
    if type(price) is not dict or price.keys() != _PRICE_KEYS:
        raise _NotSure
    currency = price["currency"]
    if type(currency) is not str or currency not in MINOR_UNITS:
        raise _NotSure
    amount = price["amount"]
    if type(amount) not in (str, int, Decimal):
        raise _NotSure
    parsed = parse_amount(amount)  # ValueError: not sure
    check_currency_precision(parsed, currency)
    return parsed, currency


def _tags(tags: Any) -> list[str]:
    if type(tags) is not list or len(tags) > MAX_TAGS:
        raise _NotSure
    return list(dict.fromkeys(_line(tag, MAX_TAG_LENGTH) for tag in tags))


def _attributes(attributes: Any) -> dict[str, Any]:
    if type(attributes) is not dict or len(attributes) > MAX_ATTRIBUTES:
        raise _NotSure
    for key, value in attributes.items():
        if type(key) is not str or not _ATTRIBUTE_KEY.fullmatch(key):
            raise _NotSure
        kind = type(value)
        if kind is bool or kind is int:
            continue
        if kind is Decimal:
            if not value.is_finite():
                raise _NotSure
        elif kind is not str or len(value) > MAX_ATTRIBUTE_VALUE_LENGTH or not _plain_text(value):
            raise _NotSure
    return dict(attributes)


def _stock(stock: Any) -> int:
    if type(stock) is str:
        if not _STOCK_TEXT.fullmatch(stock):
            raise _NotSure
        count = int(stock)
    elif type(stock) is int:
        count = stock
    else:
        raise _NotSure
    if not 0 <= count <= _MAX_STOCK:
        raise _NotSure
    return count


def column_of(location: str, columns: dict[str, str]) -> str:
    """``price.amount`` → ``price`` (Shelf CSV) or ``Variant Price`` (Shopify); ``tags.3`` → ``tags``."""
    if location in columns:
        return columns[location]
    head = location.split(".", 1)[0]
    return columns.get(head, head if columns else location)
