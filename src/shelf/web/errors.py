"""Errors on pages are pages: a browser that asked for HTML gets a friendly HTML page.

The status of each error is still decided in one place (``gateway.problems``): every handler it
installs is wrapped here, and its problem document becomes a page when the request is a page
request: not under ``/api/`` (nor a machine endpoint), and from a client that accepts HTML, as a
browser's navigation does. Everything else, ``/api/`` above all, keeps ``application/problem+json``.

An unexpected exception in a page route is answered by ``PageRoute`` with the 500 page (and
logged, as the gateway's error boundary would); everywhere else the boundary answers with a 500
problem.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shelf.gateway.context import request_id_var
from shelf.gateway.problems import PROBLEM_JSON
from shelf.platform.errors import DomainError
from shelf.web.pages import current_pages

log = structlog.get_logger(__name__)

MACHINE_PATHS = ("/api/", "/healthz", "/openapi.json", "/docs", "/static/")
# What a shopper reads for each status; the problem's own detail is shown under it when it helps.
TITLES = {
    400: "That request did not make sense",
    401: "Please sign in",
    403: "You can't do that here",
    404: "We couldn't find that page",
    405: "That doesn't work here",
    409: "Someone else changed this first",
    413: "That was too much to send",
    422: "Some of that needs fixing",
    429: "Slow down a little",
    500: "Something went wrong on our side",
}
# Details of these statuses are written for API clients, not shoppers; the title says enough.
GENERIC = {404, 405, 500}

Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def wants_page(request: Request) -> bool:
    path = request.url.path
    if any(path == prefix.rstrip("/") or path.startswith(prefix) for prefix in MACHINE_PATHS):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, detail: str | None = None) -> Response:
    pages = current_pages(request)
    context = {
        "status": status,
        "title": TITLES.get(status, HTTPStatus(status).phrase),
        "detail": None if status in GENERIC else detail,
        "request_id": request_id_var.get(),
    }
    return pages.render(request, pages.error_template(request.url.path), context, status_code=status)


def _as_page(handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        answer = handler(request, exc)
        response = await answer if inspect.isawaitable(answer) else answer
        if not wants_page(request) or response.media_type != PROBLEM_JSON:
            return response
        detail = json.loads(bytes(response.body)).get("detail")
        page = error_page(request, response.status_code, detail if isinstance(detail, str) else None)
        for name in ("retry-after", "allow"):
            if name in response.headers:
                page.headers[name] = response.headers[name]
        return page

    return handle


def install_page_errors(app: FastAPI) -> None:
    """Wrap the problem handlers already installed, so page requests get pages."""
    for key, handler in list(app.exception_handlers.items()):
        app.add_exception_handler(key, _as_page(handler))


_HANDLED = (StarletteHTTPException, DomainError, ValidationError, RequestValidationError)


class PageRoute(APIRoute):
    """A route of a page: an unexpected exception becomes the 500 page instead of a problem.

    ``passthrough``: the exceptions left to the app's exception handlers (a subclass may add its own).
    """

    passthrough: tuple[type[Exception], ...] = _HANDLED

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        passthrough = self.passthrough

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except passthrough:
                raise  # the problem handlers map these; _as_page turns them into pages
            except Exception:
                log.exception("unhandled_error", path=request.url.path, method=request.method)
                return error_page(request, 500)

        return page_handler
