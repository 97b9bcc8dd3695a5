"""Per-request values every layer may read (set by the gateway's middleware)."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
# The W3C trace id of this request (32 lowercase hex), set by gateway.tracecontext.
trace_id_var: ContextVar[str] = ContextVar("trace_id", default="-")
