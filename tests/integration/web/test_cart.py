"""The cart over HTTP: CSRF, the signed cookie, prices from the catalog, staff with a console session."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx

from shelf.app import Container
from shelf.catalog.service import Preconditions
from shelf.identity.permissions import Role
from shelf.web.shopper import COOKIE
from tests.integration.web.helpers import BROWSER, SETUP, add_product, assert_self_contained, csrf_token_of

PASSWORD = "correct horse battery staple"


def total(html: str) -> list[str]:
    return re.findall(r'class="cart-total" data-currency="([A-Z]{3})">([^<]+)<', html)  # type: ignore[return-value]


async def token(client: httpx.AsyncClient, path: str = "/products") -> str:
    return csrf_token_of((await client.get(path, headers=BROWSER)).text)


async def add(client: httpx.AsyncClient, product: dict[str, Any], quantity: str, csrf: str) -> httpx.Response:
    form = {"product_id": str(product["id"]), "quantity": quantity, "csrf_token": csrf}
    return await client.post("/cart/items", data=form, headers=BROWSER)


async def test_add_change_remove_with_exact_totals(client: httpx.AsyncClient, container: Container) -> None:
    scarf = await add_product(container, name="Scarf", price={"amount": "59.00", "currency": "EUR"})
    mug = await add_product(container, name="Mug", price={"amount": "14.50", "currency": "EUR"}, stock=3)
    csrf = await token(client)

    added = await add(client, scarf, "2", csrf)
    assert added.status_code == 303
    assert added.headers["location"] == f"/cart?added={scarf['id']}"
    assert "httponly" in added.headers["set-cookie"].lower()
    assert "samesite=lax" in added.headers["set-cookie"].lower()
    cart = await client.get(added.headers["location"], headers=BROWSER)
    assert "Added Scarf to your cart." in cart.text
    assert total(cart.text) == [("EUR", "€118.00")]
    assert_self_contained(cart.text)

    await add(client, mug, "1", csrf)
    changed = await client.post(
        f"/cart/items/{mug['id']}", data={"quantity": "3", "csrf_token": csrf}, headers=BROWSER
    )
    assert changed.headers["location"] == "/cart?notice=updated"
    assert total((await client.get("/cart", headers=BROWSER)).text) == [("EUR", "€161.50")]

    too_many = await client.post(
        f"/cart/items/{mug['id']}", data={"quantity": "4", "csrf_token": csrf}, headers=BROWSER
    )
    assert too_many.status_code == 422
    assert "Only 3 of Mug left." in too_many.text
    assert total(too_many.text) == [("EUR", "€161.50")]

    removed = await client.post(
        f"/cart/items/{scarf['id']}/remove", data={"csrf_token": csrf}, headers=BROWSER
    )
    assert removed.status_code == 303
    cart = await client.get("/cart?notice=removed", headers=BROWSER)
    assert "The product was removed from your cart." in cart.text
    assert total(cart.text) == [("EUR", "€43.50")]


async def test_posts_without_this_shoppers_token_change_nothing(
    client: httpx.AsyncClient, container: Container, app: Any
) -> None:
    scarf = await add_product(container, name="Scarf")
    csrf = await token(client)
    assert (await add(client, scarf, "1", csrf)).status_code == 303

    missing = await add(client, scarf, "1", "")
    assert missing.status_code == 403
    assert "reload the page" in missing.text
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://shelf.test"
    ) as other:
        strangers_token = await token(other)
    foreign = await add(client, scarf, "1", strangers_token)
    assert foreign.status_code == 403
    cart = await client.get("/cart", headers=BROWSER)
    assert "<dt>Items</dt><dd>1</dd>" in cart.text


async def test_the_cookie_cannot_set_prices_or_be_forged(
    client: httpx.AsyncClient, container: Container
) -> None:
    scarf = await add_product(container, name="Scarf", price={"amount": "59.00", "currency": "EUR"})
    csrf = await token(client)
    await add(client, scarf, "1", csrf)
    await container.catalog.update_product(
        SETUP, scarf["id"], {"price": {"amount": "49.00", "currency": "EUR"}}, Preconditions(["*"])
    )
    assert total((await client.get("/cart", headers=BROWSER)).text) == [("EUR", "€49.00")]

    signed = client.cookies[COOKIE]
    body, signature = signed.split(".")
    client.cookies.set(COOKIE, f"{body[:-2]}AA.{signature}")
    forged = await client.get("/cart", headers=BROWSER)
    assert "Your cart is empty." in forged.text
    assert (await add(client, scarf, "1", csrf)).status_code == 403  # the token belonged to the old id


async def test_products_no_longer_sold_leave_the_cart_with_a_notice(
    client: httpx.AsyncClient, container: Container
) -> None:
    scarf = await add_product(container, name="Scarf")
    mug = await add_product(container, name="Mug")
    csrf = await token(client)
    await add(client, scarf, "1", csrf)
    await add(client, mug, "2", csrf)
    await container.catalog.update_product(SETUP, scarf["id"], {"status": "archived"}, Preconditions(["*"]))
    cart = await client.get("/cart", headers=BROWSER)
    assert "A product in your cart is no longer for sale and was removed." in cart.text
    assert "<dt>Items</dt><dd>2</dd>" in cart.text
    assert COOKIE in cart.headers["set-cookie"]  # the cart was stored without it
    assert "no longer for sale" not in (await client.get("/cart", headers=BROWSER)).text


async def test_one_total_per_currency(client: httpx.AsyncClient, container: Container) -> None:
    scarf = await add_product(container, name="Scarf", price={"amount": "10.10", "currency": "EUR"})
    cap = await add_product(container, name="Cap", price={"amount": "5.25", "currency": "USD"})
    csrf = await token(client)
    await add(client, scarf, "3", csrf)
    await add(client, cap, "2", csrf)
    cart = (await client.get("/cart", headers=BROWSER)).text
    assert total(cart) == [("EUR", "€30.30"), ("USD", "$10.50")]
    assert Decimal("10.10") * 3 == Decimal("30.30")
    assert "Prices in different currencies are added up separately." in cart


async def test_staff_signed_in_to_the_console_shop_like_everyone(
    client: httpx.AsyncClient, container: Container
) -> None:
    await container.identity.create_user("shopper-admin@example.com", PASSWORD, Role.ADMIN)
    draft = await add_product(container, name="Staff Only Draft", status="draft")
    scarf = await add_product(container, name="Scarf")
    started = await client.post(
        "/api/v1/auth/session", data={"username": "shopper-admin@example.com", "password": PASSWORD}
    )
    assert started.status_code == 201
    session_csrf = started.json()["csrf_token"]

    listing = await client.get("/products", headers=BROWSER)
    assert "Staff Only Draft" not in listing.text  # the shop shows what customers see
    assert (await client.get(f"/products/{draft['id']}", headers=BROWSER)).status_code == 404
    assert csrf_token_of(listing.text) == session_csrf  # the gateway checks this one for sessions

    assert (await add(client, scarf, "1", session_csrf)).status_code == 303
    assert (await add(client, scarf, "1", "wrong")).status_code == 403
    assert "<dt>Items</dt><dd>1</dd>" in (await client.get("/cart", headers=BROWSER)).text
