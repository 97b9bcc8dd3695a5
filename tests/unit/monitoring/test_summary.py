"""The System page's summary: rates over a window, histogram percentiles, ratios."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shelf.monitoring.metrics import LATENCY_BUCKETS
from shelf.monitoring.summary import SystemMetrics, quantile


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Metrics:
    """The families the summary reads, in a registry of the test's own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "shelf_http_requests", "", ["method", "route", "status"], registry=self.registry
        )
        self.duration = Histogram(
            "shelf_http_request_duration_seconds",
            "",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.hits = Counter("shelf_cache_hits", "", ["cache"], registry=self.registry)
        self.misses = Counter("shelf_cache_misses", "", ["cache"], registry=self.registry)
        self.depth = Gauge("shelf_event_buffer_depth", "", registry=self.registry)
        self.pool_max = Gauge("shelf_db_pool_connections_max", "", registry=self.registry)

    def serve(self, count: int, seconds: float, status: str = "2xx", route: str = "/a") -> None:
        for _ in range(count):
            self.requests.labels("GET", route, status).inc()
            self.duration.labels("GET", route).observe(seconds)


def test_quantiles_interpolate_like_histogram_quantile() -> None:
    buckets = {0.1: 50.0, 0.25: 90.0, 0.5: 100.0, float("inf"): 100.0}
    assert quantile(0.5, buckets) == pytest.approx(0.1)
    assert quantile(0.7, buckets) == pytest.approx(0.1 + 0.15 * (70 - 50) / 40)
    assert quantile(0.99, buckets) == pytest.approx(0.25 + 0.25 * (99 - 90) / 10)
    assert quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None
    assert quantile(0.99, {0.1: 1.0, float("inf"): 10.0}) == 0.1  # beyond the last bound


def test_a_summary_covers_the_window_since_the_last_one() -> None:
    metrics, clock = Metrics(), Clock()
    system = SystemMetrics(lambda: metrics.registry, window_seconds=300, clock=clock)
    metrics.serve(90, 0.004)
    metrics.serve(10, 0.4, status="5xx")
    metrics.hits.labels("memory").inc(3)
    metrics.misses.labels("memory").inc(1)
    metrics.depth.set(7)
    metrics.pool_max.set(20)
    clock.now += 10
    first = system.summary()
    assert first.requests == 100
    assert first.requests_per_second == pytest.approx(10.0)
    assert first.error_rate == pytest.approx(0.1)
    assert first.cache_hit_ratio == pytest.approx(0.75)
    assert first.latency_seconds["p50"] is not None
    assert first.latency_seconds["p50"] <= 0.005
    assert first.latency_seconds["p99"] is not None
    assert 0.25 < first.latency_seconds["p99"] <= 0.5
    assert first.event_buffer_depth == 7
    assert first.db_connections_max == 20

    clock.now += 20
    metrics.serve(40, 0.02)
    second = system.summary()  # only what happened since the first
    assert second.window_seconds == pytest.approx(20.0)
    assert second.requests == 40
    assert second.latency_seconds["p50"] is not None
    assert 0.01 < second.latency_seconds["p50"] <= 0.025
    clock.now += 5
    third = system.summary()
    assert third.requests == 40  # baseline: the first summary, 25 s ago (still inside the window)
    assert third.error_rate == 0
    assert third.cache_hit_ratio is None  # no lookups in the window


def test_old_snapshots_leave_the_window() -> None:
    metrics, clock = Metrics(), Clock()
    system = SystemMetrics(lambda: metrics.registry, window_seconds=60, clock=clock)
    for _ in range(10):
        metrics.serve(6, 0.01)
        clock.now += 10
        system.summary()
    latest = system.summary()
    assert latest.window_seconds <= 60
    assert latest.requests_per_second == pytest.approx(0.6, rel=0.2)
