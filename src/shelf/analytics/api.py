"""REST routes of analytics: capture (PostHog-compatible and Shelf's own) and the queries.

Capture routes take the raw body: its shape and encoding are whatever the SDK chose, and
``AnalyticsService.capture`` reads them all. The PostHog routes answer ``200 {"status": 1}`` as
PostHog does (its SDKs look at the status only); ``POST /api/v1/events`` answers
``202 {"accepted": n}``. Either way, the answer comes after the events are durably buffered.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from shelf.analytics.schemas import (
    ActiveUsers,
    ActiveUsersQuery,
    CaptureAccepted,
    Funnel,
    FunnelQuery,
    Retention,
    RetentionQuery,
    TopProducts,
    TopProductsQuery,
    Trends,
    TrendsQuery,
)
from shelf.analytics.service import AnalyticsService, CaptureRequest
from shelf.gateway.auth import PrincipalDep
from shelf.gateway.http import JSONResponse

# The paths PostHog's SDKs post events to (posthog-python: /batch/; posthog-js: /e/ and /i/v0/e/).
POSTHOG_CAPTURE_PATHS = ("/batch/", "/capture/", "/e/", "/i/v0/e/")
EVENTS_PATH = "/api/v1/events"
CAPTURE_PATHS = (*POSTHOG_CAPTURE_PATHS, EVENTS_PATH)
_OK = b'{"status":1}'
_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/plain": {"schema": {"type": "string", "format": "binary"}},
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
        },
    }
}

capture_router = APIRouter(tags=["analytics capture"])
router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])


def _analytics(request: Request) -> AnalyticsService:
    service: AnalyticsService = request.app.state.container.analytics
    return service


AnalyticsDep = Annotated[AnalyticsService, Depends(_analytics)]


async def _capture_request(request: Request) -> CaptureRequest:
    return CaptureRequest(
        body=await request.body(),
        content_type=request.headers.get("content-type", ""),
        content_encoding=request.headers.get("content-encoding", ""),
        compression=request.query_params.get("compression"),
        sent_at=request.query_params.get("_"),
    )


async def posthog_capture(request: Request, analytics: AnalyticsDep, principal: PrincipalDep) -> Response:
    await analytics.capture(principal, await _capture_request(request))
    return Response(_OK, media_type="application/json")


for _path in POSTHOG_CAPTURE_PATHS:
    capture_router.add_api_route(
        _path,
        posthog_capture,
        methods=["POST"],
        summary=f"Capture events, PostHog-compatible ({_path})",
        openapi_extra=_BODY_DOC,
        response_description='{"status": 1} once the events are durably buffered',
    )


@capture_router.post(
    EVENTS_PATH,
    status_code=202,
    response_model=CaptureAccepted,
    openapi_extra=_BODY_DOC,
    summary="Capture events: {'events': [...]} or one event, with a client key",
)
async def capture_events(request: Request, analytics: AnalyticsDep, principal: PrincipalDep) -> Response:
    accepted = await analytics.capture(principal, await _capture_request(request))
    return JSONResponse({"accepted": accepted}, status_code=202)


@router.get("/trends", response_model=Trends, summary="Counts and unique users of an event over time")
async def trends(
    analytics: AnalyticsDep, principal: PrincipalDep, query: Annotated[TrendsQuery, Query()]
) -> Trends:
    return await analytics.trends(principal, query)


@router.get("/active-users", response_model=ActiveUsers, summary="DAU, rolling WAU and MAU")
async def active_users(
    analytics: AnalyticsDep, principal: PrincipalDep, query: Annotated[ActiveUsersQuery, Query()]
) -> ActiveUsers:
    return await analytics.active_users(principal, query)


@router.get("/funnel", response_model=Funnel, summary="Ordered steps within a conversion window")
async def funnel(
    analytics: AnalyticsDep, principal: PrincipalDep, query: Annotated[FunnelQuery, Query()]
) -> Funnel:
    return await analytics.funnel(principal, query)


@router.get("/retention", response_model=Retention, summary="First-time cohorts and who returns")
async def retention(
    analytics: AnalyticsDep, principal: PrincipalDep, query: Annotated[RetentionQuery, Query()]
) -> Retention:
    return await analytics.retention(principal, query)


@router.get("/top-products", response_model=TopProducts, summary="Most viewed and most added to cart")
async def top_products(
    analytics: AnalyticsDep, principal: PrincipalDep, query: Annotated[TopProductsQuery, Query()]
) -> TopProducts:
    return await analytics.top_products(principal, query)
