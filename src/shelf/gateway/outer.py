"""FastAPI with layers of Shelf's own outside FastAPI's.

FastAPI wraps every user middleware in three layers of its own (Starlette's
``ServerErrorMiddleware``, its exception telemetry and its body-size limit), and each costs a
coroutine and a wrapped ``send`` per request. An answer that never reaches FastAPI (the
response-cache fast path) need not pay for them: ``add_outer_middleware`` puts a layer outside
them. Such a layer runs without FastAPI's error handling, so it must not let an exception escape
before its answer starts (``gateway.fastpath`` sends the request on its normal way instead).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp


class LayeredFastAPI(FastAPI):
    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.outer_middleware: list[Middleware] = []

    def add_outer_middleware(self, middleware_class: Any, **options: Any) -> None:
        """As ``add_middleware``: the last added runs first, and before all of FastAPI's stack."""
        if self.middleware_stack is not None:
            raise RuntimeError("Cannot add middleware after an application has started")
        self.outer_middleware.insert(0, Middleware(middleware_class, **options))

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        for middleware_class, args, options in reversed(self.outer_middleware):
            app = middleware_class(app, *args, **options)
        return app
