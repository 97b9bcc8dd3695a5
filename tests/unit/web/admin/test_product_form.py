"""The product form: form text to the catalog's JSON and back, and the schema's errors by field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shelf.catalog.schemas import ProductWrite
from shelf.web.admin.product_form import ProductForm, field_errors, parse_attributes

STORED: dict[str, Any] = {
    "name": "Lamp",
    "sku": "L-1",
    "description": "Two\nlines",
    "price": {"amount": "12.50", "currency": "EUR"},
    "status": "active",
    "category": None,
    "tags": ["brass", "desk"],
    "stock": 3,
    "attributes": {
        "watts": 40,
        "dimmable": True,
        "height_m": Decimal("0.45"),
        "colour": "brass",
        "code": "007",
        "flag": "true",
        "quoted": '"x"',
        "padded": " wide ",
    },
    "version": 4,
}


def test_a_stored_product_reads_back_from_its_form_exactly() -> None:
    form = ProductForm.from_product(STORED)
    assert form.tags == "brass, desk"
    assert form.version == "4"
    assert 'code = "007"' in form.attributes.splitlines()
    payload, errors = form.payload()
    assert errors == {}
    written = ProductWrite.model_validate(payload)
    assert written.attributes == STORED["attributes"]
    assert written.tags == ["brass", "desk"]
    assert written.category is None
    assert written.description == "Two\nlines"
    assert written.price.amount == Decimal("12.50")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("colour blue", "Line 1: write each attribute as name = value."),
        ("a = 1\n\n = 2", "Line 3: write each attribute as name = value."),
        ("a = 1\na = 2", "Line 2: the attribute a is already given above."),
    ],
)
def test_unreadable_attributes_name_their_line(text: str, problem: str) -> None:
    assert parse_attributes(text)[1] == problem


def test_typed_attribute_values() -> None:
    attributes, problem = parse_attributes('n = 3\nx = -1.25\nyes = true\ntext = hello world\ns = "12"\r\n')
    assert problem is None
    assert attributes == {"n": 3, "x": Decimal("-1.25"), "yes": True, "text": "hello world", "s": "12"}


def _errors(**changes: Any) -> dict[str, str]:
    form = ProductForm(name="Lamp", sku="L-1", price="1.00")
    payload, _ = form.payload()
    payload |= changes
    with pytest.raises(ValidationError) as invalid:
        ProductWrite.model_validate(payload)
    return field_errors(invalid.value)


def test_the_schemas_errors_land_on_the_form_fields() -> None:
    assert _errors(price={"amount": "1.001", "currency": "EUR"}) == {
        "price": "EUR allows at most 2 decimal places."
    }
    assert _errors(price={"amount": "1", "currency": "eur"}) == {
        "currency": "Choose a currency from the list."
    }
    assert _errors(price={"amount": "1", "currency": "XXY"}) == {
        "currency": "XXY is not an active ISO 4217 currency code."
    }
    assert _errors(stock="many") == {"stock": "Enter the stock as a whole number from 0 to 2,000,000,000."}
    assert _errors(status="live") == {"status": "Choose draft, active or archived."}
    assert _errors(tags=["ok", "x" * 41]) == {"tags": "Tag 2: must be 1 to 40 characters long."}
    assert _errors(attributes={"bad key!": 1}) == {
        "attributes": "Attributes: attribute names are 1-64 letters, digits, '.', '_' or '-'."
    }


def test_differences_ignore_what_only_looks_different() -> None:
    mine = ProductForm.from_product(STORED)
    theirs = ProductForm.from_product(STORED | {"stock": 9, "price": {"amount": "12.5", "currency": "EUR"}})
    mine.tags = "brass,desk "
    assert mine.differences(theirs) == {"stock": "9"}
