"""W3C Trace Context (https://www.w3.org/TR/trace-context/): continue a caller's trace, or start one.

A valid incoming ``traceparent`` keeps its trace id and gets a new span id for this hop; an absent or
invalid one starts a new trace. The trace id goes into ``trace_id_var`` and every log line, and the
response echoes ``traceparent`` with this hop's span id so a client can find its request in the logs.

This module records no spans itself. When OpenTelemetry tracing is on (``monitoring/tracing.py``),
the outermost middleware (``monitoring/middleware.py``) parses the headers with this module's
functions, starts the request's span as a child of the caller's, and puts the span's ids in
``current_trace``; ``trace_of`` then returns them, so the ``traceparent`` echoed here names the
recorded span, and its sampled flag is the sampler's decision. Code that needs the trace reads
``trace_id_var`` or ``current_trace`` and never this module's parsing.

With tracing off, new traces are not sampled (flags ``00``): the sampled flag says "the caller may
have recorded trace data", and Shelf then records none, so ``01`` would be a false claim that asks
every downstream system to record everything. A caller's own sampling decision is passed on
unchanged.
"""

from __future__ import annotations

import random
import re
from contextvars import ContextVar
from dataclasses import dataclass

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelf.gateway.context import trace_id_var

_TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-(?P<parent_id>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})"
    r"(?P<future>-.*)?"
)
_SAMPLED = 0x01  # the only flag of level 1; the others must be zeroed when propagating
_TRACESTATE_MAX_LENGTH = 512  # the spec asks vendors to propagate at least this much
_TRACESTATE_MAX_MEMBERS = 32
_TRACESTATE_MEMBER = re.compile(
    r"[a-z0-9][a-z0-9_\-*/@]{0,255}="  # key, simple or tenant@system
    r"[\x21-\x2b\x2d-\x3c\x3e-\x7e](?:[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,254}[\x21-\x2b\x2d-\x3c\x3e-\x7e])?"
)


@dataclass(frozen=True)
class TraceParent:
    """The fields of an incoming ``traceparent`` this service understands."""

    trace_id: str
    parent_id: str
    sampled: bool


@dataclass(frozen=True)
class TraceContext:
    """The trace this request belongs to, and this hop's place in it."""

    trace_id: str
    span_id: str
    sampled: bool
    parent_id: str | None = None
    tracestate: str | None = None

    @property
    def traceparent(self) -> str:
        """This hop as a version-00 ``traceparent``: what a client or a downstream call receives."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


# The whole context, for a future outgoing HTTP client to propagate (tracestate included).
current_trace: ContextVar[TraceContext | None] = ContextVar("trace_context", default=None)


def parse_traceparent(value: str) -> TraceParent | None:
    """The parsed header, or ``None`` when it is invalid and the trace must restart.

    Version 00 must be exactly ``00-<32 hex>-<16 hex>-<2 hex>``, in lower case. A later version (any
    but ``ff``) may append fields after another dash; only the first four are read, as the spec says.
    """
    # Optional whitespace around a field value is not part of the value.
    match = _TRACEPARENT.fullmatch(value.strip(" \t"))
    if (
        match is None
        or match["version"] == "ff"
        or (match["version"] == "00" and match["future"] is not None)
        or match["trace_id"] == "0" * 32
        or match["parent_id"] == "0" * 16
    ):
        return None
    sampled = bool(int(match["flags"], 16) & _SAMPLED)
    return TraceParent(trace_id=match["trace_id"], parent_id=match["parent_id"], sampled=sampled)


def parse_tracestate(values: list[str]) -> str | None:
    """The combined ``tracestate`` to pass on, or ``None`` when it is oversized or malformed.

    Deliberately coarse: members are checked for shape, never interpreted, and a header that is too
    long is dropped whole rather than trimmed member by member.
    """
    combined = ",".join(values)
    if not combined.strip() or len(combined) > _TRACESTATE_MAX_LENGTH:
        return None
    members = [member.strip(" \t") for member in combined.split(",")]
    members = [member for member in members if member]
    if len(members) > _TRACESTATE_MAX_MEMBERS:
        return None
    if not all(_TRACESTATE_MEMBER.fullmatch(member) for member in members):
        return None
    return ",".join(members)


def _random_hex_id(size: int) -> str:
    # Ids must be unique and random (W3C Trace Context), not secret: Python's generator, as
    # OpenTelemetry's own id generator uses, instead of one os.urandom system call per id (two per
    # request, 4 % of a cached read's time in a py-spy profile).
    while True:  # an all-zero id is invalid; at 64 bits or more, looping twice never happens in practice
        candidate = random.getrandbits(size * 8)
        if candidate:
            return format(candidate, f"0{size * 2}x")


def new_span_id() -> str:
    return _random_hex_id(8)


def new_trace_id() -> str:
    return _random_hex_id(16)


def trace_from_headers(traceparents: list[str], tracestates: list[str]) -> TraceContext:
    """Continue the caller's trace when it sent exactly one valid ``traceparent``; else start anew."""
    parent = parse_traceparent(traceparents[0]) if len(traceparents) == 1 else None
    if parent is None:
        # The spec forbids reading tracestate without a valid traceparent.
        return TraceContext(trace_id=new_trace_id(), span_id=new_span_id(), sampled=False)
    return TraceContext(
        trace_id=parent.trace_id,
        span_id=new_span_id(),
        sampled=parent.sampled,
        parent_id=parent.parent_id,
        tracestate=parse_tracestate(tracestates),
    )


def trace_of(scope: Scope) -> TraceContext:
    """This request's trace, from its ``traceparent`` and ``tracestate`` headers (if any).

    When tracing is on, the request's OpenTelemetry span was started before the gateway ran
    (``monitoring/middleware.py``, which parses the headers with the functions above) and its ids
    are already in ``current_trace``: that is the trace, and every layer echoes the same one.
    """
    started = current_trace.get()
    if started is not None:
        return started
    traceparents: list[str] = []
    tracestates: list[str] = []
    for name, raw in scope["headers"]:
        if name == b"traceparent":
            traceparents.append(raw.decode("latin-1"))
        elif name == b"tracestate":
            tracestates.append(raw.decode("latin-1"))
    return trace_from_headers(traceparents, tracestates)


class TraceContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace = trace_of(scope)
        trace_token = current_trace.set(trace)
        trace_id_token = trace_id_var.set(trace.trace_id)
        structlog.contextvars.bind_contextvars(trace_id=trace.trace_id, span_id=trace.span_id)

        async def send_with_traceparent(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["traceparent"] = trace.traceparent
            await send(message)

        try:
            await self.app(scope, receive, send_with_traceparent)
        finally:
            structlog.contextvars.unbind_contextvars("trace_id", "span_id")
            trace_id_var.reset(trace_id_token)
            current_trace.reset(trace_token)
