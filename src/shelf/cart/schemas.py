"""Shapes of the cart. A line holds no price: prices, names and availability always come from the
catalog, so nothing a browser stores can change what a product costs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

MAX_LINES = 50  # distinct products in one cart (also bounds the cookie that carries it)
MAX_QUANTITY = 99  # of one product


@dataclass(frozen=True, slots=True)
class CartLine:
    product_id: uuid.UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class PricedLine:
    product_id: uuid.UUID
    name: str
    sku: str
    unit_price: Decimal
    currency: str
    quantity: int
    stock: int

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PricedCart:
    """A cart as the shopper sees it. ``totals`` has one entry per currency in the cart, in the
    order the currencies first appear: Shelf keeps no exchange rates, so it never adds EUR to USD."""

    lines: tuple[PricedLine, ...]
    totals: tuple[CurrencyTotal, ...]
    # Lines dropped because their product is gone or no longer sold.
    unavailable: int = 0

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    def remaining(self) -> tuple[CartLine, ...]:
        """The lines to keep storing: the priced ones, without the unavailable."""
        return tuple(CartLine(line.product_id, line.quantity) for line in self.lines)
