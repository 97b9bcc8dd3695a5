"""Exact money. Amounts are ``Decimal`` from the wire to the disk; no float is ever involved.

The database keeps an amount as a 64-bit integer count of 1/10,000ths, the finest unit any ISO 4217
currency has. That is exact on SQLite (whose NUMERIC would round through a double) and on
PostgreSQL alike, and it sorts and filters by nominal amount across currencies.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from shelf.catalog.currencies import MAX_MINOR_UNITS, MINOR_UNITS

STORAGE_SCALE = 10**MAX_MINOR_UNITS
MAX_AMOUNT = Decimal("999999999999")  # a trillion minus one: anything above is a typo, not a price


def parse_amount(value: object) -> Decimal:
    """Accept a decimal string, an int or a ``Decimal``; refuse floats, bools and non-finite values."""
    if isinstance(value, bool | float):
        raise ValueError('amount must be a decimal string such as "249.00"')
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int | str):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError('amount must be a decimal number such as "249.00"') from None
    else:
        raise ValueError('amount must be a decimal string such as "249.00"')
    if not amount.is_finite():
        raise ValueError("amount must be a finite number")
    if amount < 0:
        raise ValueError("amount must not be negative")
    if amount > MAX_AMOUNT:
        raise ValueError(f"amount must not exceed {MAX_AMOUNT}")
    return amount


def decimal_places(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    if not isinstance(exponent, int):  # "n", "N" or "F": not a finite number
        raise ValueError("amount must be a finite number")
    return max(0, -exponent)


def check_currency_precision(amount: Decimal, currency: str) -> None:
    allowed = MINOR_UNITS[currency]
    if decimal_places(amount) > allowed:
        raise ValueError(f"{currency} allows at most {allowed} decimal places")


def format_amount(amount: Decimal, currency: str) -> str:
    """The canonical string form: exactly the currency's number of decimals ("249.00", "1500")."""
    return str(amount.quantize(Decimal(1).scaleb(-MINOR_UNITS[currency])))


class ExactDecimal(TypeDecorator[Decimal]):
    """A ``Decimal`` column stored as a scaled 64-bit integer (see the module docstring)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(Decimal(value) * STORAGE_SCALE)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        scaled: Decimal = Decimal(int(value)) / STORAGE_SCALE
        return scaled
