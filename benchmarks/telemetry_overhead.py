"""What RequestTelemetryMiddleware adds to each request: metrics, route template, access line.

    .venv/bin/python benchmarks/telemetry_overhead.py            # access line filtered out (warning)
    .venv/bin/python benchmarks/telemetry_overhead.py info 2>/dev/null   # access line written

Calls a trivial ASGI app 20,000 times bare and 20,000 times through the middleware (tracing off),
for a path answered before routing (as the fast path answers), and prints the difference per call.
"""

from __future__ import annotations

import asyncio
import sys
import time

from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from shelf.monitoring.logging import configure_logging
from shelf.monitoring.middleware import RequestTelemetryMiddleware
from shelf.monitoring.tracing import Tracing

CALLS = 20_000
HEADERS = [
    (b"x-request-id", b"abcdefgh12345678"),
    (b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
]


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": b"{}"})


async def discard(message: Message) -> None:
    return None


async def nothing() -> Message:
    return {"type": "http.request"}


def request() -> Scope:
    path = "/api/v1/products/01935e2c-0000-7000-8000-000000000001"
    return {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": [], "state": {}}


async def per_call(app: object) -> float:
    started = time.perf_counter()
    for _ in range(CALLS):
        await app(request(), nothing, discard)  # type: ignore[operator]
    return (time.perf_counter() - started) / CALLS


async def main(level: str) -> None:
    configure_logging("json", level)
    routes = [Route(f"/r{i}/{{x}}", Response) for i in range(40)]
    routes.append(Route("/api/v1/products/{product_id}", Response))
    telemetry = RequestTelemetryMiddleware(answer, routes=routes, tracing=Tracing.disabled())
    bare = await per_call(answer)
    wrapped = await per_call(telemetry)
    print(
        f"log level {level}: bare {bare * 1e6:.1f} us, through telemetry {wrapped * 1e6:.1f} us, "
        f"added {(wrapped - bare) * 1e6:.1f} us per request"
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "warning"))
