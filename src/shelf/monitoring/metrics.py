"""Every Prometheus metric Shelf exports, declared once, and the text that ``/metrics`` serves.

Other packages import the objects they update (``CACHE_HITS.labels(cache="memory").inc()``); nothing
else creates metrics, so the names, labels and help texts stay consistent and
``tests/integration/monitoring`` can check them all with ``promtool check metrics``.

Labels are always bounded: routes are templates (``/api/v1/products/{product_id}``), never raw
paths; statuses are classes (``2xx``); flags and rate-limit policies are names an admin defines.

With ``shelf serve --workers N`` (N > 1) every worker is its own process: ``serve`` then points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the workers start, each worker writes its
values there, and a scrape of any worker reads them all (prometheus-client's multiprocess mode), so
one scrape sees the whole server. Gauges say how workers combine (``multiprocess_mode``); process
and garbage-collector metrics are not exported in that mode.
"""

from __future__ import annotations

import os
import platform
from typing import Final

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from shelf import __version__

MULTIPROCESS_DIR_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
# The classic text format every Prometheus 2.x reads (the names need none of 1.0.0's escaping).
CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4

# No "<name>_created" series: Prometheus would store one more series per counter and histogram for
# a timestamp no dashboard or alert uses.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated in prometheus-client

# Latency buckets in seconds. 0.25 s is the latency objective of the alert rules
# (deploy/prometheus/alerts.yaml): an objective must be a bucket boundary to be measured exactly.
LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED_ROUTE: Final = "unmatched"  # the route label of requests no route answers (404s)

# --- HTTP (monitoring/middleware.py) ---------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "shelf_http_requests",
    "HTTP requests answered, by method, route template and status class.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "shelf_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response body, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS_IN_FLIGHT = Gauge(
    "shelf_http_requests_in_flight",
    "HTTP requests being answered now.",
    multiprocess_mode="livesum",
)

# --- Cache (platform/cache/) and the gateway's fast path (gateway/fastpath.py) ---------------------
CACHE_HITS = Counter("shelf_cache_hits", "Cache lookups that found a value, by cache backend.", ["cache"])
CACHE_MISSES = Counter("shelf_cache_misses", "Cache lookups that found nothing, by cache backend.", ["cache"])
CACHE_ERRORS = Counter(
    "shelf_cache_errors", "Failed calls to a shared cache (Redis errors and timeouts).", ["cache"]
)
FAST_PATH_HITS = Counter(
    "shelf_fast_path_hits", "Requests the gateway's fast path answered from the response cache."
)
FAST_PATH_MISSES = Counter(
    "shelf_fast_path_misses",
    "Requests the fast path considered but passed on to the normal path (nothing cached for them).",
)

# --- Database pool (platform/db.py events) ----------------------------------------------------------
DB_POOL_IN_USE = Gauge(
    "shelf_db_pool_connections_in_use",
    "Database connections checked out of the pool now.",
    multiprocess_mode="livesum",
)
DB_POOL_OPEN = Gauge(
    "shelf_db_pool_connections_open",
    "Database connections open now, in use or idle in the pool.",
    multiprocess_mode="livesum",
)
DB_POOL_MAX = Gauge(
    "shelf_db_pool_connections_max",
    "The most database connections the pool may open (pool size plus overflow).",
    multiprocess_mode="livesum",
)

# --- Event buffer (analytics) -------------------------------------------------------------------------
EVENT_BUFFER_DEPTH = Gauge(
    "shelf_event_buffer_depth",
    "Analytics events accepted and waiting to be written.",
    multiprocess_mode="livesum",
)
EVENT_BUFFER_DROPPED = Counter(
    "shelf_event_buffer_dropped",
    "Analytics events dropped before they were written, by reason (full, invalid, write_failed...).",
    ["reason"],
)
EVENT_BUFFER_FLUSHED = Counter("shelf_event_buffer_flushed", "Analytics events written from the buffer.")

# --- Rate limits (gateway/ratelimit.py, gateway/auth.py, platform/ratelimit/) -----------------------
RATE_LIMIT_REJECTIONS = Counter(
    "shelf_rate_limit_rejections", "Requests refused with 429, by rate-limit policy.", ["policy"]
)
RATE_LIMIT_STORE_ERRORS = Counter(
    "shelf_rate_limit_store_errors",
    "Failed calls to the shared rate-limit store; requests were let through unchecked.",
)

# --- Feature flags --------------------------------------------------------------------------------------
FLAG_EVALUATIONS = Counter(
    "shelf_flag_evaluations",
    "Feature flag evaluations, by flag key, variant and OpenFeature reason (unknown keys count as flag '').",
    ["flag", "variant", "reason"],
)

# --- Feedback (feedback/service.py) -------------------------------------------------------------------
FEEDBACK_SUBMISSIONS = Counter(
    "shelf_feedback_submissions",
    "Feedback submissions answered as received, by outcome (stored, or honeypot: a bot's, not stored).",
    ["outcome"],
)

# --- Build ------------------------------------------------------------------------------------------------
BUILD_INFO = Gauge(
    "shelf_build_info",
    "Always 1; the labels say which Shelf and Python this process runs.",
    ["version", "python_version", "implementation"],
    multiprocess_mode="max",
)
BUILD_INFO.labels(
    version=__version__,
    python_version=platform.python_version(),
    implementation=platform.python_implementation(),
).set(1)


def multiprocess() -> bool:
    """Whether this process shares its metrics with sibling workers through files."""
    return bool(os.environ.get(MULTIPROCESS_DIR_VARIABLE))


def registry() -> CollectorRegistry:
    """What a scrape reads: this process's metrics, or every worker's in multiprocess mode."""
    if not multiprocess():
        return REGISTRY
    merged = CollectorRegistry()
    MultiProcessCollector(merged)  # type: ignore[no-untyped-call]  # unannotated in prometheus-client
    return merged


def exposition() -> bytes:
    """The Prometheus text format of ``registry()``."""
    return generate_latest(registry())


def status_class(status: int) -> str:
    return f"{status // 100}xx"
