"""The console's feedback inbox: ``/admin/feedback`` lists and filters feedback with its context and
a summary (average, count, distribution, weekly trend); ``/admin/feedback/{id}`` shows one, and
its form triages it (editors; viewers read). A triage names the version it was made on: when
someone else triaged meanwhile, the page says so and shows what they saved (409).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, Response

from shelf.feedback.models import FeedbackStatus
from shelf.feedback.schemas import MAX_NOTE, FeedbackQuery, SummaryQuery
from shelf.feedback.service import FeedbackService
from shelf.gateway.problems import field_errors
from shelf.identity.permissions import Permission, Principal
from shelf.platform.errors import InvalidInput, NotFound, PreconditionFailed
from shelf.web.admin.guard import AdminRoute, requires, safe_next
from shelf.web.admin.rendering import render, see_other

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)
FeedbackReader = Annotated[Principal, Depends(requires(Permission.FEEDBACK_READ))]
FeedbackTriager = Annotated[Principal, Depends(requires(Permission.FEEDBACK_TRIAGE))]
FormValue = Annotated[str | None, Form()]
INBOX = "/admin/feedback"
STATUS_LABELS = {
    FeedbackStatus.NEW: "New",
    FeedbackStatus.PLANNED: "Planned",
    FeedbackStatus.DONE: "Done",
    FeedbackStatus.WONT_DO: "Won't do",
}
TREND_WEEKS = 12
FILTERS = ("product", "rating", "status", "since", "until", "q")  # the form's fields, kept across pages


def _service(request: Request) -> FeedbackService:
    service: FeedbackService = request.app.state.container.feedback
    return service


ServiceDep = Annotated[FeedbackService, Depends(_service)]


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _filters(params: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The inbox's form (dates as days, inclusive) as ``FeedbackQuery`` fields, and its problems."""
    fields: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in ("product", "rating", "status", "q", "cursor"):
        if params.get(name):
            fields[name] = params[name]
    for name, shift in (("since", 0), ("until", 1)):  # "until 5 March" includes that day
        if params.get(name):
            day = _day(params[name])
            if day is None:
                errors[name] = "Enter a date such as 2026-03-05."
            else:
                fields[name] = datetime.combine(day + timedelta(days=shift), datetime.min.time(), tzinfo=UTC)
    return fields, errors


@router.get(INBOX)
async def inbox(request: Request, principal: FeedbackReader, service: ServiceDep) -> Response:
    params = dict(request.query_params)
    fields, errors = _filters(params)
    page = None
    if not errors:
        try:
            page = await service.inbox(principal, FeedbackQuery.model_validate(fields))
        except (ValidationError, InvalidInput) as refused:
            problems = field_errors(refused) if isinstance(refused, ValidationError) else refused.errors
            errors = {item["field"]: item["message"] for item in problems}
    product = fields.get("product") if "product" not in errors else None
    summary = await service.summary(principal, SummaryQuery(product=_uuid(product), weeks=TREND_WEEKS))
    filters = {
        k: v for k, v in params.items() if k in {"product", "rating", "status", "since", "until", "q"} and v
    }
    return render(
        request,
        "admin/feedback/inbox.html",
        {
            "page": page,
            "errors": errors,
            "filters": filters,
            "products": await service.products(principal),
            "summary": summary,
            "summary_product": _uuid(product),
            "statuses": STATUS_LABELS,
            "may_triage": principal.can(Permission.FEEDBACK_TRIAGE),
            "saved": params.get("saved"),
            "here": INBOX + (f"?{urlencode(filters)}" if filters else ""),
            "next_url": f"{INBOX}?{urlencode(filters | {'cursor': page.next_cursor})}"
            if page and page.next_cursor
            else None,
            "max_note": MAX_NOTE,
        },
        status_code=422 if errors else 200,
    )


def _uuid(value: object) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


@router.get(INBOX + "/{feedback_id}")
async def item(
    request: Request, feedback_id: str, principal: FeedbackReader, service: ServiceDep
) -> Response:
    found = await service.get(principal, _feedback_id(feedback_id))
    return _item_page(request, principal, found, saved=request.query_params.get("saved") == str(found.id))


def _feedback_id(raw: str) -> uuid.UUID:
    wanted = _uuid(raw)
    if wanted is None:
        raise NotFound("no feedback with this id exists")
    return wanted


def _item_page(
    request: Request,
    principal: Principal,
    found: Any,
    *,
    conflict: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "admin/feedback/item.html",
        {
            "item": found,
            "statuses": STATUS_LABELS,
            "may_triage": principal.can(Permission.FEEDBACK_TRIAGE),
            "conflict": conflict,
            "errors": errors or {},
            "values": values or {},
            "saved": saved,
            "here": f"{INBOX}/{found.id}",
            "max_note": MAX_NOTE,
        },
        status_code=status_code,
    )


@router.post(INBOX + "/{feedback_id}")
async def triage(
    request: Request,
    feedback_id: str,
    principal: FeedbackTriager,
    service: ServiceDep,
    *,
    status: FormValue = None,
    note: FormValue = None,
    version: FormValue = None,
    next_url: Annotated[str | None, Form(alias="next")] = None,
) -> Response:
    wanted = _feedback_id(feedback_id)
    back = safe_next(next_url)
    if back != INBOX and not back.startswith((INBOX + "?", INBOX + "/")):
        back = INBOX
    change = {"status": status or None, "note": note if note is not None else None}
    if_match = [f'"{version}"'] if version and version.isdecimal() else None
    try:
        await service.triage(principal, wanted, {k: v for k, v in change.items() if v is not None}, if_match)
    except PreconditionFailed:
        current = await service.get(principal, wanted)
        message = (
            f"{current.triaged_by or 'Someone'} triaged this feedback while you were looking at it. "
            "Here is what they saved; your change was not saved: make it again if it still applies."
        )
        typed = {"status": status or "", "note": note or ""}
        return _item_page(request, principal, current, conflict=message, values=typed, status_code=409)
    except (ValidationError, InvalidInput) as refused:
        problems = field_errors(refused) if isinstance(refused, ValidationError) else refused.errors
        current = await service.get(principal, wanted)
        errors = {item["field"]: item["message"] for item in problems}
        typed = {"status": status or "", "note": note or ""}
        return _item_page(request, principal, current, errors=errors, values=typed, status_code=422)
    separator = "&" if "?" in back else "?"
    return see_other(f"{back}{separator}saved={wanted}")
