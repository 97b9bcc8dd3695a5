"""The tracker's endpoint and the consent banner's form (ADR 0017).

``POST /storefront/events`` takes the tracker's beacon: an urlencoded body (what ``sendBeacon``
sends without a CORS preflight) with ``csrf_token`` and ``batch`` (the events as JSON). It is
authenticated like a cart form: the shopper cookie plus the page's form token, a signed double
submit (``web.shopper``); the server decides the distinct id from the cookie. A visitor who may
not be measured (Do-Not-Track, Global Privacy Control, no consent) gets the same 204 and nothing
is stored. Rate limited by the events policy (``gateway.ratelimit``), at most
``MAX_TRACKER_BYTES`` per beacon.

``POST /storefront/consent`` stores the banner's answer in the consent cookie and goes back to
the page (303).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from shelf.analytics.service import AnalyticsService
from shelf.analytics.tracker import MAX_TRACKER_BYTES
from shelf.gateway.problems import MalformedBody, UnsupportedMediaType, problem
from shelf.platform.errors import Forbidden
from shelf.web.errors import PageRoute
from shelf.web.pages import PagesDep
from shelf.web.shopper import COOKIE
from shelf.web.storefront.tracking import (
    CONSENT_PATH,
    DENIED,
    EVENTS_PATH,
    GRANTED,
    Tracking,
    current_tracking,
)

router = APIRouter(include_in_schema=False)
pages_router = APIRouter(route_class=PageRoute, include_in_schema=False)
TrackingDep = Annotated[Tracking, Depends(current_tracking)]
FormText = Annotated[str | None, Form(max_length=2000)]
FORM_TYPE = "application/x-www-form-urlencoded"


def _analytics(request: Request) -> AnalyticsService:
    analytics: AnalyticsService = request.app.state.container.analytics
    return analytics


AnalyticsDep = Annotated[AnalyticsService, Depends(_analytics)]


async def _form(request: Request) -> dict[str, str] | None:
    """The beacon's fields, or None when it is larger than ``MAX_TRACKER_BYTES``."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        raise UnsupportedMediaType(f"send the tracker's beacon as {FORM_TYPE}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_TRACKER_BYTES:
            return None
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4, strict_parsing=False)
    except ValueError:
        raise MalformedBody("the beacon has too many fields") from None
    return {name: values[0] for name, values in fields.items() if values}


@router.post(EVENTS_PATH, status_code=204)
async def tracker_events(
    request: Request, pages: PagesDep, tracking: TrackingDep, analytics: AnalyticsDep
) -> Response:
    form = await _form(request)
    if form is None:
        return problem(413, f"a tracker beacon is at most {MAX_TRACKER_BYTES} bytes; send smaller batches")
    pages.require_form_token(request, form.get("csrf_token"))
    shopper = pages.cookies.decode(request.cookies.get(COOKIE))
    if shopper is None:  # a console session passes the token check without a shopper cookie
        raise Forbidden("this page has no shopper cookie; reload the page")
    if tracking.state(request).measured:
        await analytics.capture_from_storefront(shopper.distinct_id, form.get("batch") or "")
    return Response(status_code=204)


def _back(raw: str | None) -> str:
    """A path of this site to go back to, never another site (an open redirect)."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw or len(raw) > 2000:
        return "/"
    parts = urlsplit(raw)
    return "/" if parts.scheme or parts.netloc else raw


@pages_router.post(CONSENT_PATH)
async def consent(
    request: Request,
    pages: PagesDep,
    tracking: TrackingDep,
    *,
    choice: FormText = None,
    next_path: Annotated[str | None, Form(alias="next", max_length=2000)] = None,
    csrf_token: FormText = None,
) -> Response:
    pages.require_form_token(request, csrf_token)
    response = RedirectResponse(_back(next_path), status_code=303)
    tracking.remember_choice(response, GRANTED if choice == GRANTED else DENIED)
    pages.remember(request, response)
    return response
