"""W3C trace context over HTTP: a caller's trace is continued, echoed, and found in the logs."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import structlog
import structlog.testing

from shelf.app import create_app
from shelf.gateway.context import trace_id_var
from shelf.settings import Settings

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = re.compile(r"00-(?P<trace_id>[0-9a-f]{32})-(?P<span_id>[0-9a-f]{16})-(?P<flags>0[01])")


def echoed(response: httpx.Response) -> re.Match[str]:
    match = TRACEPARENT.fullmatch(response.headers.get("traceparent", ""))
    assert match is not None, f"no valid traceparent on the response: {response.headers}"
    assert match["trace_id"] != "0" * 32
    assert match["span_id"] != "0" * 16
    return match


@pytest.mark.parametrize("flags", ["01", "00"])
async def test_a_valid_traceparent_is_continued_with_a_new_span(
    client: httpx.AsyncClient, flags: str
) -> None:
    response = await client.get("/healthz", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-{flags}"})
    match = echoed(response)
    assert match["trace_id"] == TRACE_ID
    assert match["span_id"] != PARENT_ID
    assert match["flags"] == flags, "the caller's sampling decision is passed on"


async def test_each_request_is_its_own_span(client: httpx.AsyncClient) -> None:
    headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    spans = {echoed(await client.get("/healthz", headers=headers))["span_id"] for _ in range(5)}
    assert len(spans) == 5


async def test_without_a_traceparent_a_new_unsampled_trace_starts(client: httpx.AsyncClient) -> None:
    first, second = echoed(await client.get("/healthz")), echoed(await client.get("/healthz"))
    assert first["trace_id"] != second["trace_id"]
    assert first["flags"] == second["flags"] == "00"


@pytest.mark.parametrize(
    "invalid",
    [
        f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",
        f"ff-{TRACE_ID}-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{'0' * 16}-01",
        f"00-{TRACE_ID}-{PARENT_ID}-01-extra",
        "not a traceparent",
    ],
)
async def test_an_invalid_traceparent_starts_a_new_trace(client: httpx.AsyncClient, invalid: str) -> None:
    match = echoed(await client.get("/healthz", headers={"traceparent": invalid}))
    assert match["trace_id"] != TRACE_ID
    assert match["trace_id"] not in invalid.lower()


async def test_error_responses_carry_the_traceparent_too(client: httpx.AsyncClient) -> None:
    missing = await client.get(
        "/api/v1/nothing-here", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    )
    assert missing.status_code == 404
    assert echoed(missing)["trace_id"] == TRACE_ID


async def test_handlers_and_log_lines_see_the_trace_id(tmp_path: Path) -> None:
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'shelf.db'}", env="test", log_level="info")
    )

    async def probe() -> dict[str, object]:
        structlog.get_logger("probe").info("probe_called")
        return {"var": trace_id_var.get(), "log": structlog.contextvars.get_contextvars().get("trace_id")}

    app.add_api_route("/probe", probe)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://shelf.test"
        ) as http:
            # merge_contextvars is the processor configure_logging puts first on every log line.
            with structlog.testing.capture_logs([structlog.contextvars.merge_contextvars]) as logs:
                response = await http.get("/probe", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    finally:
        await app.state.container.aclose()

    assert response.json() == {"var": TRACE_ID, "log": TRACE_ID}
    probe_lines = [line for line in logs if line["event"] == "probe_called"]
    assert len(probe_lines) == 1
    assert probe_lines[0]["trace_id"] == TRACE_ID
    assert probe_lines[0]["span_id"] == echoed(response)["span_id"]
    assert probe_lines[0]["request_id"] == response.headers["x-request-id"]
