"""OpenTelemetry tracing, configured by the standard ``OTEL_*`` environment variables.

Tracing is on when an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) and off otherwise: then no tracer provider, no exporter and
no background thread exist, and nothing is sent anywhere. Spans go out over OTLP/HTTP
(protobuf, port 4318 by convention) in batches; the exporter reads the rest of the standard
variables itself (headers, timeout, certificates, compression), the provider reads
``OTEL_TRACES_SAMPLER`` and ``OTEL_TRACES_SAMPLER_ARG``, and the resource reads
``OTEL_SERVICE_NAME`` (``shelf`` by default) and ``OTEL_RESOURCE_ATTRIBUTES``.
``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` switch tracing off.

What is traced: every HTTP request (``monitoring/middleware.py``), every SQL statement
(SQLAlchemy's instrumentation, per engine) and every Redis command of the request path
(redis-py's instrumentation, per client). The tracer provider belongs to the ``Tracing`` object,
not to the process-wide global, so several apps in one process (the tests) keep their spans apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

from shelf import __version__

log = structlog.get_logger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PROTOCOL_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


class TracingConfigurationError(ValueError):
    pass


class Tracing:
    """A tracer provider when tracing is on, else nothing at all."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self.provider = provider
        self.tracer: trace.Tracer = (
            provider.get_tracer("shelf", __version__) if provider is not None else trace.NoOpTracer()
        )

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    @classmethod
    def disabled(cls) -> Tracing:
        return cls(None)

    @classmethod
    def with_processor(cls, processor: SpanProcessor) -> Tracing:
        """Tracing into ``processor`` (tests pass a ``SimpleSpanProcessor`` of an in-memory exporter)."""
        provider = TracerProvider(resource=service_resource(os.environ))
        provider.add_span_processor(processor)
        return cls(provider)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Tracing:
        """OTLP/HTTP export when an endpoint is configured; disabled otherwise."""
        environ = os.environ if environ is None else environ
        if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return cls.disabled()
        if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
            return cls.disabled()
        if not any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES):
            return cls.disabled()
        protocol = next((environ[name] for name in PROTOCOL_VARIABLES if environ.get(name)), "http/protobuf")
        if protocol.strip().lower() != "http/protobuf":
            raise TracingConfigurationError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: Shelf exports traces over "
                "OTLP/HTTP; set it to 'http/protobuf' and point the endpoint at the collector's HTTP "
                "port (usually 4318)"
            )
        # Imported only when tracing is on: the exporter pulls in an HTTP client and protobuf.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

        provider = TracerProvider(resource=service_resource(environ))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("tracing_enabled", endpoint=next(environ[n] for n in ENDPOINT_VARIABLES if environ.get(n)))
        return cls(provider)

    def instrument_database(self, engine: AsyncEngine) -> None:
        """A span per SQL statement run on ``engine`` (a child of the request's span)."""
        if self.provider is None:
            return
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer  # noqa: PLC0415
        from opentelemetry.metrics import NoOpMeter  # noqa: PLC0415

        # EngineTracer is what SQLAlchemyInstrumentor().instrument(engine=...) builds; it is used
        # directly because the instrumentor instruments once per process and Shelf's tracer
        # provider is per app. Connection-usage metrics go nowhere: /metrics has its own.
        usage = NoOpMeter("shelf").create_up_down_counter("db.client.connections.usage")
        EngineTracer(self.tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]  # unannotated

    def instrument_redis(self, client: Any) -> None:
        """A span per Redis command sent through ``client``."""
        if self.provider is None:
            return
        from opentelemetry.instrumentation.redis import RedisInstrumentor  # noqa: PLC0415

        RedisInstrumentor.instrument_client(client, tracer_provider=self.provider)

    def shutdown(self) -> None:
        """Export what is still buffered, then stop (the app's shutdown calls this)."""
        if self.provider is not None:
            self.provider.shutdown()


def service_resource(environ: Mapping[str, str]) -> Resource:
    attributes: dict[str, str] = {SERVICE_VERSION: __version__}
    named = environ.get("OTEL_SERVICE_NAME") or "service.name=" in environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    if not named:
        attributes[SERVICE_NAME] = "shelf"  # a name given in the environment wins
    return Resource.create(attributes)
