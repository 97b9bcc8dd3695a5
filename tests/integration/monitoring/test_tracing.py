"""OpenTelemetry spans of requests, SQL and Redis, recorded by an in-memory exporter."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from shelf.monitoring.tracing import Tracing, TracingConfigurationError
from tests.conftest import Keys
from tests.integration.catalog.helpers import create
from tests.integration.monitoring.conftest import MakeApp, connect

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    yield memory
    memory.clear()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Tracing:
    return Tracing.with_processor(SimpleSpanProcessor(exporter))


def servers(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.kind is SpanKind.SERVER]


def hex_ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")


async def test_a_request_continues_the_callers_trace_and_echoes_its_own_span(
    make_app: MakeApp, tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    app = make_app(tracing=tracing)
    async with connect(app) as http:
        response = await http.get(
            f"/api/v1/products/{uuid.uuid4()}",
            headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "tracestate": "vendor=abc"},
        )
    assert response.status_code == 404
    (span,) = servers(exporter)
    trace_id, span_id = hex_ids(span)
    assert trace_id == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT_ID
    assert span.parent.is_remote
    assert response.headers["traceparent"] == f"00-{TRACE_ID}-{span_id}-01"
    assert span.name == "GET /api/v1/products/{product_id}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/api/v1/products/{product_id}"
    assert span.attributes["http.response.status_code"] == 404
    assert span.context is not None
    assert span.context.trace_state.get("vendor") == "abc"


async def test_database_statements_are_children_of_the_request(
    make_app: MakeApp, tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    app = make_app(tracing=tracing)
    async with connect(app) as http:
        response = await http.get("/api/v1/products?limit=3")
    assert response.status_code == 200
    (server,) = servers(exporter)
    trace_id, span_id = hex_ids(server)
    statements = [span for span in exporter.get_finished_spans() if span.kind is SpanKind.CLIENT]
    assert statements, "no database span"
    for statement in statements:
        assert statement.attributes is not None
        assert statement.attributes.get("db.system") in ("sqlite", "postgresql") or statement.attributes.get(
            "db.system.name"
        ) in ("sqlite", "postgresql")
        assert hex_ids(statement)[0] == trace_id
        assert statement.parent is not None
        assert format(statement.parent.span_id, "016x") == span_id
    assert response.headers["traceparent"] == f"00-{trace_id}-{span_id}-01"  # a new trace, sampled


async def test_redis_commands_are_traced(
    make_app: MakeApp, tracing: Tracing, exporter: InMemorySpanExporter, redis_url: str, keys: Keys
) -> None:
    app = make_app(
        tracing=tracing,
        redis_url=redis_url,
        cache_redis_prefix=f"shelf-test:{uuid.uuid4().hex}:",
        rate_limit_redis_prefix=f"shelf-test:{uuid.uuid4().hex}:",
    )
    async with app.router.lifespan_context(app), connect(app) as http:
        product = await create(http, keys.auth("editor"))
        exporter.clear()
        assert (await http.get(f"/api/v1/products/{product['id']}")).status_code == 200
    server = next(span for span in servers(exporter))
    trace_id, _ = hex_ids(server)
    commands = [
        span
        for span in exporter.get_finished_spans()
        if span.attributes is not None
        and (span.attributes.get("db.system") == "redis" or span.attributes.get("db.system.name") == "redis")
    ]
    assert commands, "no Redis span"
    assert all(hex_ids(command)[0] == trace_id for command in commands)


async def test_a_server_error_marks_the_span(
    make_app: MakeApp, tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    app = make_app(tracing=tracing)

    @app.get("/boom-for-tracing")
    async def boom() -> None:
        raise RuntimeError("boom")

    async with connect(app) as http:
        assert (await http.get("/boom-for-tracing")).status_code == 500
    (span,) = servers(exporter)
    assert span.status.status_code is StatusCode.ERROR


async def test_an_unsampled_caller_gets_no_recorded_span(
    make_app: MakeApp, tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    app = make_app(tracing=tracing)
    async with connect(app) as http:
        response = await http.get("/healthz", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"})
    assert servers(exporter) == []  # the parent-based sampler follows the caller's decision
    assert response.headers["traceparent"].startswith(f"00-{TRACE_ID}-")
    assert response.headers["traceparent"].endswith("-00")


def test_tracing_is_off_without_an_endpoint_and_on_with_one() -> None:
    assert not Tracing.from_environment({}).enabled
    assert not Tracing.from_environment({"OTEL_SERVICE_NAME": "x"}).enabled
    assert not Tracing.from_environment(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}
    ).enabled
    assert not Tracing.from_environment(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}
    ).enabled
    on = Tracing.from_environment({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:9/v1/traces"})
    try:
        assert on.enabled
    finally:
        on.shutdown()  # nothing was recorded, so nothing is sent
    with pytest.raises(TracingConfigurationError, match="http/protobuf"):
        Tracing.from_environment(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        )


async def test_without_tracing_the_gateway_keeps_its_unsampled_traceparent(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.headers["traceparent"].endswith("-00")
