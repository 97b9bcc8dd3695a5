"""HTTP throughput (issue 4): Shelf's read by id against nginx serving the same JSON, with wrk.

One run measures, on loopback, each server with one worker process pinned to one CPU and wrk
pinned to another (``--server-cpu``, ``--client-cpu``):

- ``nginx-static``: Debian's nginx (one process, started here with a config of its own) serving a
  product's JSON as a static file: the baseline every other figure is divided by;
- ``ceiling-uvicorn`` / ``ceiling-granian``: a ten-line ASGI app that answers every request with
  those same bytes, under each server: what the HTTP server alone allows;
- ``cached-uvicorn``: ``shelf serve`` (uvicorn, the production server; see ADR 0011) answering
  anonymous ``GET /api/v1/products/{id}`` from the response cache (the gateway's fast path), over
  every active product in turn, all of them cached by a first pass;
- ``cached-granian``: the same app under granian's ASGI interface (if granian is installed):
  the server comparison behind ADR 0011;
- ``uncached-sqlite`` / ``uncached-postgresql``: ``shelf serve`` with ``SHELF_CACHE_ENABLED=false``,
  so every request reads its product from the database, ids in turn (so no two concurrent requests
  share a read through single-flight).

Each Shelf server runs with ``SHELF_LOG_LEVEL=warning`` (no access line per request) and an
anonymous rate limit too high to bite, so the limiter's cost is in the figures. wrk runs
``-t1 -c32 -d10s --latency`` by default with a Lua script that walks the product URLs; each
scenario gets a short warm-up run first. ``--rounds N`` repeats the whole sequence N times and
reports each scenario's median, so every ratio compares figures taken minutes apart at most.

    .venv/bin/python benchmarks/http_throughput.py
    .venv/bin/python benchmarks/http_throughput.py --rounds 3 --duration 10 --quiet-below 1.0
    .venv/bin/python benchmarks/http_throughput.py --scenarios nginx-static,cached-uvicorn --rounds 1

Needs wrk, nginx and taskset (Debian: ``apt-get install wrk nginx util-linux``), the PostgreSQL
server at ``--pg-url`` for the PostgreSQL scenario (a throwaway database is created and dropped),
and granian for the granian scenarios (``pip install -e '.[bench]'``). Writes
``benchmarks/results/http-throughput.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PRODUCTS = "/api/v1/products"
SHELF_ENV = {
    "SHELF_LOG_LEVEL": "warning",
    "SHELF_RATE_LIMIT_ANONYMOUS": "1000000000/minute",
}
TARGETS = {"cached": 0.5, "uncached": 0.08}  # issue 4, as fractions of nginx's requests/s


# --- wrk output -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int  # wrk counts non-2xx *and* non-3xx answers together
    socket_errors: int


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def duration_ms(text: str) -> float:
    """wrk's latency figures ("850.00us", "1.23ms", "1.02s") in milliseconds."""
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _UNITS_MS[match[2]]


def parse_wrk(output: str) -> WrkResult:
    """The figures of one ``wrk --latency`` run."""

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output has no {pattern!r}:\n{output}")
        return match

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests_per_second=float(find(r"^Requests/sec:\s+([0-9.]+)")[1]),
        p50_ms=duration_ms(find(r"^\s+50%\s+(\S+)")[1]),
        p99_ms=duration_ms(find(r"^\s+99%\s+(\S+)")[1]),
        requests=int(find(r"^\s+(\d+) requests in")[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def walking_script(paths: list[str]) -> str:
    """A wrk Lua script that requests ``paths`` in turn (each connection's thread walks the list)."""
    listed = ",\n".join(f"  {json.dumps(path)}" for path in paths)
    return (
        f"local paths = {{\n{listed}\n}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\n'
        "end\n"
    )


# --- processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def program(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if found is None:
        sys.exit(f"{name} is needed: apt-get install {'util-linux' if name == 'taskset' else name}")
    return found


@contextmanager
def running(argv: list[str], *, port: int, log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start a server, wait until its port accepts connections, stop it afterwards."""
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - programs and arguments of our own
            argv, env=os.environ | (env or {}), stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                sys.exit(f"{argv[2:5]} exited early:\n{log.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit(f"{argv} did not listen within 60 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def nginx_config(directory: Path, port: int) -> str:
    user = "user root root;" if os.geteuid() == 0 else ""  # workers must read the temporary directory
    temp = "\n".join(
        f"  {kind}_temp_path {directory / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    return f"""
{user}
daemon off;
master_process off;
worker_processes 1;
pid {directory / "nginx.pid"};
error_log {directory / "nginx-error.log"} warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
{temp}
  uwsgi_temp_path {directory / "uwsgi"};
  scgi_temp_path {directory / "scgi"};
  types {{ application/json json; }}
  server {{
    listen 127.0.0.1:{port};
    root {directory / "static"};
  }}
}}
"""


# --- the ceiling app: the same bytes, no framework ----------------------------------------------


async def ceiling_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """What an ASGI server allows at most: every request answered with the product's bytes."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = _CEILING_BODY
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_CEILING_BODY = (
    Path(os.environ["CEILING_BODY_FILE"]).read_bytes() if "CEILING_BODY_FILE" in os.environ else b""
)


# --- databases ------------------------------------------------------------------------------------


def shelf_command(*args: str, database_url: str) -> None:
    env = os.environ | {"SHELF_DATABASE_URL": database_url, "SHELF_LOG_LEVEL": "warning"}
    done = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "shelf", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"shelf {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def seed(database_url: str, products: int) -> None:
    shelf_command("db", "upgrade", database_url=database_url)
    shelf_command("seed", "--products", str(products), database_url=database_url)


async def active_ids(database_url: str) -> list[str]:
    url = make_url(database_url)
    query = "SELECT id FROM products WHERE status = 'active' ORDER BY id"
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(str(url.database)) as connection:
            return [str(uuid.UUID(row[0])) for row in connection.execute(query)]
    connection = await asyncpg.connect(database_url)
    try:
        return [str(row["id"]) for row in await connection.fetch(query)]
    finally:
        await connection.close()


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    name = f"shelf_bench_http_{secrets.token_hex(4)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(server_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- measuring ------------------------------------------------------------------------------------


@dataclass
class Measurement:
    scenario: str
    round: int
    load_average: float
    result: WrkResult


@dataclass
class Bench:
    args: argparse.Namespace
    directory: Path
    databases: dict[str, str] = field(default_factory=dict)  # "sqlite" / "postgresql" -> URL
    paths: dict[str, list[str]] = field(default_factory=dict)  # database -> its products' URLs
    measurements: list[Measurement] = field(default_factory=list)

    def pinned(self, cpu: int, argv: list[str]) -> list[str]:
        return [program("taskset"), "-c", str(cpu), *argv]

    def wrk(self, base_url: str, paths: list[str], duration: int) -> WrkResult:
        script = self.directory / "walk.lua"
        script.write_text(walking_script(paths))
        argv = [program("wrk"), f"-t{self.args.threads}", f"-c{self.args.connections}", f"-d{duration}s"]
        argv += ["--latency", "-s", str(script), base_url]
        done = subprocess.run(  # noqa: S603 - wrk with our own arguments
            self.pinned(self.args.client_cpu, argv), capture_output=True, text=True, check=True
        )
        return parse_wrk(done.stdout)

    def measure(self, scenario: str, round_: int, base_url: str, paths: list[str]) -> None:
        quiet(self.args.quiet_below, self.args.quiet_timeout)
        self.wrk(base_url, paths, self.args.warmup)
        load = os.getloadavg()[0]
        result = self.wrk(base_url, paths, self.args.duration)
        if result.non_2xx or result.socket_errors:
            print(f"  warning: {scenario}: {result.non_2xx} non-2xx, {result.socket_errors} socket errors")
        self.measurements.append(Measurement(scenario, round_, load, result))
        print(
            f"  {scenario:22s} {result.requests_per_second:10,.0f} req/s   p50 {result.p50_ms:6.2f} ms"
            f"   p99 {result.p99_ms:6.2f} ms   (load {load:.2f})"
        )

    def shelf(self, server: str, database_url: str, *, cached: bool) -> tuple[list[str], int, dict[str, str]]:
        """``(argv, port, environment)`` of one Shelf server with one worker, pinned."""
        port = free_port()
        if server == "uvicorn":  # the production entry point, exactly as deployed
            argv = [sys.executable, "-m", "shelf", "serve", "--host", "127.0.0.1", "--port", str(port)]
        else:
            argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--workers", "1"]
            argv += ["--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop"]
            argv += ["--log-level", "warning", "--no-access-log", "shelf.app:create_app_from_env"]
        env = SHELF_ENV | {"SHELF_DATABASE_URL": database_url, "SHELF_CACHE_ENABLED": str(cached).lower()}
        return self.pinned(self.args.server_cpu, argv), port, env

    def run_shelf(self, scenario: str, round_: int, server: str, database: str, *, cached: bool) -> None:
        argv, port, env = self.shelf(server, self.databases[database], cached=cached)
        with running(argv, port=port, log=self.directory / f"{scenario}.log", env=env) as base_url:
            paths = self.paths[database]
            with httpx.Client(base_url=base_url, timeout=30) as http:
                for path in paths:  # every product read once: cached from now on (when caching)
                    response = http.get(path)
                    if response.status_code != 200:
                        sys.exit(f"{scenario}: GET {path} -> {response.status_code}: {response.text[:300]}")
            self.measure(scenario, round_, base_url, paths)

    def run_nginx(self, round_: int) -> None:
        port = free_port()
        config = self.directory / "nginx.conf"
        config.write_text(nginx_config(self.directory, port))
        argv = [program("nginx"), "-p", str(self.directory), "-c", str(config)]
        argv += ["-e", str(self.directory / "nginx-error.log")]
        log = self.directory / "nginx.log"
        with running(self.pinned(self.args.server_cpu, argv), port=port, log=log) as base_url:
            self.measure("nginx-static", round_, base_url, ["/product.json"])

    def run_ceiling(self, round_: int, server: str) -> None:
        port = free_port()
        if server == "uvicorn":
            argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "--port", str(port)]
            argv += ["--log-level", "warning", "--no-access-log", "--no-server-header", "--loop", "uvloop"]
            argv += ["--http", "httptools", "http_throughput:ceiling_app"]
        else:
            argv = [
                sys.executable,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--workers",
                "1",
                "--port",
                str(port),
            ]
            argv += ["--working-dir", str(HERE), "--loop", "uvloop", "--log-level", "warning"]
            argv += ["--no-access-log", "http_throughput:ceiling_app"]
        env = {"CEILING_BODY_FILE": str(self.directory / "static" / "product.json")}
        log = self.directory / f"ceiling-{server}.log"
        with running(self.pinned(self.args.server_cpu, argv), port=port, log=log, env=env) as base_url:
            self.measure(f"ceiling-{server}", round_, base_url, ["/product.json"])


def quiet(below: float | None, longest: float) -> None:
    """On a shared machine: wait (at most ``longest`` seconds) for the 1-minute load average to drop."""
    if below is None:
        return
    deadline = time.monotonic() + longest
    while os.getloadavg()[0] > below and time.monotonic() < deadline:
        time.sleep(5)


SCENARIOS = [
    "nginx-static",
    "ceiling-uvicorn",
    "ceiling-granian",
    "cached-uvicorn",
    "cached-granian",
    "uncached-sqlite",
    "uncached-postgresql",
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated, from: " + ", ".join(SCENARIOS)
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat the sequence; medians are reported")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each measured wrk run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of the wrk run before each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--products", type=int, default=1000, help="seeded in each database")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--quiet-below", type=float, default=None, help="wait for a load average below this")
    parser.add_argument("--quiet-timeout", type=float, default=60, help="longest wait for --quiet-below (s)")
    args = parser.parse_args()
    scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if importlib.util.find_spec("granian") is None:
        dropped = [name for name in scenarios if name.endswith("granian")]
        if dropped:
            print(f"granian is not installed (pip install -e '.[bench]'): skipping {', '.join(dropped)}")
            scenarios = [name for name in scenarios if name not in dropped]

    with (
        tempfile.TemporaryDirectory(prefix="shelf-http-bench-") as temporary,
        _postgres(args, scenarios) as pg_url,
    ):
        directory = Path(temporary)
        (directory / "static").mkdir()
        bench = Bench(args, directory)
        bench.databases["sqlite"] = f"sqlite:///{directory / 'bench.db'}"
        if pg_url:
            bench.databases["postgresql"] = pg_url
        for name, url in bench.databases.items():
            print(f"seeding {args.products} products into {name}")
            seed(url, args.products)
            bench.paths[name] = [f"{PRODUCTS}/{product_id}" for product_id in asyncio.run(active_ids(url))]
        # The baseline serves the JSON of the first product exactly as Shelf sends it.
        argv, port, env = bench.shelf("uvicorn", bench.databases["sqlite"], cached=True)
        with running(argv, port=port, log=directory / "probe.log", env=env) as base_url:
            body = httpx.get(base_url + bench.paths["sqlite"][0], timeout=30).content
        (directory / "static" / "product.json").write_bytes(body)
        print(f"product JSON: {len(body)} bytes; {len(bench.paths['sqlite'])} active products per database")

        for round_ in range(1, args.rounds + 1):
            print(f"round {round_} of {args.rounds}")
            for scenario in scenarios:
                kind, _, variant = scenario.partition("-")
                if scenario == "nginx-static":
                    bench.run_nginx(round_)
                elif kind == "ceiling":
                    bench.run_ceiling(round_, variant)
                elif kind == "cached":
                    bench.run_shelf(scenario, round_, variant, "sqlite", cached=True)
                else:
                    bench.run_shelf(scenario, round_, "uvicorn", variant, cached=False)
        report(bench, scenarios, len(body))


@contextmanager
def _postgres(args: argparse.Namespace, scenarios: list[str]) -> Iterator[str | None]:
    if "uncached-postgresql" not in scenarios:
        yield None
        return
    with postgres_database(args.pg_url) as url:
        yield url


def report(bench: Bench, scenarios: list[str], body_bytes: int) -> None:
    medians: dict[str, dict[str, float]] = {}
    for scenario in scenarios:
        results = [m.result for m in bench.measurements if m.scenario == scenario]
        loads = [m.load_average for m in bench.measurements if m.scenario == scenario]
        medians[scenario] = {
            "requests_per_second": statistics.median(r.requests_per_second for r in results),
            "p50_ms": statistics.median(r.p50_ms for r in results),
            "p99_ms": statistics.median(r.p99_ms for r in results),
            "load_average": statistics.median(loads),
            "load_min": min(loads),
            "load_max": max(loads),
        }
    for scenario in scenarios:  # each round's ratio to that round's nginx, then their median
        ratios = [
            m.result.requests_per_second / n.result.requests_per_second
            for m in bench.measurements
            for n in bench.measurements
            if m.scenario == scenario and n.scenario == "nginx-static" and n.round == m.round
        ]
        if ratios:
            medians[scenario]["median_of_round_ratios"] = statistics.median(ratios)
    baseline = medians.get("nginx-static", {}).get("requests_per_second")
    print()
    print("| scenario | req/s | p50 ms | p99 ms | x nginx | target | load (min-max) |")
    print("|---|---:|---:|---:|---:|---|---|")
    for scenario, figures in medians.items():
        ratio = figures["requests_per_second"] / baseline if baseline else float("nan")
        target = TARGETS.get(scenario.partition("-")[0])
        verdict = f"≥ {target} {'met' if ratio >= target else 'not met'}" if target and baseline else ""
        print(
            f"| {scenario} | {figures['requests_per_second']:,.0f} | {figures['p50_ms']:.2f} | "
            f"{figures['p99_ms']:.2f} | {ratio:.3f} | {verdict} | {figures['load_average']:.2f}"
            f" ({figures['load_min']:.2f}-{figures['load_max']:.2f}) |"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "http-throughput.json"
    out.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "arguments": vars(bench.args),
                "body_bytes": body_bytes,
                "medians": medians,
                "runs": [asdict(m) for m in bench.measurements],
            },
            indent=2,
        )
    )
    print(f"\nwritten to {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
