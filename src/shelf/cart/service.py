"""Cart use cases. A cart is a tuple of lines (product id, quantity); the caller stores it.

The service keeps the rules: quantities are 1 to ``MAX_QUANTITY``, never more than the stock,
at most ``MAX_LINES`` products, only products a shopper may see (active ones). Prices, names and
stock are read from the catalog every time a cart is priced, as the anonymous principal, so a
cart shows today's prices and drops products that are gone or no longer sold.

Money: each subtotal is ``unit price * quantity`` in ``Decimal``, exactly, and a cart has one
total per currency (see ``PricedCart``); Shelf never converts between currencies.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from shelf.cart.errors import CartRefused
from shelf.cart.schemas import (
    MAX_LINES,
    MAX_QUANTITY,
    CartLine,
    CurrencyTotal,
    PricedCart,
    PricedLine,
)
from shelf.catalog.errors import ProductNotFound
from shelf.catalog.schemas import ProductRead
from shelf.catalog.service import CatalogService
from shelf.identity.permissions import ANONYMOUS

Lines = tuple[CartLine, ...]


class CartService:
    def __init__(self, catalog: CatalogService) -> None:
        self._catalog = catalog

    async def add(self, lines: Lines, product_id: uuid.UUID, quantity: int) -> Lines:
        """Put ``quantity`` more of a product in the cart."""
        if not 1 <= quantity <= MAX_QUANTITY:
            raise CartRefused(f"Choose a quantity from 1 to {MAX_QUANTITY}.")
        product = await self._sellable(product_id)
        current = next((line.quantity for line in lines if line.product_id == product_id), 0)
        if current == 0 and len(lines) >= MAX_LINES:
            raise CartRefused(
                f"Your cart already holds {MAX_LINES} different products; remove one first.", "product_id"
            )
        wanted = current + quantity
        self._check_quantity(product, wanted, in_cart=current)
        if current:
            return tuple(
                CartLine(line.product_id, wanted) if line.product_id == product_id else line for line in lines
            )
        return (*lines, CartLine(product_id, wanted))

    async def change(self, lines: Lines, product_id: uuid.UUID, quantity: int) -> Lines:
        """Set the quantity of a product in the cart; 0 removes it."""
        if not 0 <= quantity <= MAX_QUANTITY:
            raise CartRefused(f"Choose a quantity from 0 to {MAX_QUANTITY}.")
        if quantity == 0:
            return self.remove(lines, product_id)
        if all(line.product_id != product_id for line in lines):
            raise CartRefused("That product is not in your cart.", "product_id")
        self._check_quantity(await self._sellable(product_id), quantity, in_cart=0)
        return tuple(
            CartLine(line.product_id, quantity) if line.product_id == product_id else line for line in lines
        )

    def remove(self, lines: Lines, product_id: uuid.UUID) -> Lines:
        return tuple(line for line in lines if line.product_id != product_id)

    async def price(self, lines: Lines) -> PricedCart:
        """The cart with today's prices, and a total per currency; unavailable lines are dropped."""
        priced: list[PricedLine] = []
        unavailable = 0
        for line in lines:
            try:
                product = await self._product(line.product_id)
            except ProductNotFound:
                unavailable += 1
                continue
            priced.append(
                PricedLine(
                    product_id=product.id,
                    name=product.name,
                    sku=product.sku,
                    unit_price=Decimal(product.price.amount),
                    currency=product.price.currency,
                    quantity=line.quantity,
                    stock=product.stock,
                )
            )
        totals: dict[str, Decimal] = {}
        for item in priced:
            totals[item.currency] = totals.get(item.currency, Decimal(0)) + item.subtotal
        return PricedCart(
            lines=tuple(priced),
            totals=tuple(CurrencyTotal(currency, amount) for currency, amount in totals.items()),
            unavailable=unavailable,
        )

    async def _product(self, product_id: uuid.UUID) -> ProductRead:
        body, _etag = await self._catalog.get_product(ANONYMOUS, product_id)
        return ProductRead.model_validate(body)

    async def _sellable(self, product_id: uuid.UUID) -> ProductRead:
        try:
            return await self._product(product_id)
        except ProductNotFound:
            raise CartRefused("That product is not for sale.", "product_id") from None

    @staticmethod
    def _check_quantity(product: ProductRead, wanted: int, *, in_cart: int) -> None:
        if product.stock <= 0:
            raise CartRefused(f"{product.name} is out of stock.")
        if wanted > MAX_QUANTITY:
            raise CartRefused(f"You can have at most {MAX_QUANTITY} of {product.name} in your cart.")
        if wanted > product.stock:
            already = f" (you have {in_cart} in your cart)" if in_cart else ""
            raise CartRefused(f"Only {product.stock} of {product.name} left{already}.")
