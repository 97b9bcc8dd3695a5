"""REST routes of feedback. Each one parses, calls one service function, shapes the response.

``POST /api/v1/feedback`` has two kinds of callers, told apart by how they authenticate:

- with ``Authorization: Bearer`` (a ``client`` key, or staff): an app, which names the person
  (``distinct_id``) and the flag variants it evaluated;
- without it: Shelf's own storefront pages, whose script sends the page's form token as
  ``X-CSRF-Token`` with the shopper cookie (``web.storefront.feedback.storefront_visitor``);
  an anonymous request without a valid token is refused (403).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import Response

from shelf.feedback.schemas import (
    AppFeedbackSubmission,
    FeedbackPage,
    FeedbackQuery,
    FeedbackRead,
    FeedbackTriage,
    Receipt,
    Summary,
    SummaryQuery,
)
from shelf.feedback.service import FeedbackService, etag_for
from shelf.gateway.auth import PrincipalDep
from shelf.gateway.http import MERGE_PATCH_TYPES, JSONResponse, parse_etags, read_json
from shelf.web.storefront.feedback import storefront_visitor

router = APIRouter(prefix="/api/v1/feedback", tags=["feedback"])
PATH = router.prefix


async def _feedback(request: Request) -> FeedbackService:
    service: FeedbackService = request.app.state.container.feedback
    return service


FeedbackDep = Annotated[FeedbackService, Depends(_feedback)]


@router.post(
    "",
    status_code=201,
    response_model=Receipt,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": AppFeedbackSubmission.model_json_schema()}},
        }
    },
    summary="Send feedback (a client key, or the storefront's page with its form token)",
)
async def submit_feedback(
    request: Request,
    feedback: FeedbackDep,
    principal: PrincipalDep,
    x_csrf_token: Annotated[str | None, Header(alias="X-CSRF-Token")] = None,
) -> Response:
    body = await read_json(request)
    user_agent = request.headers.get("user-agent")
    if "authorization" in request.headers:
        receipt = await feedback.submit_from_app(principal, body, user_agent=user_agent)
    else:
        visitor = storefront_visitor(request, x_csrf_token)
        receipt = await feedback.submit_from_storefront(principal, visitor, body, user_agent=user_agent)
    return JSONResponse(receipt.model_dump(mode="json"), status_code=201)


@router.get("", response_model=FeedbackPage, summary="List feedback, newest first, with filters")
async def list_feedback(
    feedback: FeedbackDep, principal: PrincipalDep, query: Annotated[FeedbackQuery, Query()]
) -> Response:
    page = await feedback.inbox(principal, query)
    return JSONResponse(page.model_dump(mode="json"))


@router.get("/summary", response_model=Summary, summary="Average rating, count, distribution and trend")
async def feedback_summary(
    feedback: FeedbackDep, principal: PrincipalDep, query: Annotated[SummaryQuery, Query()]
) -> Response:
    summary = await feedback.summary(principal, query)
    return JSONResponse(summary.model_dump(mode="json"))


@router.get("/{feedback_id}", response_model=FeedbackRead, summary="Read one piece of feedback")
async def get_feedback(feedback_id: uuid.UUID, feedback: FeedbackDep, principal: PrincipalDep) -> Response:
    found = await feedback.get(principal, feedback_id)
    return JSONResponse(found.model_dump(mode="json"), headers={"ETag": etag_for(found.version)})


@router.patch(
    "/{feedback_id}",
    response_model=FeedbackRead,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/merge-patch+json": {"schema": FeedbackTriage.model_json_schema()}},
        }
    },
    summary="Triage feedback: status and note (needs If-Match)",
)
async def triage_feedback(
    feedback_id: uuid.UUID,
    request: Request,
    feedback: FeedbackDep,
    principal: PrincipalDep,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> Response:
    principal.require_authenticated()
    body = await read_json(request, MERGE_PATCH_TYPES)
    triaged = await feedback.triage(principal, feedback_id, body, parse_etags(if_match))
    return JSONResponse(triaged.model_dump(mode="json"), headers={"ETag": etag_for(triaged.version)})
