"""Analytics ingestion (issue 6): sustained ``POST /batch/`` through one ``shelf serve`` worker.

1. creates a throwaway PostgreSQL database ``shelf_bench_ingest_<random>`` (or a SQLite file),
   runs ``shelf db upgrade`` and creates a ``client`` API key,
2. starts ``shelf serve`` (one worker, rate limits off, the spool in a temporary directory),
3. for ``--seconds`` sends posthog-python-shaped batches (``--batch`` events each, every event
   with a fresh uuid, ``sent_at`` set) over ``--connections`` keep-alive connections from a
   small raw-socket HTTP/1.1 client (the client shares the machine's two cores, so it must cost
   little: about 0.07 of a core at 500 requests a second),
4. then waits until the database holds every event answered 200 and checks that the stored count
   equals the acknowledged count exactly,
5. stops the server, drops the database (unless ``--keep``) and prints a JSON summary, with the
   load average before and after (the machine is shared with other work).

``SHELF_BENCH_PROFILE=/path/to/py-spy`` also records a py-spy profile of the server (raw format,
in the work directory the summary names).

Example::

    .venv/bin/python benchmarks/analytics_ingest.py --backend postgresql --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

PG_ADMIN = os.environ.get("SHELF_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
EVENT = (
    '{{"event":"{name}","distinct_id":"user-{person}","uuid":"{prefix}-8{high:03x}-{low:012x}",'
    '"timestamp":"{sent_at}","properties":{{"$lib":"posthog-python","$lib_version":"7.9.1",'
    '"$current_url":"https://shop.example.com/products/{product}","product_id":"p{product}",'
    '"$session_id":"s-{person}","$geoip_disable":true,"price":"49.90"}}}}'
)
NAMES = ("$pageview", "product_viewed", "add_to_cart", "search")


def shelf(*args: str, env: dict[str, str]) -> str:
    command = [sys.executable, "-m", "shelf", *args]
    done = subprocess.run(command, env=os.environ | env, capture_output=True, text=True, check=True)  # noqa: S603
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Bodies:
    """Batch bodies with unique (ordered, like UUIDv7) uuids, by cheap string formatting."""

    def __init__(self, key: str, batch: int) -> None:
        self.key = key
        self.batch = batch
        self.prefix = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-4{secrets.token_hex(2)[1:]}"
        self.counter = 0

    def next(self) -> bytes:
        start = self.counter
        self.counter += self.batch
        sent_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000+00:00"
        events = ",".join(
            EVENT.format(
                name=NAMES[n % 4],
                person=n % 50_000,
                prefix=self.prefix,
                high=(n >> 48) & 0xFFF,
                low=n & 0xFFFFFFFFFFFF,
                sent_at=sent_at,
                product=n % 5000,
            )
            for n in range(start, start + self.batch)
        )
        return f'{{"api_key":"{self.key}","sent_at":"{sent_at}","batch":[{events}]}}'.encode()


@dataclass
class Tally:
    acknowledged: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


async def connection_loop(port: int, bodies: Bodies, deadline: float, tally: Tally) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = b"POST /batch/ HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: "
    try:
        while time.monotonic() < deadline:
            body = bodies.next()
            started = time.perf_counter()
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            tally.latencies.append(time.perf_counter() - started)
            if status == 200:
                tally.acknowledged += bodies.batch
            else:
                tally.refused[status] = tally.refused.get(status, 0) + 1
                await asyncio.sleep(0.05)  # a 503 says Retry-After; a real SDK would back off longer
    finally:
        writer.close()


async def stored_count(url: str) -> int:
    if url.startswith("postgresql"):
        connection = await asyncpg.connect(url)
        try:
            return int(await connection.fetchval("SELECT count(*) FROM analytics_events"))
        finally:
            await connection.close()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        return int(connection.execute("SELECT count(*) FROM analytics_events").fetchone()[0])


def start_server(url: str, work: Path, extra_env: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        "SHELF_DATABASE_URL": url,
        "SHELF_LOG_LEVEL": "warning",
        "SHELF_RATE_LIMIT_ENABLED": "false",
        "SHELF_ANALYTICS_SPOOL_DIR": str(work / "spool"),
        **dict(item.split("=", 1) for item in extra_env),
    }
    with (work / "server.log").open("wb") as log:
        server = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "shelf", "serve", "--port", str(port)],
            env=os.environ | env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    if os.environ.get("SHELF_BENCH_PROFILE"):
        subprocess.Popen(  # noqa: S603 - a diagnosis aid, off by default
            [
                os.environ["SHELF_BENCH_PROFILE"],
                "record",
                "-p",
                str(server.pid),
                "-f",
                "raw",
                "-r",
                "200",
                "-o",
                str(work / "profile.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return server, port


async def measure(args: argparse.Namespace, url: str, port: int, key: str) -> dict[str, Any]:
    bodies = Bodies(key, args.batch)
    tally = Tally()
    load_before = os.getloadavg()
    cpu_before = os.times()
    started = time.monotonic()
    deadline = started + args.seconds
    await asyncio.gather(*(connection_loop(port, bodies, deadline, tally) for _ in range(args.connections)))
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()
    client_cpu = sum(os.times()[:2]) - sum(cpu_before[:2])
    drained_from = time.monotonic()  # everything answered 200 must reach the database
    stored = await stored_count(url)
    while stored < tally.acknowledged and time.monotonic() - drained_from < 180:
        await asyncio.sleep(0.2)
        stored = await stored_count(url)
    drain = time.monotonic() - drained_from
    latencies = sorted(tally.latencies)
    return {
        "backend": args.backend,
        "seconds": round(elapsed, 2),
        "batch": args.batch,
        "connections": args.connections,
        "requests": len(latencies),
        "acknowledged_events": tally.acknowledged,
        "stored_events": stored,
        "stored_equals_acknowledged": stored == tally.acknowledged,
        "events_per_second": round(tally.acknowledged / elapsed),
        "stored_per_second_including_drain": round(stored / (elapsed + drain)),
        "drain_seconds_after_the_run": round(drain, 2),
        "refused_requests_by_status": tally.refused,
        "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 1),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "client_cpu_seconds": round(client_cpu, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "server_env": args.server_env,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="shelf-ingest-"))
    name = f"shelf_bench_ingest_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(PG_ADMIN) if args.backend == "postgresql" else None
    if admin is not None:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{work / 'ingest.db'}"
    env = {"SHELF_DATABASE_URL": url, "SHELF_LOG_LEVEL": "warning"}
    server = None
    try:
        shelf("db", "upgrade", env=env)
        key = shelf("apikeys", "create", "--name", "bench", "--role", "client", env=env).split()[-1]
        server, port = await asyncio.to_thread(start_server, url, work, args.server_env)
        return await measure(args, url, port, key) | {"work_directory": str(work)}
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            await asyncio.to_thread(server.wait, 60)
        if admin is not None:
            if not args.keep:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--server-env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
