"""Monitoring of a real ``shelf serve`` process: JSON logs, OTLP export, readiness, multi-worker metrics."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy.engine import make_url

from tests.databases import POSTGRES_ADMIN_URL, server_missing
from tests.integration.monitoring.conftest import METRICS_TOKEN, promtool_check_metrics
from tests.process import free_port, shelf

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@contextmanager
def serving(
    database_url: str, log: Path, *args: str, wait_for: str = "/healthz", **env: str
) -> Iterator[str]:
    """``shelf serve`` with its stderr in ``log``; yields the base URL once ``wait_for`` answers 200."""
    port = free_port()
    environment = os.environ | {"SHELF_DATABASE_URL": database_url, "SHELF_LOG_LEVEL": "info"} | env
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
            [sys.executable, "-m", "shelf", "serve", "--port", str(port), *args],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _answers(base_url + wait_for), 30, f"{wait_for} never answered", process, log)
            yield base_url
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                raise


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_until(
    condition: Any,
    seconds: float,
    message: str,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"shelf serve exited early:\n{log.read_text() if log else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} within {seconds} s:\n{log.read_text() if log else ''}")
        time.sleep(0.1)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'monitoring.db'}"
    assert shelf("db", "upgrade", database_url=url).returncode == 0
    return url


def test_json_logs_are_one_object_per_line_with_the_request_fields(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    key = shelf("apikeys", "create", "--name", "logs", "--role", "viewer", database_url=sqlite_url)
    auth = {"Authorization": f"Bearer {key.stdout.strip().splitlines()[-1]}"}
    with serving(sqlite_url, log, SHELF_LOG_FORMAT="json") as base_url:
        request_id = "log-test-" + uuid.uuid4().hex[:12]
        traced = httpx.get(
            f"{base_url}/api/v1/products/{uuid.uuid4()}",
            headers=auth | {"X-Request-ID": request_id, "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
        )
        assert traced.status_code == 404
        httpx.get(f"{base_url}/no/such/page")
        wait_until(lambda: "/no/such/page" in log.read_text(), 10, "no access line")
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line is not JSON: {line!r}")
    for record in records:
        assert {"time", "level", "event"} <= record.keys(), record
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", record["time"]), record["time"]
    access = next(r for r in records if r["event"] == "request" and r.get("request_id") == request_id)
    assert access["route"] == "/api/v1/products/{product_id}"
    assert access["status"] == 404
    assert access["trace_id"] == TRACE_ID
    assert access["principal"].startswith("api_key:")
    assert access["method"] == "GET"
    assert isinstance(access["duration_ms"], float)
    assert access["duration_ms"] >= 0
    unmatched = next(r for r in records if r["event"] == "request" and r.get("path") == "/no/such/page")
    assert unmatched["route"] == "unmatched"
    assert unmatched["principal"] == "anonymous"
    assert any(r["event"].startswith("Uvicorn running") or "uvicorn" in r.get("logger", "") for r in records)


def test_console_logs_are_readable_lines(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with serving(sqlite_url, log, SHELF_LOG_FORMAT="console") as base_url:
        httpx.get(f"{base_url}/healthz", headers={"X-Request-ID": "console-test-1234"})
        wait_until(lambda: "console-test-1234" in log.read_text(), 10, "no access line")
    line = next(line for line in log.read_text().splitlines() if "console-test-1234" in line)
    assert not line.lstrip().startswith("{")
    assert "request" in line
    assert "route=/healthz" in line
    assert "status=200" in line


class OtlpReceiver(BaseHTTPRequestHandler):
    """A minimal OTLP/HTTP trace receiver: keeps every span it is sent."""

    spans: ClassVar[list[dict[str, Any]]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.lock:
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            {
                                "path": self.path,
                                "content_type": self.headers["Content-Type"],
                                "service": resource.get("service.name"),
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                            }
                        )
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_spans_reach_an_otlp_receiver_from_a_real_process(sqlite_url: str, tmp_path: Path) -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), OtlpReceiver)
    OtlpReceiver.spans.clear()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{receiver.server_address[1]}"
    try:
        with serving(
            sqlite_url,
            tmp_path / "serve.log",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_BSP_SCHEDULE_DELAY="200",
        ) as base_url:
            response = httpx.get(
                f"{base_url}/api/v1/products?limit=2",
                headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
            )
            assert response.status_code == 200
            span_id = response.headers["traceparent"].split("-")[2]

            def received() -> bool:
                with OtlpReceiver.lock:
                    return any(s["span_id"] == span_id for s in OtlpReceiver.spans) and any(
                        s["parent_span_id"] == span_id for s in OtlpReceiver.spans
                    )

            wait_until(received, 15, "the request's span and its SQL spans did not arrive")
    finally:
        receiver.shutdown()
        receiver.server_close()
    with OtlpReceiver.lock:
        spans = list(OtlpReceiver.spans)
    request_span = next(s for s in spans if s["span_id"] == span_id)
    assert request_span["name"] == "GET /api/v1/products"
    assert request_span["trace_id"] == TRACE_ID
    assert request_span["parent_span_id"] == PARENT_ID
    assert request_span["path"] == "/v1/traces"
    assert request_span["content_type"] == "application/x-protobuf"
    assert request_span["service"] == "shelf"
    children = [s for s in spans if s["parent_span_id"] == span_id]
    assert children
    assert all(s["trace_id"] == TRACE_ID for s in children)


def test_no_export_is_attempted_without_an_endpoint(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    os_environ = os.environ.copy()
    os.environ.clear()
    os.environ.update(environment)
    try:
        with serving(sqlite_url, log, SHELF_LOG_FORMAT="json") as base_url:
            response = httpx.get(f"{base_url}/api/v1/products?limit=1")
    finally:
        os.environ.clear()
        os.environ.update(os_environ)
    assert response.headers["traceparent"].endswith("-00")  # nothing recorded, so not sampled
    assert "tracing_enabled" not in log.read_text()


async def _admin(statement: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


def test_shelf_starts_without_its_database_and_becomes_ready_when_it_appears(tmp_path: Path) -> None:
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError) as error:
        server_missing(f"PostgreSQL at {POSTGRES_ADMIN_URL} ({error})", "Start PostgreSQL.")
    name = f"shelf_late_{uuid.uuid4().hex[:12]}"
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    log = tmp_path / "serve.log"
    try:
        with serving(url, log, SHELF_READINESS_TIMEOUT_SECONDS="1") as base_url:
            assert httpx.get(f"{base_url}/healthz").status_code == 200
            not_ready = httpx.get(f"{base_url}/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["checks"] == {"database": "unavailable"}
            asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
            wait_until(lambda: _answers(f"{base_url}/readyz"), 20, "never became ready", log=log)
            ready = httpx.get(f"{base_url}/readyz").json()
            assert ready == {"status": "ready", "checks": {"database": "ok"}}
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def value_of(exposition: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", exposition, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_every_worker_reports_the_whole_servers_metrics(sqlite_url: str, tmp_path: Path) -> None:
    series = 'shelf_http_requests_total{method="GET",route="/healthz",status="2xx"}'
    close = {"Connection": "close"}  # a new connection each time, so both workers answer some
    log = tmp_path / "serve.log"
    with serving(sqlite_url, log, "--workers", "2", SHELF_METRICS_TOKEN=METRICS_TOKEN) as base:
        before = value_of(httpx.get(f"{base}/metrics", headers=SCRAPE).text, series)
        for _ in range(40):
            assert httpx.get(f"{base}/healthz", headers=close).status_code == 200
        # Each scrape reaches whichever worker accepts it: every one must report all 40.
        scrapes = [httpx.get(f"{base}/metrics", headers=SCRAPE | close).text for _ in range(8)]
    assert {value_of(text, series) for text in scrapes} == {before + 40}
    assert "shelf_http_requests_in_flight" in scrapes[0]
    promtool_check_metrics(scrapes[0])
