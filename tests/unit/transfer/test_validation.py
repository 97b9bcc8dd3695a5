"""The importer's lean checks agree with ``ProductCreate``: never looser, never a different value."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shelf.catalog.schemas import ProductCreate
from shelf.platform.jsonutil import dumps
from shelf.transfer.formats import CSV_COLUMN_OF, SourceRow
from shelf.transfer.validation import checked, columns_of, lean_columns, validate

PLAIN = {
    "sku": "LAMP-1",
    "name": " Brass Lamp ",
    "description": "Warm light.\nTwo lines.\tTabbed.",
    "price": {"amount": "49.90", "currency": "EUR"},
    "status": "active",
    "category": "home-office",
    "tags": ["brass", " desk ", "brass"],
    "attributes": {"watts": 40, "dimmable": True, "ratio": Decimal("1.50"), "finish": "matt"},
    "stock": "12",
}

# Values the lean checks must either store exactly as the API does or leave to pydantic.
texts = st.sampled_from(
    ["", " ", "a", " Lamp ", "Lämp", "Lam\u0301p", "x" * 200, "x" * 201, "tab\tin", "nl\n", "\x00", "\u2028",
     "\u00a0nbsp", "é" * 40, "e\u0301" * 40, "\x1f", "MUG.1_a-b", "bad sku", "a" * 65, "home-office",
     "Home", "-x", "12", "012", "+3", " 7 ", "2000000001", "1_000", "-1", "3.5", "1e3", "NaN"]
)  # fmt: skip
scalars = st.one_of(
    texts,
    st.integers(min_value=-3, max_value=2_000_000_002),
    st.sampled_from(
        [
            None,
            True,
            False,
            0,
            1,
            2.5,
            3.0,
            Decimal("1.50"),
            Decimal("NaN"),
            Decimal("-0"),
            Decimal("1E+3"),
            [1],
        ]
    ),
)
amounts = st.one_of(
    st.sampled_from(
        ["49.90", "49.999", "0", "-1", "1e3", "1E-2", " 5 ", "x", "inf", "1_0", "999999999999.01"]
    ),
    st.sampled_from([Decimal("1.5"), Decimal("sNaN"), 7, True, 1.5, None]),
)
prices = st.one_of(
    st.fixed_dictionaries(
        {"amount": amounts, "currency": st.sampled_from(["EUR", "JPY", "KWD", "XXX", "eur", 3])}
    ),
    st.just({"amount": "1"}),
    st.just({"amount": "1", "currency": "EUR", "extra": 1}),
    st.just("1 EUR"),
)
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "sku": texts,
    "name": texts,
    "price": prices,
    "description": st.one_of(texts, st.none()),
    "status": st.sampled_from(["active", "draft", "archived", "ACTIVE", "gone", 1]),
    "category": st.one_of(texts, st.none()),
    "tags": st.one_of(st.lists(texts, max_size=22), st.just(("a", "b")), texts),
    "attributes": st.one_of(
        st.dictionaries(st.sampled_from(["k", "a.b", "bad key", "x" * 65, "w_g"]), scalars, max_size=4),
        scalars.map(lambda value: {"k": value}),
        st.just({f"k{n}": n for n in range(51)}),
        st.just({"long": "x" * 501}),
    ),
    "stock": scalars,
    "id": st.just("ignored"),
    "version": st.just(3),
    "colour": st.just("red"),
}


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A plain valid row with one to three fields changed (or dropped): mostly near the edge."""
    payload = dict(PLAIN)
    for name in draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), min_size=1, max_size=3, unique=True)):
        if draw(st.integers(0, 9)) == 0:
            payload.pop(name, None)
        else:
            payload[name] = draw(FIELD_VALUES[name])
    return payload


def pydantic_columns(payload: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return columns_of(ProductCreate.model_validate(payload))
    except ValidationError:
        return None


def exact(columns: dict[str, Any]) -> str:
    """Values with their types: Decimal("1.50") and Decimal("1.5"), True and 1, stay apart."""
    return dumps({name: [type(value).__name__, value] for name, value in columns.items()})


@settings(max_examples=2_000, deadline=None)
@given(payloads())
def test_the_lean_path_accepts_only_what_the_api_accepts_and_stores_the_same(payload: dict[str, Any]) -> None:
    lean = lean_columns(payload)
    if lean is None:
        return  # not sure: pydantic decides, so the answer is the API's by construction
    expected = pydantic_columns(payload)
    assert expected is not None, f"the lean path accepted a row the API refuses: {payload!r}"
    assert exact(lean) == exact(expected)
    assert [type(tag) for tag in lean["tags"]] == [str] * len(lean["tags"])
    assert {k: type(v) for k, v in lean["attributes"].items()} == {
        k: type(v) for k, v in expected["attributes"].items()
    }


def test_a_plain_row_takes_the_lean_path_with_the_api_s_cleaning() -> None:
    lean = lean_columns(PLAIN)
    assert lean is not None
    assert lean == pydantic_columns(PLAIN)
    assert lean["name"] == "Brass Lamp"
    assert lean["tags"] == ["brass", "desk"]
    assert lean["stock"] == 12
    assert str(lean["attributes"]["ratio"]) == "1.50"


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Lam\u0301p"},  # needs NFC: pydantic cleans it
        {"stock": " 7 "},
        {"price": {"amount": "49.999", "currency": "EUR"}},
        {"price": {"amount": "1", "currency": "XXX"}},
        {"colour": "red"},
    ],
)
def test_a_row_the_lean_path_is_not_sure_of_gets_the_api_s_answer(change: dict[str, Any]) -> None:
    payload = PLAIN | change
    assert lean_columns(payload) is None
    source = SourceRow(7, payload, columns=CSV_COLUMN_OF)
    columns, problems = checked(source)
    data, expected = validate(source)
    assert problems == expected
    assert columns == (None if data is None else columns_of(data))


def test_a_bad_row_keeps_the_api_s_messages_and_the_file_s_column() -> None:
    payload = PLAIN | {"price": {"amount": "1.999", "currency": "EUR"}, "stock": "twelve"}
    columns, problems = checked(SourceRow(9, payload, columns=CSV_COLUMN_OF))
    assert columns is None
    assert [(p.row, p.field, p.message) for p in problems] == [
        (9, "price", "EUR allows at most 2 decimal places"),
        (9, "stock", "Input should be a valid integer, unable to parse string as an integer"),
    ]
