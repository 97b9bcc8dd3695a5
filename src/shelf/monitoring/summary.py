"""A summary of this server's own metrics, for people: the admin console's System page reads it.

``SystemMetrics.summary()`` reads the same registry ``/metrics`` serves (every worker's, in
multiprocess mode) and compares it with what it read earlier: throughput, error rate and latency
percentiles cover the last ``window_seconds`` (since the process started, until a summary has been
taken that long ago). Percentiles are estimated from the latency histogram's buckets the way
Prometheus' ``histogram_quantile`` does, so they agree with the dashboards.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.samples import Sample

from shelf.monitoring import metrics

QUANTILES = (0.5, 0.95, 0.99)


@dataclass
class Snapshot:
    """Cumulative values at one moment (monotonic seconds)."""

    at: float
    requests: float = 0.0
    server_errors: float = 0.0  # 5xx
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative count
    cache_hits: float = 0.0
    cache_misses: float = 0.0
    events_dropped: float = 0.0
    # Gauges: the value now, not a count.
    in_flight: float = 0.0
    buffer_depth: float = 0.0
    pool_in_use: float = 0.0
    pool_max: float = 0.0


@dataclass(frozen=True)
class SystemSummary:
    window_seconds: float
    requests: int  # in the window
    requests_per_second: float
    error_rate: float | None  # share of 5xx answers in the window; None without requests
    latency_seconds: dict[str, float | None]  # "p50", "p95", "p99"
    cache_hit_ratio: float | None  # hits / lookups in the window; None without lookups
    cache_lookups: int
    events_dropped: int  # in the window
    event_buffer_depth: int
    requests_in_flight: int
    db_connections_in_use: int
    db_connections_max: int


def snapshot(registry: CollectorRegistry, at: float) -> Snapshot:
    taken = Snapshot(at=at)
    for family in registry.collect():
        for sample in family.samples:
            _add(taken, sample)
    return taken


def _add(taken: Snapshot, sample: Sample) -> None:
    name, labels, value = sample.name, sample.labels, sample.value
    if name == "shelf_http_requests_total":
        taken.requests += value
        if labels.get("status") == "5xx":
            taken.server_errors += value
    elif name == "shelf_http_request_duration_seconds_bucket":
        bound = float(labels["le"])
        taken.buckets[bound] = taken.buckets.get(bound, 0.0) + value
    elif name == "shelf_cache_hits_total":
        taken.cache_hits += value
    elif name == "shelf_cache_misses_total":
        taken.cache_misses += value
    elif name == "shelf_event_buffer_dropped_total":
        taken.events_dropped += value
    elif name == "shelf_http_requests_in_flight":
        taken.in_flight += value
    elif name == "shelf_event_buffer_depth":
        taken.buffer_depth += value
    elif name == "shelf_db_pool_connections_in_use":
        taken.pool_in_use += value
    elif name == "shelf_db_pool_connections_max":
        taken.pool_max += value


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """``histogram_quantile``: linear interpolation inside the bucket the rank falls in."""
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound  # beyond the last finite bucket: its bound is all that is known
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


class SystemMetrics:
    """Summaries of this server's metrics over a sliding window."""

    def __init__(
        self,
        registry: Callable[[], CollectorRegistry] = metrics.registry,
        *,
        window_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._window = window_seconds
        self._clock = clock
        self._started = clock()
        self._history: deque[Snapshot] = deque(maxlen=1024)

    def summary(self) -> SystemSummary:
        now = snapshot(self._registry(), self._clock())
        baseline = self._baseline(now.at)
        self._history.append(now)
        return _compare(baseline, now)

    def _baseline(self, now: float) -> Snapshot:
        """The oldest snapshot still inside the window, or the process start (all zeros)."""
        while len(self._history) > 1 and now - self._history[1].at >= self._window:
            self._history.popleft()
        if self._history and now - self._history[0].at <= self._window:
            return self._history[0]
        if self._history:  # the only one left is older than the window: still the best baseline
            return self._history[0]
        return Snapshot(at=self._started)


def _compare(before: Snapshot, now: Snapshot) -> SystemSummary:
    elapsed = max(now.at - before.at, 1e-9)
    requests = now.requests - before.requests
    lookups = (now.cache_hits - before.cache_hits) + (now.cache_misses - before.cache_misses)
    buckets = {bound: count - before.buckets.get(bound, 0.0) for bound, count in now.buckets.items()}
    return SystemSummary(
        window_seconds=round(elapsed, 3),
        requests=int(requests),
        requests_per_second=requests / elapsed,
        error_rate=(now.server_errors - before.server_errors) / requests if requests > 0 else None,
        latency_seconds={f"p{round(q * 100)}": quantile(q, buckets) for q in QUANTILES},
        cache_hit_ratio=(now.cache_hits - before.cache_hits) / lookups if lookups > 0 else None,
        cache_lookups=int(lookups),
        events_dropped=int(now.events_dropped - before.events_dropped),
        event_buffer_depth=int(now.buffer_depth),
        requests_in_flight=int(now.in_flight),
        db_connections_in_use=int(now.pool_in_use),
        db_connections_max=int(now.pool_max),
    )


def names_read() -> Iterable[str]:
    """The metric families a summary reads, as ``/metrics`` names them (a test checks each is there)."""
    return (
        "shelf_http_requests_total",
        "shelf_http_request_duration_seconds",
        "shelf_cache_hits_total",
        "shelf_cache_misses_total",
        "shelf_event_buffer_dropped_total",
        "shelf_http_requests_in_flight",
        "shelf_event_buffer_depth",
        "shelf_db_pool_connections_in_use",
        "shelf_db_pool_connections_max",
    )
