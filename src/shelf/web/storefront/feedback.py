"""The storefront's feedback pages, and who a storefront visitor is to the feedback API.

``GET /feedback`` is the site-wide form (about a product with ``?product=<id>``), and its thank-you
message (``?sent=1``). ``POST /feedback`` is where the form posts without JavaScript: it stores the
feedback and redirects to the thank-you message (303), or shows the form again with each problem
next to its field (422). With JavaScript, ``static/js/feedback.js`` posts the same form to
``POST /api/v1/feedback`` instead and thanks the visitor without leaving the page. The product
page shows the same form (``templates/storefront/feedback_widget.html``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from shelf.catalog.schemas import ProductRead
from shelf.feedback.schemas import MAX_TEXT
from shelf.feedback.service import FeedbackService, Visitor
from shelf.gateway.problems import field_errors
from shelf.platform.errors import InvalidInput, NotFound
from shelf.web.errors import PageRoute
from shelf.web.formatting import slugify
from shelf.web.pages import Pages, PagesDep, principal_of
from shelf.web.storefront.shop import Shop

router = APIRouter(route_class=PageRoute, include_in_schema=False, default_response_class=HTMLResponse)
FormValue = Annotated[str | None, Form()]
PAGE = "/feedback"
# What a shopper reads when a field is refused (the API's own messages are for programmers).
MESSAGES = {
    "rating": "Choose a rating from 1 to 5 stars.",
    "email": "Enter an email address such as name@example.com, or leave it empty.",
    "product_id": "This product is no longer in the shop.",
    "page": "Reload the page and try again.",
}


def storefront_visitor(request: Request, presented_token: str | None) -> Visitor:
    """The visitor of this request, if it comes from one of Shelf's pages (its form token).

    Raises ``Forbidden`` otherwise. Do Not Track and Global Privacy Control mean the feedback is
    kept but no analytics event is recorded about the visitor.
    """
    pages: Pages = request.app.state.pages
    pages.require_form_token(request, presented_token)
    dnt = request.headers.get("dnt") == "1" or request.headers.get("sec-gpc") == "1"
    return Visitor(distinct_id=pages.shopper(request).distinct_id, measured=not dnt)


def _feedback(request: Request) -> FeedbackService:
    service: FeedbackService = request.app.state.container.feedback
    return service


def _shop(request: Request) -> Shop:
    shop: Shop = request.app.state.shop
    return shop


FeedbackDep = Annotated[FeedbackService, Depends(_feedback)]
ShopDep = Annotated[Shop, Depends(_shop)]


def _product_url(product: ProductRead) -> str:
    return f"/products/{product.id}/{slugify(product.name)}"


def _render(
    request: Request,
    pages: Pages,
    feedback: FeedbackService,
    product: ProductRead | None,
    *,
    sent: bool = False,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return pages.render(
        request,
        "storefront/feedback.html",
        {
            "product": product,
            "product_url": _product_url(product) if product else None,
            "sent": sent,
            "feedback_values": values or {},
            "feedback_errors": errors or {},
            "feedback_max_text": MAX_TEXT,
            "feedback_retention_days": feedback.email_retention.days,
        },
        status_code=422 if errors else 200,
    )


@router.get(PAGE)
async def feedback_page(
    request: Request,
    pages: PagesDep,
    shop: ShopDep,
    feedback: FeedbackDep,
    *,
    product: str | None = None,
    sent: str | None = None,
) -> Response:
    about = await shop.product(product) if product else None
    return _render(request, pages, feedback, about, sent=sent == "1")


@router.post(PAGE)
async def send_feedback(
    request: Request,
    pages: PagesDep,
    shop: ShopDep,
    feedback: FeedbackDep,
    *,
    rating: FormValue = None,
    text: FormValue = None,
    email: FormValue = None,
    page: FormValue = None,
    product_id: FormValue = None,
    website: FormValue = None,
    csrf_token: FormValue = None,
) -> Response:
    visitor = storefront_visitor(request, csrf_token)
    values = {"rating": rating, "text": text, "email": email, "page": page, "product_id": product_id}
    form: dict[str, Any] = {key: value for key, value in values.items() if value is not None}
    if rating is not None and rating.isdecimal() and len(rating) == 1:
        form["rating"] = int(rating)  # a radio button's value; the API takes JSON integers only
    form["website"] = website or ""
    try:
        await feedback.submit_from_storefront(
            principal_of(request), visitor, form, user_agent=request.headers.get("user-agent")
        )
    except (ValidationError, InvalidInput) as refused:
        problems = field_errors(refused) if isinstance(refused, ValidationError) else refused.errors
        errors = {item["field"]: _message(item["field"], item["message"]) for item in problems}
        product = await _product_or_none(shop, product_id)
        return _render(request, pages, feedback, product, values=values, errors=errors)
    location = f"{PAGE}?sent=1" + (f"&product={product_id}" if product_id else "")
    response = RedirectResponse(location, status_code=303)
    pages.remember(request, response)
    return response


def _message(field: str, message: str) -> str:
    if field == "text":
        return f"Your message {message}."
    return MESSAGES.get(field, "Check this field and try again.")


async def _product_or_none(shop: Shop, product_id: str | None) -> ProductRead | None:
    if not product_id:
        return None
    try:
        return await shop.product(product_id)
    except NotFound:
        return None
