"""The cart pages: ``GET /cart`` shows it, form posts change it and redirect back (303).

The cart travels in the shopper cookie (``web.shopper``); prices come from the catalog on every
view (``cart.service``). Every post must carry the form's CSRF token.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from shelf.cart.errors import CartRefused
from shelf.cart.service import CartService
from shelf.web.errors import PageRoute
from shelf.web.pages import Pages, PagesDep

router = APIRouter(route_class=PageRoute, include_in_schema=False, default_response_class=HTMLResponse)
FormText = Annotated[str | None, Form(max_length=200)]


def _carts(request: Request) -> CartService:
    carts: CartService = request.app.state.container.cart
    return carts


CartsDep = Annotated[CartService, Depends(_carts)]


def _product_id(raw: str | None) -> uuid.UUID:
    try:
        return uuid.UUID(raw or "")
    except ValueError:
        raise CartRefused("That product is not for sale.", "product_id") from None


def _quantity(raw: str | None, default: int) -> int:
    text = (raw or "").strip()
    if not text:
        return default
    if not text.isdecimal() or len(text) > 4:
        raise CartRefused("Enter the quantity as a whole number, such as 1 or 2.")
    return int(text)


async def _cart_page(
    request: Request,
    pages: Pages,
    carts: CartService,
    *,
    added: str | None = None,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    shopper = pages.shopper(request)
    priced = await carts.price(shopper.lines)
    messages: list[tuple[str, str]] = []
    if error:
        messages.append(("error", error))
    if priced.unavailable:
        pages.update_shopper(request, shopper.with_lines(priced.remaining()))
        some = "A product" if priced.unavailable == 1 else f"{priced.unavailable} products"
        messages.append(("warning", f"{some} in your cart is no longer for sale and was removed."))
    just_added = next((line for line in priced.lines if str(line.product_id) == added), None)
    if just_added is not None:
        messages.append(("success", f"Added {just_added.name} to your cart."))
    if notice == "updated":
        messages.append(("success", "Your cart was updated."))
    elif notice == "removed":
        messages.append(("success", "The product was removed from your cart."))
    return pages.render(
        request,
        "storefront/cart.html",
        {"cart": priced, "messages": messages},
        status_code=422 if error else 200,
    )


def _back_to_cart(request: Request, pages: Pages, location: str) -> Response:
    response = RedirectResponse(location, status_code=303)
    pages.remember(request, response)
    return response


@router.get("/cart")
async def view_cart(
    request: Request,
    pages: PagesDep,
    carts: CartsDep,
    added: str | None = None,
    notice: str | None = None,
) -> Response:
    return await _cart_page(request, pages, carts, added=added, notice=notice)


@router.post("/cart/items")
async def add_to_cart(
    request: Request,
    pages: PagesDep,
    carts: CartsDep,
    *,
    product_id: FormText = None,
    quantity: FormText = None,
    csrf_token: FormText = None,
) -> Response:
    pages.require_form_token(request, csrf_token)
    shopper = pages.shopper(request)
    try:
        wanted = _product_id(product_id)
        lines = await carts.add(shopper.lines, wanted, _quantity(quantity, default=1))
    except CartRefused as refused:
        return await _cart_page(request, pages, carts, error=refused.detail)
    pages.update_shopper(request, shopper.with_lines(lines))
    return _back_to_cart(request, pages, f"/cart?added={wanted}")


@router.post("/cart/items/{product_id}")
async def change_quantity(
    request: Request,
    product_id: str,
    pages: PagesDep,
    carts: CartsDep,
    *,
    quantity: FormText = None,
    csrf_token: FormText = None,
) -> Response:
    pages.require_form_token(request, csrf_token)
    shopper = pages.shopper(request)
    try:
        lines = await carts.change(shopper.lines, _product_id(product_id), _quantity(quantity, default=-1))
    except CartRefused as refused:
        return await _cart_page(request, pages, carts, error=refused.detail)
    pages.update_shopper(request, shopper.with_lines(lines))
    return _back_to_cart(request, pages, "/cart?notice=updated")


@router.post("/cart/items/{product_id}/remove")
async def remove_from_cart(
    request: Request,
    product_id: str,
    pages: PagesDep,
    carts: CartsDep,
    *,
    csrf_token: FormText = None,
) -> Response:
    pages.require_form_token(request, csrf_token)
    shopper = pages.shopper(request)
    try:
        lines = carts.remove(shopper.lines, _product_id(product_id))
    except CartRefused as refused:
        return await _cart_page(request, pages, carts, error=refused.detail)
    pages.update_shopper(request, shopper.with_lines(lines))
    return _back_to_cart(request, pages, "/cart?notice=removed")
