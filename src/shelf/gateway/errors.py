"""The error boundary: an unexpected exception becomes a 500 problem document, and a log line.

It sits inside the request id, trace context and security headers middleware, so the 500 still
carries the request id, the ``traceparent`` and every security header, and the log line carries
both ids. Nothing of the exception reaches the client.
"""

from __future__ import annotations

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelf.gateway.problems import problem

log = structlog.get_logger(__name__)


class ErrorBoundaryMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled_error", path=scope.get("path"), method=scope.get("method"))
            if started:  # too late for another answer: let the server drop the connection
                raise
            response = problem(500, "an unexpected error occurred; it has been logged with this request id")
            await response(scope, receive, send)
