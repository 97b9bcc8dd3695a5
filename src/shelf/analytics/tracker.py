"""What the first-party tracker (``web/static/js/tracker.js``) may send, and how it becomes events.

The tracker posts to ``POST /storefront/events`` (``web/storefront/events.py``) with the shopper
cookie and the page's form token; the route has already decided who the visitor is. Here the batch
is checked more strictly than an SDK's: only the tracker's own events, a few dozen at a time, each
with its ``uuid`` (a retried beacon is stored once) and ``offset`` (milliseconds before sending:
the browser's clock is trusted for durations only). Whatever the browser says about who it is
(``distinct_id``, ``$anon_distinct_id``, ``$set``) is dropped: the server's distinct id is the only one.
"""

from __future__ import annotations

from typing import Any

import orjson

from shelf.analytics.capture import Envelope
from shelf.gateway.problems import MalformedBody
from shelf.platform.errors import InvalidInput

TRACKER_EVENTS = frozenset({"$pageview", "$pageleave", "product_viewed", "search", "add_to_cart"})
MAX_TRACKER_EVENTS = 50  # per beacon; the tracker flushes every second and at 20 queued
MAX_TRACKER_BYTES = 64 * 1024  # the whole request body
MAX_OFFSET_MS = 24 * 3600 * 1000
_IDENTITY_PROPERTIES = ("distinct_id", "$anon_distinct_id", "$set", "$set_once", "token", "$token")


def tracker_envelope(batch: str, distinct_id: str) -> Envelope:
    """The tracker's JSON batch as an ``Envelope`` of events by ``distinct_id``, or why not."""
    try:
        events = orjson.loads(batch)
    except orjson.JSONDecodeError as error:
        raise MalformedBody(f"'batch' is not valid JSON: {error}") from None
    if not isinstance(events, list):
        raise MalformedBody("'batch' must be a JSON list of events")
    if len(events) > MAX_TRACKER_EVENTS:
        raise InvalidInput(
            f"a tracker batch holds at most {MAX_TRACKER_EVENTS} events",
            [{"field": "batch", "message": f"{len(events)} events"}],
        )
    errors: list[dict[str, str]] = []
    checked: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        if not isinstance(event, dict) or event.get("event") not in TRACKER_EVENTS:
            errors.append({"field": f"batch[{index}].event", "message": "is not an event the tracker sends"})
            continue
        properties = event.get("properties")
        if not isinstance(properties, dict):
            properties = {}
        kept = {key: value for key, value in properties.items() if key not in _IDENTITY_PROPERTIES}
        offset = event.get("offset")
        checked.append(
            {
                "event": event["event"],
                "uuid": event.get("uuid"),
                "distinct_id": distinct_id,
                "offset": min(abs(offset), MAX_OFFSET_MS)
                if isinstance(offset, int) and not isinstance(offset, bool)
                else 0,
                "properties": kept | {"$lib": "shelf-tracker"},
            }
        )
    if errors:
        raise InvalidInput(f"{len(errors)} of {len(events)} events are refused; none was stored", errors[:50])
    return Envelope(events=checked, token=None, sent_at_ms=None)
