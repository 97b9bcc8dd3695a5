"""Structured logs with structlog: JSON lines in production, readable lines in development.

``SHELF_LOG_FORMAT=json`` writes one JSON object per line to stderr with at least ``time`` (ISO 8601,
UTC), ``level`` and ``event``; lines written while a request is served also carry ``request_id``,
``trace_id`` and ``principal`` (bound by the gateway), and the access line of each request
(``event="request"``, written by ``monitoring/middleware.py``) adds ``method``, ``path``,
``route``, ``status`` and ``duration_ms``. ``console`` (the default) writes the same fields as
aligned, coloured text when stderr is a terminal.

Records of the standard library's ``logging`` (uvicorn, SQLAlchemy, the OpenTelemetry exporter)
go through the same renderer, so a JSON log has no line that is not JSON.
"""

from __future__ import annotations

import logging
import sys

import structlog

_HANDLER_NAME = "shelf"


def configure_logging(log_format: str, level: str) -> None:
    numeric_level = logging.getLevelName(level.upper())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    _route_standard_logging(shared, renderer, numeric_level)


def _route_standard_logging(
    shared: list[structlog.types.Processor], renderer: structlog.types.Processor, level: int
) -> None:
    """One handler on the root logger that renders stdlib records like structlog's own lines."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:  # configured before (tests build many apps)
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's own loggers propagate to the root instead of printing in their own format;
    # its access log is replaced by Shelf's (one "request" line per request).
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
