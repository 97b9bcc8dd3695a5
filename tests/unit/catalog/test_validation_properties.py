"""Property-based tests of the product validation rules and exact money."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from shelf.catalog.currencies import MINOR_UNITS
from shelf.catalog.money import MAX_AMOUNT, ExactDecimal, decimal_places, format_amount, parse_amount
from shelf.catalog.schemas import SKU_PATTERN, Price, ProductCreate
from shelf.platform.jsonutil import dumps, loads

currencies = st.sampled_from(sorted(MINOR_UNITS))
amounts = st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**13), max_value=10**13, places=6)


def product(**overrides: Any) -> dict[str, Any]:
    return {"sku": "A-1", "name": "Mug", "price": {"amount": "1.00", "currency": "EUR"}} | overrides


@given(amount=amounts, currency=currencies)
@example(amount=Decimal("1.005"), currency="EUR")
@example(amount=Decimal("999999999999"), currency="JPY")
@example(amount=Decimal("1000000000000"), currency="EUR")
def test_a_price_is_accepted_exactly_when_it_fits_its_currency(amount: Decimal, currency: str) -> None:
    fits = Decimal(0) <= amount <= MAX_AMOUNT and decimal_places(amount) <= MINOR_UNITS[currency]
    try:
        price = Price.model_validate({"amount": str(amount), "currency": currency})
    except ValidationError:
        assert not fits
        return
    assert fits
    assert price.amount == amount
    text = format_amount(price.amount, currency)
    assert Decimal(text) == amount
    assert decimal_places(Decimal(text)) <= MINOR_UNITS[currency]
    assert len(text.partition(".")[2]) == MINOR_UNITS[currency]


@given(amount=amounts.filter(lambda a: 0 <= a <= MAX_AMOUNT), places=st.integers(0, 4))
def test_storage_round_trips_every_valid_amount_exactly(amount: Decimal, places: int) -> None:
    amount = amount.quantize(Decimal(1).scaleb(-places))
    column = ExactDecimal()
    stored = column.process_bind_param(amount, None)  # type: ignore[arg-type]
    assert isinstance(stored, int)
    assert column.process_result_value(stored, None) == amount  # type: ignore[arg-type]


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_are_never_accepted_as_amounts(value: float) -> None:
    with pytest.raises(ValueError, match="amount"):
        parse_amount(value)


@pytest.mark.parametrize(
    "text", ["NaN", "-NaN", "sNaN", "Infinity", "-Inf", "1e400", "", " ", "1,00", "0x10"]
)
def test_non_numbers_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        parse_amount(text)


@given(st.text(max_size=260))
def test_names_are_trimmed_and_free_of_control_characters(name: str) -> None:
    stripped = unicodedata.normalize("NFC", name.strip())
    valid = 1 <= len(stripped) <= 200 and not any(unicodedata.category(c) == "Cc" for c in stripped)
    if valid:
        assert ProductCreate.model_validate(product(name=name)).name == stripped
    else:
        with pytest.raises(ValidationError) as caught:
            ProductCreate.model_validate(product(name=name))
        assert [e["loc"] for e in caught.value.errors()] == [("name",)]


@given(st.text(min_size=0, max_size=70))
@example("ok-SKU_1.2")
def test_skus_follow_the_pattern(sku: str) -> None:
    if re.fullmatch(SKU_PATTERN, sku):
        assert ProductCreate.model_validate(product(sku=sku)).sku == sku
    else:
        with pytest.raises(ValidationError):
            ProductCreate.model_validate(product(sku=sku))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cs"]))
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_exact_json_round_trips_decimals(value: Any) -> None:
    assert loads(dumps(value)) == value


@given(st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.integers(), max_size=60))
def test_attribute_count_is_bounded(attributes: dict[str, int]) -> None:
    if len(attributes) <= 50:
        assert ProductCreate.model_validate(product(attributes=attributes)).attributes == attributes
    else:
        with pytest.raises(ValidationError):
            ProductCreate.model_validate(product(attributes=attributes))
