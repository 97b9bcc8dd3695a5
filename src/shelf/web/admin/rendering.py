"""Rendering console pages: the shared ``Pages`` environment, never cached, and redirects after posts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.responses import HTMLResponse, RedirectResponse

from shelf.web.admin.guard import NO_STORE
from shelf.web.pages import current_pages


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """``Pages.render`` with ``Cache-Control: no-store``; the template extends ``admin/layout.html``."""
    pages = current_pages(request)
    headers = NO_STORE | (headers or {})
    return pages.render(request, template, context, status_code=status_code, headers=headers)


def see_other(location: str) -> RedirectResponse:
    """The answer to a form post that worked (Post/Redirect/Get): reloading the page posts nothing."""
    return RedirectResponse(location, status_code=303, headers=NO_STORE)


def sentence(text: str) -> str:
    """A service's message (``"the product changed since you read it"``) as a sentence on a page."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def when(moment: datetime | str | None) -> str:
    """A time as staff read it: ``2026-11-26 14:05 UTC`` (Shelf keeps every time in UTC)."""
    if moment is None:
        return "never"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
