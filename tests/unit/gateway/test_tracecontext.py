"""W3C traceparent parsing, tracestate bounds, and the context the middleware sets and clears."""

from __future__ import annotations

import re

import pytest
import structlog
from starlette.types import Message, Receive, Scope, Send

from shelf.gateway import tracecontext
from shelf.gateway.context import trace_id_var
from shelf.gateway.tracecontext import (
    TraceContextMiddleware,
    TraceParent,
    current_trace,
    parse_traceparent,
    parse_tracestate,
    trace_from_headers,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
VALID = f"00-{TRACE_ID}-{PARENT_ID}-01"


def test_the_spec_example_parses() -> None:
    assert parse_traceparent(VALID) == TraceParent(trace_id=TRACE_ID, parent_id=PARENT_ID, sampled=True)
    assert parse_traceparent(f"00-{TRACE_ID}-{PARENT_ID}-00") == TraceParent(
        trace_id=TRACE_ID, parent_id=PARENT_ID, sampled=False
    )


@pytest.mark.parametrize(
    ("flags", "sampled"), [("01", True), ("00", False), ("03", True), ("02", False), ("ff", True)]
)
def test_only_the_sampled_bit_of_the_flags_is_read(flags: str, sampled: bool) -> None:
    parsed = parse_traceparent(f"00-{TRACE_ID}-{PARENT_ID}-{flags}")
    assert parsed is not None
    assert parsed.sampled is sampled


def test_whitespace_around_the_field_value_is_not_part_of_it() -> None:
    assert parse_traceparent(f"  {VALID}\t") is not None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "00",
        VALID.upper(),
        f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{PARENT_ID.upper()}-01",
        f"00-{TRACE_ID}-{PARENT_ID}-0A",
        f"ff-{TRACE_ID}-{PARENT_ID}-01",
        f"0g-{TRACE_ID}-{PARENT_ID}-01",
        f"00-{'0' * 32}-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{'0' * 16}-01",
        f"00-{TRACE_ID[:-1]}-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{PARENT_ID[:-1]}-01",
        f"00-{TRACE_ID}-{PARENT_ID}-1",
        f"00-{TRACE_ID}-{PARENT_ID}-01-",
        f"00-{TRACE_ID}-{PARENT_ID}-01-extra",
        f"00_{TRACE_ID}_{PARENT_ID}_01",
        f"00-{TRACE_ID}-{PARENT_ID}-0x",
        f"00-{TRACE_ID[:16]} {TRACE_ID[17:]}-{PARENT_ID}-01",
    ],
)
def test_invalid_traceparents_are_refused(value: str) -> None:
    assert parse_traceparent(value) is None


@pytest.mark.parametrize(
    "value",
    [
        f"cc-{TRACE_ID}-{PARENT_ID}-01",
        f"cc-{TRACE_ID}-{PARENT_ID}-01-what-the-future-will-bring",
        f"01-{TRACE_ID}-{PARENT_ID}-09-x",
    ],
)
def test_future_versions_are_read_by_their_first_four_fields(value: str) -> None:
    assert parse_traceparent(value) == TraceParent(trace_id=TRACE_ID, parent_id=PARENT_ID, sampled=True)


@pytest.mark.parametrize(
    "value",
    [
        f"cc-{TRACE_ID}-{PARENT_ID}-01.what-the-future-will-bring",
        f"cc-{TRACE_ID}-{PARENT_ID}-01x",
        f"cc-{TRACE_ID}-{PARENT_ID}",
        f"cc-{'0' * 32}-{PARENT_ID}-01-x",
        f"ff-{TRACE_ID}-{PARENT_ID}-01-x",
    ],
)
def test_future_versions_still_need_valid_fields(value: str) -> None:
    assert parse_traceparent(value) is None


def test_a_valid_parent_is_continued_with_a_new_span() -> None:
    trace = trace_from_headers([VALID], ["congo=t61rcWkgMzE"])
    assert trace.trace_id == TRACE_ID
    assert trace.parent_id == PARENT_ID
    assert re.fullmatch(r"[0-9a-f]{16}", trace.span_id)
    assert trace.span_id != PARENT_ID
    assert trace.sampled
    assert trace.tracestate == "congo=t61rcWkgMzE"
    assert trace.traceparent == f"00-{TRACE_ID}-{trace.span_id}-01"


def test_an_unknown_flag_is_not_propagated() -> None:
    trace = trace_from_headers([f"00-{TRACE_ID}-{PARENT_ID}-03"], [])
    assert trace.traceparent.endswith("-01")


@pytest.mark.parametrize(
    "traceparents",
    [[], ["garbage"], [VALID, VALID], [VALID, f"00-{'1' * 32}-{PARENT_ID}-01"]],
)
def test_anything_but_one_valid_parent_starts_a_new_unsampled_trace(traceparents: list[str]) -> None:
    trace = trace_from_headers(traceparents, ["congo=t61rcWkgMzE"])
    assert re.fullmatch(r"[0-9a-f]{32}", trace.trace_id)
    assert trace.trace_id not in (TRACE_ID, "1" * 32)
    assert trace.parent_id is None
    assert trace.tracestate is None, "tracestate must not be read without a valid traceparent"
    assert re.fullmatch(rf"00-{trace.trace_id}-[0-9a-f]{{16}}-00", trace.traceparent)


def test_new_traces_differ() -> None:
    assert len({trace_from_headers([], []).trace_id for _ in range(50)}) == 50


def test_all_zero_random_ids_are_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([0, 0, int("ab" * 16, 16), int("cd" * 8, 16)])
    monkeypatch.setattr(tracecontext.random, "getrandbits", lambda _bits: next(draws))
    trace = trace_from_headers([], [])
    assert trace.trace_id == "ab" * 16
    assert trace.span_id == "cd" * 8


@pytest.mark.parametrize(
    ("values", "kept"),
    [
        (["rojo=00f067aa0ba902b7"], "rojo=00f067aa0ba902b7"),
        (["rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        (["rojo=1", "congo=2"], "rojo=1,congo=2"),
        (["tenant@vendor=x", ""], "tenant@vendor=x"),
        ([], None),
        ([" "], None),
        (["no-equals-sign"], None),
        (["Upper=1"], None),
        (["key=ends-with-space "], "key=ends-with-space"),
        (["key=has,comma=x=y"], None),
        (["a=" + "x" * 600], None),
        ([",".join(f"k{i}=v" for i in range(33))], None),
    ],
)
def test_tracestate_is_kept_only_when_well_formed_and_bounded(values: list[str], kept: str | None) -> None:
    assert parse_tracestate(values) == kept


def test_tracestate_of_thirty_two_members_is_kept() -> None:
    members = ",".join(f"k{i}=v" for i in range(32))
    assert parse_tracestate([members]) == members


async def _call(middleware: TraceContextMiddleware, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    sent: list[Message] = []
    scope: Scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(scope, receive, send)
    return sent


async def test_the_middleware_sets_the_context_for_the_request_and_clears_it_after() -> None:
    seen: dict[str, object] = {}

    async def app(_scope: Scope, _receive: Receive, send: Send) -> None:
        seen["var"] = trace_id_var.get()
        seen["log"] = dict(structlog.contextvars.get_contextvars())
        seen["trace"] = current_trace.get()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    structlog.contextvars.clear_contextvars()
    sent = await _call(TraceContextMiddleware(app), [(b"traceparent", VALID.encode())])

    assert seen["var"] == TRACE_ID
    trace = seen["trace"]
    assert isinstance(trace, tracecontext.TraceContext)
    assert seen["log"] == {"trace_id": TRACE_ID, "span_id": trace.span_id}
    assert (b"traceparent", trace.traceparent.encode()) in sent[0]["headers"]
    assert trace_id_var.get() == "-"
    assert current_trace.get() is None
    assert structlog.contextvars.get_contextvars() == {}


async def test_the_middleware_clears_the_context_when_the_app_fails() -> None:
    async def app(_scope: Scope, _receive: Receive, _send: Send) -> None:
        raise RuntimeError("boom")

    structlog.contextvars.clear_contextvars()
    with pytest.raises(RuntimeError, match="boom"):
        await _call(TraceContextMiddleware(app), [])
    assert trace_id_var.get() == "-"
    assert current_trace.get() is None
    assert structlog.contextvars.get_contextvars() == {}
