"""Per-request values every layer may read (set by the gateway's middleware)."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
