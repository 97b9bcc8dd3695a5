"""Request ids: accept a sane incoming ``X-Request-ID``, else make one; echo it; log with it."""

from __future__ import annotations

import random
import re

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelf.gateway.context import request_id_var

_SANE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def request_id_for(incoming: bytes) -> str:
    """The incoming ``X-Request-ID`` when it is sane, else a new one (the fast path uses this too)."""
    value = incoming.decode("latin-1")
    # As long as a UUID's hex; unique, not secret, so Python's generator (no system call per request).
    return value if _SANE.match(value) else format(random.getrandbits(128), "032x")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(dict(scope["headers"]).get(b"x-request-id", b""))
        token = request_id_var.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            request_id_var.reset(token)
