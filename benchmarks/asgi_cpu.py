"""CPU time per request of Shelf's app called in-process: no network, no HTTP server.

Calls the ASGI app (``shelf.app:create_app_from_env``) directly for anonymous
``GET /api/v1/products/{id}`` over the active products of an existing database, and prints the
process's CPU time and wall time per request for three paths:

- ``fast``: a cache hit answered by the gateway's fast path;
- ``normal``: the same hit forced the normal way (a ``Content-Length: 0`` header makes the fast
  path decline), so routing, dependency injection and every middleware run;
- ``uncached``: ``SHELF_CACHE_ENABLED=false``, every request reads the database (a point read).

The figure is what one request costs the server process beyond the HTTP server's own work, which
``benchmarks/http_throughput.py`` measures with wrk. CPU time barely depends on other load.

    .venv/bin/shelf db upgrade && .venv/bin/shelf seed --products 1000   # with SHELF_DATABASE_URL set
    SHELF_DATABASE_URL=sqlite:////tmp/bench.db .venv/bin/python benchmarks/asgi_cpu.py --requests 5000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from sqlalchemy import text


async def measure(path_kind: str, requests: int) -> tuple[float, float]:
    os.environ["SHELF_CACHE_ENABLED"] = "false" if path_kind == "uncached" else "true"
    os.environ.setdefault("SHELF_LOG_LEVEL", "warning")
    os.environ["SHELF_RATE_LIMIT_ANONYMOUS"] = "1000000000/minute"
    from shelf.app import create_app_from_env  # noqa: PLC0415 - after the environment is set

    app = create_app_from_env()
    container = app.state.container
    await container.start()
    async with container.database.engine.connect() as connection:
        rows = await connection.execute(text("SELECT id FROM products WHERE status = 'active' LIMIT 500"))
        ids = [str(row[0]) for row in rows]
    if ids and "-" not in ids[0]:  # SQLite keeps UUIDs as 32 hex digits
        ids = [f"{i[:8]}-{i[8:12]}-{i[12:16]}-{i[16:20]}-{i[20:]}" for i in ids]
    paths = [f"/api/v1/products/{each}" for each in ids]
    extra = [(b"content-length", b"0")] if path_kind == "normal" else []
    statuses: set[int] = set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    def scope(path: str) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"), *extra],
            "client": ("127.0.0.1", 5555),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }

    for path in paths:  # warm: every product cached (when caching), every code path imported
        await app(scope(path), receive, send)
    wall, cpu = time.perf_counter(), time.process_time()
    for number in range(requests):
        await app(scope(paths[number % len(paths)]), receive, send)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await container.aclose()
    if statuses != {200}:
        raise SystemExit(f"{path_kind}: answers other than 200: {statuses}")
    return cpu / requests * 1e6, wall / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--paths", default="fast,normal,uncached")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    for kind in args.paths.split(","):
        cpu, wall = asyncio.run(measure(kind, args.requests))
        print(f"  {kind:9s} {cpu:8.1f} µs CPU / request   {wall:8.1f} µs wall")


if __name__ == "__main__":
    main()
