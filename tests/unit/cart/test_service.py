"""Cart rules on the catalog service with in-memory fakes: quantities, stock, visibility, exact totals."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from shelf.cart.errors import CartRefused
from shelf.cart.schemas import MAX_LINES, MAX_QUANTITY, CartLine, CurrencyTotal
from shelf.cart.service import CartService
from shelf.catalog.service import CatalogService, Preconditions
from shelf.identity.permissions import Principal, Role
from shelf.platform.cache import NullCache
from tests.fakes import FakeClock, FakeReader, FakeUnitOfWork

EDITOR = Principal(kind="api_key", id=uuid.uuid4(), role=Role.EDITOR)
_skus = iter(range(1, 10_000))


@pytest.fixture
def catalog() -> CatalogService:
    uow = FakeUnitOfWork()
    return CatalogService(
        uow, FakeReader(uow), FakeClock(), cache=NullCache(), idempotency_ttl=timedelta(hours=1)
    )


@pytest.fixture
def carts(catalog: CatalogService) -> CartService:
    return CartService(catalog)


async def product(catalog: CatalogService, **overrides: Any) -> uuid.UUID:
    body: dict[str, Any] = {
        "sku": f"CART-{next(_skus)}",
        "name": "Tea Towel",
        "price": {"amount": "0.10", "currency": "EUR"},
        "status": "active",
        "stock": 50,
    }
    created = await catalog.create_product(EDITOR, body | overrides)
    return uuid.UUID(str(created.product["id"]))


async def test_adding_the_same_product_twice_adds_up_one_line(
    catalog: CatalogService, carts: CartService
) -> None:
    towel = await product(catalog)
    lines = await carts.add((), towel, 2)
    lines = await carts.add(lines, towel, 3)
    assert lines == (CartLine(towel, 5),)


async def test_totals_are_exact_decimals(catalog: CatalogService, carts: CartService) -> None:
    towel = await product(catalog, price={"amount": "0.10", "currency": "EUR"})
    mug = await product(catalog, name="Mug", price={"amount": "0.20", "currency": "EUR"})
    cart = await carts.price(await carts.add(await carts.add((), towel, 3), mug, 1))
    assert cart.totals == (CurrencyTotal("EUR", Decimal("0.50")),)  # 0.1 * 3 + 0.2, never 0.5000000001
    assert [line.subtotal for line in cart.lines] == [Decimal("0.30"), Decimal("0.20")]
    assert cart.item_count == 4


async def test_one_total_per_currency_never_converted(catalog: CatalogService, carts: CartService) -> None:
    euro = await product(catalog, price={"amount": "10.00", "currency": "EUR"})
    yen = await product(catalog, name="Bowl", price={"amount": "1500", "currency": "JPY"})
    dollar = await product(catalog, name="Cap", price={"amount": "5.25", "currency": "USD"})
    lines = ()
    for item, quantity in ((euro, 2), (yen, 1), (dollar, 2), (yen, 1)):
        lines = await carts.add(lines, item, quantity)
    cart = await carts.price(lines)
    assert cart.totals == (
        CurrencyTotal("EUR", Decimal("20.00")),
        CurrencyTotal("JPY", Decimal("3000")),
        CurrencyTotal("USD", Decimal("10.50")),
    )


async def test_prices_come_from_the_catalog_today(catalog: CatalogService, carts: CartService) -> None:
    towel = await product(catalog, price={"amount": "4.00", "currency": "EUR"})
    lines = await carts.add((), towel, 2)
    await catalog.update_product(
        EDITOR,
        towel,
        {"price": {"amount": "3.50", "currency": "EUR"}},
        Preconditions(["*"]),
    )
    assert (await carts.price(lines)).totals == (CurrencyTotal("EUR", Decimal("7.00")),)


@pytest.mark.parametrize("quantity", [0, -1, MAX_QUANTITY + 1])
async def test_quantities_to_add_are_1_to_99(
    catalog: CatalogService, carts: CartService, quantity: int
) -> None:
    towel = await product(catalog)
    with pytest.raises(CartRefused):
        await carts.add((), towel, quantity)


async def test_never_more_than_the_stock(catalog: CatalogService, carts: CartService) -> None:
    mug = await product(catalog, name="Mug", stock=3)
    lines = await carts.add((), mug, 2)
    with pytest.raises(CartRefused, match=r"Only 3 of Mug left \(you have 2 in your cart\)"):
        await carts.add(lines, mug, 2)
    with pytest.raises(CartRefused, match="Only 3 of Mug left"):
        await carts.change(lines, mug, 4)
    sold_out = await product(catalog, name="Lamp", stock=0)
    with pytest.raises(CartRefused, match="Lamp is out of stock"):
        await carts.add((), sold_out, 1)


async def test_only_products_for_sale(catalog: CatalogService, carts: CartService) -> None:
    draft = await product(catalog, status="draft")
    archived = await product(catalog, status="archived")
    for unavailable in (draft, archived, uuid.uuid4()):
        with pytest.raises(CartRefused, match="not for sale"):
            await carts.add((), unavailable, 1)


async def test_products_gone_since_are_dropped_when_priced(
    catalog: CatalogService, carts: CartService
) -> None:
    towel = await product(catalog)
    cart = await carts.price((CartLine(towel, 1), CartLine(uuid.uuid4(), 2)))
    assert [line.product_id for line in cart.lines] == [towel]
    assert cart.unavailable == 1
    assert cart.remaining() == (CartLine(towel, 1),)


async def test_change_and_remove(catalog: CatalogService, carts: CartService) -> None:
    towel, mug = await product(catalog), await product(catalog, name="Mug")
    lines = await carts.add(await carts.add((), towel, 1), mug, 1)
    lines = await carts.change(lines, mug, 4)
    assert lines == (CartLine(towel, 1), CartLine(mug, 4))
    assert await carts.change(lines, mug, 0) == (CartLine(towel, 1),)
    assert carts.remove(lines, towel) == (CartLine(mug, 4),)
    with pytest.raises(CartRefused, match="not in your cart"):
        await carts.change((), mug, 1)


async def test_a_cart_holds_at_most_50_products(catalog: CatalogService, carts: CartService) -> None:
    lines = tuple([CartLine(await product(catalog), 1) for _ in range(MAX_LINES)])
    with pytest.raises(CartRefused, match="already holds 50 different products"):
        await carts.add(lines, await product(catalog), 1)
    assert len(await carts.add(lines, lines[0].product_id, 1)) == MAX_LINES  # more of one already in it
