"""The products table (``GET /admin/products``) and its bulk status change.

The table reads the catalog as the signed-in member of staff, so drafts and archived products are
listed too. Checkboxes and the status change are only rendered for those who may write; the
change itself is one call to ``CatalogService.change_status``: one transaction, all or nothing.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, Response

from shelf.catalog.api import CatalogDep
from shelf.catalog.categories import CategoryDirectory
from shelf.catalog.errors import InvalidCursor, SelectionChanged
from shelf.catalog.models import ProductStatus
from shelf.catalog.service import Seen
from shelf.identity.permissions import Permission
from shelf.platform.errors import InvalidInput
from shelf.web.admin.guard import AdminRoute, CatalogEditor, Staff
from shelf.web.admin.listing import PATH, STATUSES, ProductListing
from shelf.web.admin.rendering import render, see_other

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)


async def _categories(request: Request) -> CategoryDirectory:
    categories: CategoryDirectory = request.app.state.container.categories
    return categories


CategoriesDep = Annotated[CategoryDirectory, Depends(_categories)]


def _notices(request: Request) -> list[tuple[str, str]]:
    """What the last form post did, as the redirect after it said (Post/Redirect/Get)."""
    params = request.query_params
    notices = []
    changed, unchanged, status = params.get("changed", ""), params.get("unchanged", ""), params.get("to", "")
    if changed.isdecimal() and unchanged.isdecimal() and status in ProductStatus.__members__.values():
        words = f"{changed} product{'s' if changed != '1' else ''} now {status}"
        if unchanged != "0":
            words += f"; {unchanged} already {'was' if unchanged == '1' else 'were'}"
        notices.append(("success", words + "."))
    if params.get("deleted") == "1":
        notices.append(("success", "The product was deleted."))
    return notices


@router.get("/admin/products")
async def products(
    request: Request,
    principal: Staff,
    catalog: CatalogDep,
    categories: CategoriesDep,
    *,
    q: str | None = None,
    status: str | None = None,
    category: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
) -> Response:
    listing = ProductListing.parse(
        {"q": q, "status": status, "category": category, "sort": sort, "cursor": cursor}
    )
    query = listing.query()
    page = None
    if query is not None:
        try:
            page = await catalog.list_products(principal, query)
        except InvalidCursor:
            listing.errors["cursor"] = "That page link has expired; start again from the first page."
    return render(
        request,
        "admin/products/list.html",
        {
            "listing": listing,
            "statuses": STATUSES,
            "categories": await categories.all(),
            "products": page.items if page else [],
            "next_url": listing.url(cursor=page.next_cursor) if page and page.next_cursor else None,
            "first_url": listing.url(cursor=None) if listing.cursor else None,
            "can_edit": principal.can(Permission.CATALOG_WRITE),
            "notices": _notices(request),
        },
        status_code=422 if listing.errors else 200,
    )


def _selection(values: list[str]) -> list[Seen]:
    """``<id>:<version>`` per checked box, as the table renders them."""
    seen = []
    for value in values:
        product_id, _, version = value.partition(":")
        try:
            seen.append(Seen(uuid.UUID(product_id), int(version)))
        except ValueError:
            raise InvalidInput("this selection did not come from the products table; reload it") from None
    return seen


def _back_to(raw: str | None) -> ProductListing:
    """The table the form was posted from (its filters), or the whole table."""
    parts = urlsplit(raw or "")
    if parts.scheme or parts.netloc or parts.path != PATH:
        return ProductListing()
    return ProductListing.parse(dict(parse_qsl(parts.query)))


@router.post("/admin/products/status")
async def change_status(request: Request, principal: CatalogEditor, catalog: CatalogDep) -> Response:
    form = await request.form()
    back = _back_to(str(form.get("return_to") or ""))
    try:
        selection = _selection([str(value) for value in form.getlist("product")])
        done = await catalog.change_status(principal, selection, str(form.get("status") or ""))
    except (SelectionChanged, InvalidInput) as refused:
        return render(
            request,
            "admin/products/refused.html",
            {"message": refused.detail, "back_url": back.url()},
            status_code=409 if isinstance(refused, SelectionChanged) else 422,
        )
    location = back.url()
    joiner = "&" if "?" in location else "?"
    target = str(form.get("status"))
    return see_other(f"{location}{joiner}changed={done.changed}&unchanged={done.unchanged}&to={target}")
