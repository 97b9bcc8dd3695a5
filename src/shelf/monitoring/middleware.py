"""Request telemetry, the outermost middleware: metrics, the access log line, and the request's span.

It wraps everything else, the gateway's response-cache fast path included, so every answer is
counted, timed, logged and traced, whichever layer gave it.

- **Metrics**: ``shelf_http_requests_total`` and ``shelf_http_request_duration_seconds`` by method
  and route *template* (``/api/v1/products/{product_id}``; ``unmatched`` when no route answers, so
  a scan of random URLs adds no series), status class, and the in-flight gauge.
- **Access log**: one ``request`` line per request with method, path, route, status, duration,
  principal, request id and trace id. The ids are read from the response's own ``X-Request-ID`` and
  ``traceparent``, so the line names what the client was told, whichever layer answered.
- **Tracing** (when ``Tracing`` is enabled): a SERVER span per request, continuing the caller's
  W3C ``traceparent`` (parsed by ``gateway.tracecontext``, which then echoes this span's id), named
  ``"<METHOD> <route template>"``. Database and Redis spans become its children.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelf.gateway.tracecontext import TraceContext, current_trace, parse_traceparent, parse_tracestate
from shelf.identity.permissions import Principal
from shelf.monitoring import metrics
from shelf.monitoring.tracing import Tracing

access_log = structlog.get_logger("shelf.access")


class RouteTemplates:
    """The route template a request was (or would have been) routed to.

    The router records the route it chose in ``scope["route"]``. A request answered before routing
    (the fast path, a 401 from authentication, a 429) has none, so the app's routes are matched here
    the way the router would; a request no route matches is ``unmatched``.
    """

    # Answers given before routing repeat the same few URLs (the fast path's hot products), so
    # their templates are remembered; the bound keeps a scan of random URLs from growing it.
    MAX_REMEMBERED = 4096

    def __init__(self, routes: Iterable[Any]) -> None:
        self._routes = routes
        self._flat: list[Any] | None = None
        self._remembered: dict[tuple[str, str, str], str] = {}

    def of(self, scope: Scope, request: Scope) -> str:
        """``scope`` as the app left it; ``request``: its type, method, path and root path as they came
        (routing rewrites a mount's ``root_path`` in place)."""
        route = scope.get("route")
        if route is not None:
            return _template(route)
        key = (request.get("method", ""), request.get("root_path", ""), request.get("path", ""))
        template = self._remembered.get(key)
        if template is None:
            template = self._match(request)
            if len(self._remembered) >= self.MAX_REMEMBERED:
                self._remembered.clear()
            self._remembered[key] = template
        return template

    def _match(self, request: Scope) -> str:
        partial: Any = None
        for candidate in self._flattened():
            match, _ = candidate.matches(request)
            if match is Match.FULL:
                return _template(candidate)
            if match is Match.PARTIAL and partial is None:
                partial = candidate
        return metrics.UNMATCHED_ROUTE if partial is None else _template(partial)

    def _flattened(self) -> list[Any]:
        if self._flat is None:  # the first request: every route has been added by then
            import fastapi.routing  # noqa: PLC0415 - only needed once

            expand = getattr(fastapi.routing, "iter_route_contexts", None)
            routes = list(self._routes)
            flat = expand(routes) if expand else routes
            self._flat = [getattr(route, "original_route", route) for route in flat]
        return self._flat


def _template(route: Any) -> str:
    path = str(getattr(route, "path", "")) or metrics.UNMATCHED_ROUTE
    return f"{path}/{{path}}" if isinstance(route, Mount) else path


class RequestTelemetryMiddleware:
    def __init__(self, app: ASGIApp, *, routes: Iterable[Any], tracing: Tracing) -> None:
        self.app = app
        self.routes = RouteTemplates(routes)
        self.tracing = tracing
        # prometheus-client's labels() validates and locks on every call; the children are few
        # (methods x route templates x status classes), so they are looked up once each.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request = {key: scope[key] for key in ("type", "method", "path", "root_path") if key in scope}
        status = 500  # unless a response starts: an exception escaped every layer below
        response_headers: list[tuple[bytes, bytes]] = []

        async def observing_send(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_headers = list(message.get("headers", ()))
            await send(message)

        span = span_token = trace_token = None
        if self.tracing.enabled:
            span, this_hop = self._start_span(scope)
            span_token = otel_context.attach(trace.set_span_in_context(span))
            trace_token = current_trace.set(this_hop)
        metrics.HTTP_REQUESTS_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, observing_send)
        finally:
            metrics.HTTP_REQUESTS_IN_FLIGHT.dec()
            duration = time.perf_counter() - started
            route = self.routes.of(scope, request)
            method = scope["method"]
            counted, timed = self._series_of(method, route, status)
            counted.inc()
            timed.observe(duration)
            if trace_token is not None:
                current_trace.reset(trace_token)
            if span is not None and span_token is not None:
                _finish_span(span, method, route, status)
                otel_context.detach(span_token)
            self._log(scope, route, status, duration, response_headers)

    def _series_of(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        key = (method, route, status // 100)
        series = self._series.get(key)
        if series is None:
            series = (
                metrics.HTTP_REQUESTS.labels(method, route, metrics.status_class(status)),
                metrics.HTTP_REQUEST_DURATION.labels(method, route),
            )
            self._series[key] = series
        return series

    def _start_span(self, scope: Scope) -> tuple[trace.Span, TraceContext]:
        """The request's span, and the ``TraceContext`` the gateway echoes (this span's ids)."""
        traceparents: list[str] = []
        tracestates: list[str] = []
        for name, raw in scope["headers"]:
            if name == b"traceparent":
                traceparents.append(raw.decode("latin-1"))
            elif name == b"tracestate":
                tracestates.append(raw.decode("latin-1"))
        parent_context = otel_context.Context()  # never a span left over in this task
        parent = parse_traceparent(traceparents[0]) if len(traceparents) == 1 else None
        state = None
        if parent is not None:
            state = parse_tracestate(tracestates)
            remote = trace.SpanContext(
                trace_id=int(parent.trace_id, 16),
                span_id=int(parent.parent_id, 16),
                is_remote=True,
                trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED if parent.sampled else 0),
                trace_state=trace.TraceState.from_header([state]) if state else trace.TraceState(),
            )
            parent_context = trace.set_span_in_context(trace.NonRecordingSpan(remote), parent_context)
        method = scope["method"]
        span = self.tracing.tracer.start_span(
            method,  # renamed "<METHOD> <route>" once the route is known
            context=parent_context,
            kind=trace.SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
                "network.protocol.version": scope.get("http_version", "1.1"),
            },
        )
        ids = span.get_span_context()
        this_hop = TraceContext(
            trace_id=format(ids.trace_id, "032x"),
            span_id=format(ids.span_id, "016x"),
            sampled=ids.trace_flags.sampled,
            parent_id=parent.parent_id if parent is not None else None,
            tracestate=state,
        )
        return span, this_hop

    def _log(
        self,
        scope: Scope,
        route: str,
        status: int,
        duration: float,
        response_headers: list[tuple[bytes, bytes]],
    ) -> None:
        if not access_log.is_enabled_for(logging.INFO):  # the line is filtered out: build nothing
            return
        request_id = trace_id = "-"
        for name, value in response_headers:
            if name.lower() == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name.lower() == b"traceparent":
                trace_id = value.decode("latin-1")[3:35]
        principal = scope.get("state", {}).get("principal")
        access_log.info(
            "request",
            method=scope["method"],
            path=scope["path"],
            route=route,
            status=status,
            duration_ms=round(duration * 1000, 3),
            principal=_principal_label(principal),
            request_id=request_id,
            trace_id=trace_id,
        )


def _principal_label(principal: object) -> str:
    """As the gateway binds it to log lines: ``kind:id`` (``api_key:<uuid>``, ``metrics_token:-``)."""
    if isinstance(principal, Principal) and principal.kind != "anonymous":
        return f"{principal.kind}:{principal.id or '-'}"
    return "anonymous"


def _finish_span(span: trace.Span, method: str, route: str, status: int) -> None:
    span.update_name(f"{method} {route}")
    if route != metrics.UNMATCHED_ROUTE:
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(trace.Status(trace.StatusCode.ERROR))
    span.end()
