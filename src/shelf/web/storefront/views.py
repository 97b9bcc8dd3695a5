"""Storefront pages. Each route parses, calls the shop, and renders one template."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, Response

from shelf.web.errors import PageRoute
from shelf.web.pages import PagesDep
from shelf.web.storefront.shop import Shop

router = APIRouter(route_class=PageRoute, include_in_schema=False, default_response_class=HTMLResponse)


def _shop(request: Request) -> Shop:
    shop: Shop = request.app.state.shop
    return shop


ShopDep = Annotated[Shop, Depends(_shop)]


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
