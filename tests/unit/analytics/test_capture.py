"""Decoding capture bodies and checking events, without a server (capture.py, lzstring.py)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from typing import Any

import pytest

from shelf.analytics.capture import Limits, decode_body, normalise, parse_envelope, query_sent_at
from shelf.analytics.lzstring import LzStringError, decompress_from_base64
from shelf.gateway.problems import MalformedBody
from shelf.platform.errors import InvalidInput

# Made by lz-string 1.5.0's compressToBase64 (the library old posthog-js used for lz64).
LZ_ORIGINAL = (
    '[{"event":"$pageview","properties":{"token":"KEY","distinct_id":"anon-1","title":"Café ☕ 𝄞"}}]'
)
LZ_COMPRESSED = (
    "NobwRApgbhB2AuYBcYAkAHAhgc2gSwgHcwAaMdAJwHt0IL4CBnZceKgazmTAGkBRAJqkwAEzyMGsAMbwA+nhHdMsKrAC0ARmEN4AGwj"
    "cAwpgBmAS4AEgVDILgFg3AeLtgAvk4C6QA==="
)
NOW = 1_780_000_000_000  # 2026-05-28, in ms
EVENTS = [{"event": "e", "distinct_id": "d", "properties": {"token": "KEY"}}]


def decode(body: bytes, **options: Any) -> Any:
    defaults: dict[str, Any] = {
        "content_type": "application/json",
        "content_encoding": "",
        "compression": None,
    }
    return decode_body(body, **(defaults | options), limit=1024 * 1024)


def test_lz64_matches_the_reference_library() -> None:
    assert decompress_from_base64(LZ_COMPRESSED, 10_000) == LZ_ORIGINAL
    with pytest.raises(LzStringError):
        decompress_from_base64(LZ_COMPRESSED, 20)  # expands beyond the cap
    with pytest.raises(LzStringError):
        decompress_from_base64("not*lz", 100)


@pytest.mark.parametrize(
    ("body", "options"),
    [
        (json.dumps(EVENTS).encode(), {}),
        (gzip.compress(json.dumps(EVENTS).encode()), {"content_encoding": "gzip"}),
        (
            gzip.compress(json.dumps(EVENTS).encode()),
            {"compression": "gzip-js", "content_type": "text/plain"},
        ),
        (gzip.compress(json.dumps(EVENTS).encode()), {}),  # no hint: the gzip magic bytes say it
        (zlib.compress(json.dumps(EVENTS).encode()), {"content_encoding": "gzip"}),  # zlib header too
        (base64.b64encode(json.dumps(EVENTS).encode()), {}),  # a bare base64 body
        (
            b"data="
            + base64.b64encode(json.dumps(EVENTS).encode()).replace(b"+", b"%2B").replace(b"=", b"%3D"),
            {"content_type": "application/x-www-form-urlencoded", "compression": "base64"},
        ),
        (b"data=" + json.dumps(EVENTS).encode(), {"content_type": "application/x-www-form-urlencoded"}),
    ],
    ids=["json", "gzip-header", "gzip-js", "gzip-sniffed", "zlib", "base64", "base64-form", "form-json"],
)
def test_every_body_form_decodes_to_the_same_events(body: bytes, options: dict[str, Any]) -> None:
    assert decode(body, **options) == EVENTS


def test_lz64_form() -> None:
    body = b"data=" + LZ_COMPRESSED.replace("+", "%2B").replace("=", "%3D").encode() + b"&compression=lz64"
    assert decode(body, content_type="application/x-www-form-urlencoded") == json.loads(LZ_ORIGINAL)


def test_a_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
    assert len(bomb) < 10_000
    with pytest.raises(MalformedBody, match="larger than"):
        decode_body(bomb, content_type="", content_encoding="gzip", compression=None, limit=1024 * 1024)


@pytest.mark.parametrize("body", [b"", b"{", b"\x1f\x8b\x08\x00broken", b"data=%zz&x=1", b'"just a string"'])
def test_malformed_bodies(body: bytes) -> None:
    options = {"content_type": "application/x-www-form-urlencoded"} if body.startswith(b"data") else {}
    with pytest.raises(MalformedBody):
        parse_envelope(decode(body, **options))


def test_envelopes_and_keys() -> None:
    batch = parse_envelope({"api_key": "K", "batch": [{"event": "e"}], "sent_at": "2026-05-28T00:00:00Z"})
    assert (batch.token, len(batch.events), batch.sent_at_ms) == ("K", 1, 1_779_926_400_000)
    assert parse_envelope({"token": "T", "batch": []}).token == "T"
    assert parse_envelope([{"event": "e", "properties": {"token": "P"}}]).token == "P"
    assert parse_envelope({"event": "e", "$token": "S"}).token == "S"
    assert parse_envelope({"event": "e", "api_key": "A"}).token == "A"
    assert parse_envelope({"events": [{"event": "e"}]}).token is None
    with pytest.raises(MalformedBody, match="different API keys"):
        parse_envelope([{"event": "e", "token": "A"}, {"event": "e", "token": "B"}])
    assert query_sent_at("1780000000000") == NOW
    assert query_sent_at("1780000000") is None  # seconds, from old releases: ignored
    assert query_sent_at("soon") is None


def rows(*events: dict[str, Any], sent_at_ms: int | None = None) -> list[Any]:
    return normalise(parse_envelope({"batch": list(events)}, query_sent_at_ms=sent_at_ms), NOW, Limits())


def test_timestamps() -> None:
    iso = "2026-05-28T00:00:00+00:00"
    base = {"event": "e", "distinct_id": "d"}
    assert rows(base | {"timestamp": iso})[0][3] == 1_779_926_400_000  # as given without sent_at
    # sent_at one hour ahead of the server: the event happened 10 s before sending.
    sent = NOW + 3_600_000
    skewed = rows(base | {"timestamp": "2026-05-28T05:06:30+00:00"}, sent_at_ms=sent)[0][3]
    assert skewed == NOW + (1_779_944_790_000 - sent)
    assert rows(base | {"offset": 2500})[0][3] == NOW - 2500
    assert rows(base)[0][3] == NOW
    assert rows(base | {"timestamp": "2026-05-28T00:00:00"})[0][3] == 1_779_926_400_000  # naive is UTC
    assert rows(base | {"timestamp": "2099-01-01T00:00:00Z"})[0][3] == NOW  # a clock far ahead: now
    ignored = rows(base | {"timestamp": iso, "properties": {"$ignore_sent_at": True}}, sent_at_ms=sent)
    assert ignored[0][3] == 1_779_926_400_000


def test_normalised_rows() -> None:
    (row,) = rows(
        {
            "event": "viewed",
            "distinct_id": 42,
            "uuid": "0190B8A4-7C11-7000-8000-000000000001",
            "properties": {"token": "K", "product_id": 7, "n": 1.5},
            "$set": {"email": "a@example.com"},
        }
    )
    uuid_text, event, distinct_id, _, properties, product_id = row
    assert (uuid_text, event, distinct_id, product_id) == (
        "0190b8a4-7c11-7000-8000-000000000001",
        "viewed",
        "42",
        "7",
    )
    assert json.loads(properties) == {"product_id": 7, "n": 1.5, "$set": {"email": "a@example.com"}}
    assert len(rows({"event": "e", "distinct_id": "x" * 500})[0][2]) == 200  # trimmed, as PostHog does
    assert rows({"event": "e", "properties": {"distinct_id": "from-properties"}})[0][2] == "from-properties"
    generated = rows({"event": "e", "distinct_id": "d"})[0][0]
    assert generated[14] == "7"  # a UUIDv7 when the client sent none


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"distinct_id": "d"}, "event"),
        ({"event": "x" * 201, "distinct_id": "d"}, "event"),
        ({"event": "e"}, "distinct_id"),
        ({"event": "e", "distinct_id": True}, "distinct_id"),
        ({"event": "e", "distinct_id": "d", "uuid": 5}, "uuid"),
        ({"event": "e", "distinct_id": "d", "properties": []}, "properties"),
        ({"event": "e", "distinct_id": "d", "properties": {"t": "a\u0000b"}}, "properties"),
        ({"event": "e", "distinct_id": "d", "timestamp": 1780000000}, "timestamp"),
        ({"event": "e", "distinct_id": "d", "timestamp": "1999-12-31T23:59:59Z"}, "timestamp"),
        ("not an object", ""),
    ],
)
def test_invalid_events_name_their_field(event: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        rows({"event": "fine", "distinct_id": "d"}, event)
    assert raised.value.errors == [
        {"field": f"batch[1].{field}", "message": raised.value.errors[0]["message"]}
    ]


def test_limits() -> None:
    limits = Limits(max_events=2, max_property_bytes=100, max_property_depth=2)
    envelope = parse_envelope({"batch": [{"event": "e", "distinct_id": "d"}] * 3})
    with pytest.raises(InvalidInput, match="at most 2 events"):
        normalise(envelope, NOW, limits)
    with pytest.raises(InvalidInput, match="no events"):
        normalise(parse_envelope({"batch": []}), NOW, limits)
    deep = parse_envelope({"event": "e", "distinct_id": "d", "properties": {"a": {"b": {"c": 1}}}})
    with pytest.raises(InvalidInput):
        normalise(deep, NOW, limits)
    shallow = parse_envelope({"event": "e", "distinct_id": "d", "properties": {"a": {"b": 1}}})
    assert normalise(shallow, NOW, limits)
    big = parse_envelope({"event": "e", "distinct_id": "d", "properties": {"a": "x" * 200}})
    with pytest.raises(InvalidInput):
        normalise(big, NOW, limits)
