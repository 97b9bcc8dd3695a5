"""Storefront pages. Each route parses, calls the shop, and renders one template."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from shelf.catalog.schemas import ProductRead
from shelf.flags.demo import GALLERY, PRODUCT_PAGE_LAYOUT
from shelf.flags.service import FlagsService
from shelf.web.errors import PageRoute
from shelf.web.formatting import slugify
from shelf.web.pages import PagesDep
from shelf.web.storefront.listing import Listing
from shelf.web.storefront.shop import Shop

router = APIRouter(route_class=PageRoute, include_in_schema=False, default_response_class=HTMLResponse)


def _shop(request: Request) -> Shop:
    shop: Shop = request.app.state.shop
    return shop


ShopDep = Annotated[Shop, Depends(_shop)]


def product_url(product: ProductRead) -> str:
    return f"/products/{product.id}/{slugify(product.name)}"


def feedback_url(product: ProductRead) -> str:
    return f"/feedback?product={product.id}"


@router.get("/")
async def home(request: Request, pages: PagesDep, shop: ShopDep) -> Response:
    front = await shop.front_page()
    return pages.render(
        request,
        "storefront/home.html",
        {
            "categories": front.categories,
            "featured": front.featured,
            "featured_tagged": front.featured_tagged,
        },
    )


@router.get("/products")
async def products(
    request: Request,
    pages: PagesDep,
    shop: ShopDep,
    *,
    q: str | None = None,
    category: str | None = None,
    tag: str | None = None,
    price_min: str | None = None,
    price_max: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
) -> Response:
    listing = Listing.parse(
        {
            "q": q,
            "category": category,
            "tag": tag,
            "price_min": price_min,
            "price_max": price_max,
            "sort": sort,
            "cursor": cursor,
        }
    )
    aisle = await shop.aisle(listing.query())
    page = aisle.page
    return pages.render(
        request,
        "storefront/products.html",
        {
            "listing": listing,
            "search_q": listing.q,
            "categories": aisle.categories,
            "products": page.items if page else [],
            "next_url": listing.url(cursor=page.next_cursor) if page and page.next_cursor else None,
            "first_url": listing.url(cursor=None) if listing.cursor else None,
        },
        status_code=200 if page is not None else 422,
    )


@router.get("/products/{product_id}")
async def product(request: Request, product_id: str, pages: PagesDep, shop: ShopDep) -> Response:
    found = await shop.product(product_id)
    return await _product_page(request, pages, found)


@router.get("/products/{product_id}/{slug}")
async def product_with_slug(
    request: Request, product_id: str, slug: str, pages: PagesDep, shop: ShopDep
) -> Response:
    found = await shop.product(product_id)
    if slug != slugify(found.name):  # renamed since the link was made, or mistyped
        return RedirectResponse(product_url(found), status_code=301)
    return await _product_page(request, pages, found)


async def _layout(request: Request, pages: PagesDep) -> str | None:
    """The product page layout this shopper is in (flags/demo.py); ``None`` off the experiment."""
    flags: FlagsService = request.app.state.container.flags
    measured = request.app.state.tracking.state(request).measured  # no exposure under DNT/GPC, no consent
    context = {"targetingKey": pages.shopper(request).distinct_id}
    return await flags.variant(PRODUCT_PAGE_LAYOUT, context, expose=measured)


async def _product_page(request: Request, pages: PagesDep, found: ProductRead) -> Response:
    layout = await _layout(request, pages)
    return pages.render(
        request,
        "storefront/product.html",
        {
            "product": found,
            "canonical_url": product_url(found),
            "feedback_url": feedback_url(found),
            "gallery": layout == GALLERY,
        },
    )
