"""What a capture request says: its body decoded, its key found, its events checked and normalised.

PostHog's SDKs send the same events in several shapes (read from their source):

- posthog-python: ``POST /batch/`` with ``{"api_key", "batch": [...], "sent_at", "historical_migration"}``
  as JSON, gzipped with ``Content-Encoding: gzip`` when ``gzip=True``.
- posthog-js: ``POST /e/`` (or ``/i/v0/e/``) with a JSON array of events (or one event), the key in
  each event's ``properties.token``, ``?compression=gzip-js`` with a gzipped ``text/plain`` body,
  ``?compression=base64`` with a form body ``data=<base64 of the JSON>``, or, in old releases,
  ``compression=lz64`` (lz-string). ``?_=<ms>`` is when the batch was sent. Batched events carry
  ``offset`` (milliseconds before sending) instead of ``timestamp``.
- ``/capture/``: one event, with ``api_key`` or ``token`` beside it.

Nothing here uses pydantic per event: at tens of thousands of events a second, a plain loop over
dicts is several times cheaper, and the checks are few and explicit.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson

from shelf.analytics.lzstring import LzStringError, decompress_from_base64
from shelf.gateway.problems import MalformedBody
from shelf.platform.errors import InvalidInput
from shelf.platform.ids import new_id

MAX_NAME_LENGTH = 200  # event names and distinct ids, as PostHog
MAX_PRODUCT_ID_LENGTH = 100
FORM_TYPE = "application/x-www-form-urlencoded"
GZIP_MAGIC = b"\x1f\x8b"
_BASE64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
_BASE64_IN_FORM = re.compile(r"[A-Za-z0-9+/ ]+={0,3}")
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MIN_TIMESTAMP_MS = 946_684_800_000  # 2000-01-01: older is a client bug, not an event
FUTURE_TOLERANCE_MS = 23 * 3600 * 1000  # beyond this, a client clock is wrong: the event is "now"
TOKEN_FIELDS = ("api_key", "token", "$token")

# A stored event: (uuid, event, distinct_id, timestamp in ms since the epoch (UTC),
# properties as JSON text, product_id or None). Plain tuples: they cross the buffer by the
# hundred thousand, and are what COPY and executemany take.
Row = tuple[str, str, str, int, str, str | None]


@dataclass(frozen=True)
class Limits:
    max_events: int = 5_000  # per request
    max_decompressed_bytes: int = 8 * 1024 * 1024
    max_property_bytes: int = 32 * 1024  # one event's properties, as JSON
    max_property_depth: int = 8


@dataclass(frozen=True)
class Envelope:
    """A request's events, before they are checked, and what came with them."""

    events: list[Any]
    token: str | None
    sent_at_ms: int | None


def decode_body(
    body: bytes,
    *,
    content_type: str,
    content_encoding: str,
    compression: str | None,
    limit: int,
) -> Any:
    """The JSON a capture request carries, through whichever encoding its SDK chose."""
    if not body:
        raise MalformedBody("the request body is empty")
    media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    payload = body
    if media_type == FORM_TYPE and not payload.startswith(GZIP_MAGIC):
        form = parse_qs(body.decode("latin-1"), keep_blank_values=True)
        if "data" not in form:
            raise MalformedBody("a form body must carry the events in its 'data' field")
        compression = form["compression"][0] if form.get("compression") else compression
        data = form["data"][0]
        if _BASE64_IN_FORM.fullmatch(data):  # a '+' of base64 sent unescaped arrives as ' '
            data = data.replace(" ", "+")
        payload = data.encode("latin-1")
    scheme = (compression or "").lower()
    if "gzip" in content_encoding.lower() or scheme in ("gzip", "gzip-js") or payload.startswith(GZIP_MAGIC):
        payload = _gunzip(payload, limit)
    elif scheme in ("lz64", "lz-string"):
        try:
            payload = decompress_from_base64(payload.decode("latin-1"), limit).encode()
        except (LzStringError, UnicodeError) as error:
            raise MalformedBody(f"the lz64 body does not decode: {error}") from None
    elif scheme == "base64" or _looks_like_base64(payload):
        payload = _unbase64(payload)
    if _looks_like_base64(payload):  # legacy clients wrap once more
        payload = _unbase64(payload)
    if len(payload) > limit:
        raise MalformedBody(f"the decoded body is larger than {limit} bytes")
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        raise MalformedBody(f"the body is not valid JSON: {error}") from None


def _looks_like_base64(payload: bytes) -> bool:
    return len(payload) >= 4 and len(payload) % 4 == 0 and _BASE64.fullmatch(payload) is not None


def _unbase64(payload: bytes) -> bytes:
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedBody("the body is not valid base64") from None


def _gunzip(payload: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    try:
        data = inflater.decompress(payload, limit + 1)
    except zlib.error as error:
        raise MalformedBody(f"the body is not valid gzip: {error}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise MalformedBody(f"the decompressed body is larger than {limit} bytes")
    if not inflater.eof:
        raise MalformedBody("the gzip body is truncated")
    return data


def parse_envelope(payload: Any, *, query_sent_at_ms: int | None = None) -> Envelope:
    """Events, key and send time from any of the three shapes (batch object, array, one event)."""
    sent_at: Any = None
    token: str | None = None
    if isinstance(payload, list):
        events = payload
    elif isinstance(payload, dict) and "batch" in payload:
        events = payload["batch"]
        if not isinstance(events, list):
            raise MalformedBody("'batch' must be a list of events")
        token = _text_or_none(payload.get("api_key")) or _text_or_none(payload.get("token"))
        sent_at = payload.get("sent_at")
    elif isinstance(payload, dict) and "events" in payload:  # Shelf's own /api/v1/events
        events = payload["events"]
        if not isinstance(events, list):
            raise MalformedBody("'events' must be a list of events")
        sent_at = payload.get("sent_at")
    elif isinstance(payload, dict):
        events = [payload]
        sent_at = payload.get("sent_at")
    else:
        raise MalformedBody("the body must be an event, a list of events or {'batch': [...]}")
    if token is None:
        token = _event_token(events)
    sent_at_ms = _parse_time_ms(sent_at) if sent_at is not None else query_sent_at_ms
    return Envelope(events=events, token=token, sent_at_ms=sent_at_ms)


def query_sent_at(value: str | None) -> int | None:
    """posthog-js's ``?_=<milliseconds>`` (values in seconds, from old releases, are ignored)."""
    if value is None or not value.isdigit():
        return None
    ms = int(value)
    return ms if ms > 1_577_836_800_000 else None  # after 2020-01-01 in milliseconds


def _event_token(events: list[Any]) -> str | None:
    tokens = set()
    for event in events:
        if not isinstance(event, dict):
            continue
        properties = event.get("properties")
        for candidate in (
            *(event.get(field) for field in TOKEN_FIELDS),
            properties.get("token") if isinstance(properties, dict) else None,
        ):
            text = _text_or_none(candidate)
            if text:
                tokens.add(text)
                break
    if len(tokens) > 1:
        raise MalformedBody("the events of one request carry different API keys")
    return tokens.pop() if tokens else None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _parse_time_ms(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def normalise(envelope: Envelope, now_ms: int, limits: Limits) -> list[Row]:
    """Every event as a row, or ``InvalidInput`` naming each bad one (and then none is kept).

    A request is all or nothing: a 2xx means every event in it is stored, so a batch with one bad
    event is refused whole (422, with the index and reason of each bad event).
    """
    events = envelope.events
    if not events:
        raise InvalidInput("the request holds no events", [{"field": "batch", "message": "is empty"}])
    if len(events) > limits.max_events:
        raise InvalidInput(
            f"a request may hold at most {limits.max_events} events; send smaller batches",
            [{"field": "batch", "message": f"{len(events)} events"}],
        )
    skew_ms = now_ms - envelope.sent_at_ms if envelope.sent_at_ms is not None else None
    rows: list[Row] = []
    errors: list[dict[str, str]] = []
    for index, event in enumerate(events):
        try:
            rows.append(_row(event, now_ms, skew_ms, limits))
        except _Invalid as error:
            errors.append({"field": f"batch[{index}].{error.field}", "message": error.message})
    if errors:
        raise InvalidInput(
            f"{len(errors)} of {len(events)} events are invalid, so none was stored; see 'errors'",
            errors[:100],
        )
    return rows


class _Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _row(event: Any, now_ms: int, skew_ms: int | None, limits: Limits) -> Row:
    if not isinstance(event, dict):
        raise _Invalid("", "an event must be a JSON object")
    name = event.get("event")
    if not isinstance(name, str) or not name:
        raise _Invalid("event", "is required: the event's name, a non-empty string")
    if len(name) > MAX_NAME_LENGTH or "\x00" in name:
        raise _Invalid("event", f"must be at most {MAX_NAME_LENGTH} characters, without NUL")
    properties = event.get("properties")
    if properties is None:
        properties = {}
    elif not isinstance(properties, dict):
        raise _Invalid("properties", "must be a JSON object")
    distinct_id = _distinct_id(event, properties)
    event_uuid = _uuid(event.get("uuid"))
    timestamp = _timestamp(event, now_ms, skew_ms)
    if "token" in properties or "$set" in event or "$set_once" in event:
        properties = dict(properties)
        properties.pop("token", None)  # the key is a credential, not a property of the event
        for field in ("$set", "$set_once"):
            if isinstance(event.get(field), dict):
                properties[field] = event[field]
    if _deeper_than(properties, limits.max_property_depth):
        raise _Invalid("properties", f"may nest at most {limits.max_property_depth} levels deep")
    try:
        encoded = orjson.dumps(properties)
    except (TypeError, orjson.JSONEncodeError) as error:
        raise _Invalid("properties", f"cannot be stored: {error}") from None
    if len(encoded) > limits.max_property_bytes:
        raise _Invalid("properties", f"are {len(encoded)} bytes as JSON; at most {limits.max_property_bytes}")
    if b"\\u0000" in encoded:
        raise _Invalid("properties", "contain a NUL character (\\u0000), which cannot be stored")
    product = properties.get("product_id")
    product_id = str(product)[:MAX_PRODUCT_ID_LENGTH] if isinstance(product, str | int) and product else None
    return (event_uuid, name, distinct_id, timestamp, encoded.decode(), product_id)


def _distinct_id(event: dict[str, Any], properties: dict[str, Any]) -> str:
    value = event.get("distinct_id")
    if value is None or value == "":
        value = event.get("$distinct_id")
    if value is None or value == "":
        value = properties.get("distinct_id")
    if value is None or value == "" or isinstance(value, bool):
        raise _Invalid("distinct_id", "is required: who did it (a non-empty string)")
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if "\x00" in text:
        raise _Invalid("distinct_id", "must not contain NUL")
    return text[:MAX_NAME_LENGTH]


def _uuid(value: Any) -> str:
    if value is None or value == "":
        return str(new_id())
    if type(value) is str and _CANONICAL_UUID.fullmatch(value):
        return value  # the common case, without building a UUID object
    if not isinstance(value, str):
        raise _Invalid("uuid", "must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise _Invalid("uuid", f"{value[:60]!r} is not a UUID") from None


def _timestamp(event: dict[str, Any], now_ms: int, skew_ms: int | None) -> int:
    """When it happened by the server's clock (PostHog's rules).

    With ``sent_at``, the client's clock is trusted for durations only: the event happened
    ``sent_at - timestamp`` before the request arrived. Else ``offset`` (milliseconds before
    sending), else the timestamp as given, else now.
    """
    raw = event.get("timestamp")
    if raw is not None:
        if not isinstance(raw, str):
            raise _Invalid("timestamp", "must be an ISO 8601 string")
        parsed = _parse_time_ms(raw)
        if parsed is None:
            raise _Invalid("timestamp", f"{raw[:60]!r} is not an ISO 8601 date and time")
        if skew_ms is not None and not (event.get("properties") or {}).get("$ignore_sent_at"):
            parsed += skew_ms
    elif isinstance(event.get("offset"), int) and not isinstance(event.get("offset"), bool):
        parsed = now_ms - abs(event["offset"])
    else:
        parsed = now_ms
    if parsed < MIN_TIMESTAMP_MS:
        raise _Invalid("timestamp", "is before the year 2000")
    if parsed > now_ms + FUTURE_TOLERANCE_MS:
        return now_ms
    return parsed


def _deeper_than(value: dict[str, Any], limit: int) -> bool:
    for child in value.values():
        if isinstance(child, dict | list):
            break
    else:
        return False  # flat, as most properties are
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        children = current.values() if isinstance(current, dict) else current
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def now_ms(clock_now: datetime) -> int:
    return int(clock_now.timestamp() * 1000)
