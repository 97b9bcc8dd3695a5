"""What staff may read of this server's monitoring: the raw metrics and their summary."""

from __future__ import annotations

from shelf.identity.permissions import Permission, Principal
from shelf.monitoring import metrics
from shelf.monitoring.summary import SystemMetrics, SystemSummary


class MonitoringService:
    def __init__(self, system: SystemMetrics | None = None) -> None:
        self._system = system or SystemMetrics()

    def exposition(self, principal: Principal) -> bytes:
        """``/metrics`` in the Prometheus text format."""
        principal.require(Permission.METRICS_READ)
        return metrics.exposition()

    def summary(self, principal: Principal) -> SystemSummary:
        """Throughput, latency percentiles, error rate, cache hit ratio, buffer depth (the System page)."""
        principal.require(Permission.METRICS_READ)
        return self._system.summary()
