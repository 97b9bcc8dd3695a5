from __future__ import annotations

from decimal import Decimal

import pytest

from shelf.web.formatting import category_label, format_money, slugify, stock_state


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("59.00", "EUR", "€59.00"),
        (Decimal("1249.5"), "USD", "$1,249.50"),
        ("1500", "JPY", "¥1,500"),
        ("0.005", "BHD", "0.005\N{NO-BREAK SPACE}BHD"),
        ("1234567.89", "CHF", "1,234,567.89\N{NO-BREAK SPACE}CHF"),
        ("0", "GBP", "£0.00"),
    ],
)
def test_money_shows_the_currencys_decimals_and_groups_thousands(
    amount: str | Decimal, currency: str, shown: str
) -> None:
    assert format_money(amount, currency) == shown


def test_money_never_goes_through_a_float() -> None:
    assert format_money("0.30", "EUR") == "€0.30"
    assert format_money(Decimal("0.1") + Decimal("0.2"), "EUR") == "€0.30"
    assert format_money("99999999999.99", "EUR") == "€99,999,999,999.99"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Glacier Merino Scarf", "glacier-merino-scarf"),
        ("Crème brûlée \N{EN DASH} Set of 2!", "creme-brulee-set-of-2"),
        ("  --  ", "product"),
        ("日本の茶碗", "product"),
    ],
)
def test_slugs_are_readable_ascii(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_stock_states() -> None:
    assert stock_state(0) == ("out", "Out of stock")
    assert stock_state(1) == ("low", "Only 1 left")
    assert stock_state(5) == ("low", "Only 5 left")
    assert stock_state(6) == ("in", "In stock")


def test_category_labels() -> None:
    assert category_label("home-kitchen") == "Home kitchen"
    assert category_label("apparel") == "Apparel"
