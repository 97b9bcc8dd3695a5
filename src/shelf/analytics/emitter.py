"""How other services record server-side events (``product_created``, ...), without knowing how
events are buffered or stored. ``AnalyticsService`` is the real one; ``NullEmitter`` records
nothing (the default where analytics is not wired, e.g. in unit tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class EventEmitter(Protocol):
    async def emit(self, event: str, distinct_id: str, properties: Mapping[str, Any]) -> None:
        """Record the event durably, or log why not; never raise into the caller's work."""
        ...


class NullEmitter:
    async def emit(self, event: str, distinct_id: str, properties: Mapping[str, Any]) -> None:
        return None
