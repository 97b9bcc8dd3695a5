"""Catalog at scale (issues 2 and 4): seed N products, then measure list, search and by-id latency
over HTTP, with the catalog cache switched off and warm.

For one backend this script

1. creates a fresh database (PostgreSQL: a throwaway ``shelf_bench_<random>`` on the server at
   ``--pg-url``; SQLite: a file under /tmp),
2. runs ``shelf db upgrade``,
3. runs ``shelf seed --products N`` (the bulk path: COPY on PostgreSQL, batched executemany on
   SQLite), timing it, then ``VACUUM (ANALYZE)`` on PostgreSQL / ``ANALYZE`` on SQLite,
4. starts two ``shelf serve`` processes on that database (one worker each, anonymous rate limit
   raised): *uncached* runs with ``SHELF_CACHE_ENABLED=false`` (every request reaches the
   database), *cached* with the default in-process cache (or whatever ``--cached-server-env``
   says, e.g. ``SHELF_REDIS_URL=...``), and waits for ``GET /healthz`` on both,
5. measures sequential keep-alive requests per scenario from an httpx client, first on the
   uncached server and then, for the same scenario, on the cached one. Each server's own
   ``GET /healthz`` is its baseline (the cost of the HTTP stack). Warm-up: ``--warmup`` requests
   uncached; on the cached server one full pass over the scenario's distinct requests on top, so
   every measured request is a hit. On a shared machine ``--quiet-below LOAD`` first waits for
   the load average to drop, and every measurement records the load average it started at;
   ``--rounds N`` repeats all of it N times, interleaved, and reports each figure's median,
6. stops the server, drops the database (unless ``--keep``), writes
   ``benchmarks/results/<backend>-<N>[-<label>].json`` and prints a markdown table.

``--database-url`` skips steps 1-3 and 6's drop: it benchmarks an existing, already seeded
database (useful to try an index by hand and measure again).

Examples::

    .venv/bin/python benchmarks/catalog_scale.py --backend postgresql --products 1000000 --quiet-below 1.0
    .venv/bin/python benchmarks/catalog_scale.py --backend sqlite --products 20000 --keep
    .venv/bin/python benchmarks/catalog_scale.py --backend postgresql --database-url URL --modes cached \\
        --cached-server-env SHELF_REDIS_URL=redis://127.0.0.1:6379/0 --label redis
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

import shelf
from shelf.catalog.demo import CATEGORIES

HERE = Path(__file__).resolve().parent
# The code under test: the servers inherit this process's environment, so PYTHONPATH=<dir>/src
# benchmarks a snapshot (``git archive HEAD src | tar -x -C <dir>``, commit in ``<dir>/COMMIT``)
# while other work changes the working tree.
SOURCE = Path(shelf.__file__).resolve().parent
RESULTS = HERE / "results"
SHELF = Path(sys.executable).parent / "shelf"
API = "/api/v1/products"

# Search words from src/shelf/catalog/demo.py: common materials and nouns, a rare two-word query,
# a bare prefix (the last token matches as a prefix: "head" finds Headphones and Headlamp), a colour
# that is in descriptions but never in a name, and a word that matches nothing.
SEARCH_QUERIES = {
    "merino": "material, in ~1/16 of names",
    "scarf": "apparel noun, ~1/80",
    "trail": "footwear noun, ~1/60",
    "walnut lamp": "two words, ~1/1000",
    "head": "prefix: headphones, headlamp, ~1/30",
    "navy": "colour: in ~1/10 of descriptions, in no name",
    "zebra": "matches nothing",
}
LIST_TARGET_P99_MS = 25.0
SEARCH_TARGET_P95_MS = 50.0
# Each mode is a server with this extra environment: the catalog cache off, or left at its default.
MODES: dict[str, list[str]] = {"uncached": ["SHELF_CACHE_ENABLED=false"], "cached": []}


# --- the database -------------------------------------------------------------------------------


@dataclass
class Database:
    backend: str
    url: str  # the plain URL shelf reads from SHELF_DATABASE_URL
    created: bool  # made by this run, so this run drops it
    name: str = ""
    admin_url: str = ""
    path: Path | None = None

    def env(self) -> dict[str, str]:
        return {**os.environ, "SHELF_DATABASE_URL": self.url}

    def server_env(self, extra: list[str]) -> dict[str, str]:
        # The anonymous rate limit (120/minute by default) would throttle a benchmark client; raise
        # it rather than switch the limiter off, so its per-request cost stays in the figures.
        env = {**self.env(), "SHELF_RATE_LIMIT_ANONYMOUS": "1000000/minute"}
        for item in extra:
            key, _, value = item.partition("=")
            env[key] = value
        return env


def create_database(args: argparse.Namespace) -> Database:
    if args.database_url:
        backend = make_url(args.database_url).get_backend_name()
        if backend != args.backend:
            raise SystemExit(f"--database-url is a {backend} URL, but --backend is {args.backend}")
        return Database(args.backend, args.database_url, created=False)
    suffix = secrets.token_hex(4)
    if args.backend == "sqlite":
        path = Path(args.sqlite_dir) / f"shelf_bench_{suffix}.db"
        return Database("sqlite", f"sqlite:///{path}", created=True, path=path)
    name = f"shelf_bench_{suffix}"
    admin = make_url(args.pg_url)
    asyncio.run(
        _pg_execute(admin.set(database="postgres").render_as_string(False), f'CREATE DATABASE "{name}"')
    )
    url = admin.set(database=name).render_as_string(hide_password=False)
    return Database("postgresql", url, created=True, name=name, admin_url=args.pg_url)


def drop_database(db: Database) -> None:
    if not db.created:
        return
    if db.backend == "sqlite" and db.path is not None:
        for extra in ("", "-wal", "-shm"):
            Path(f"{db.path}{extra}").unlink(missing_ok=True)
        return
    admin = make_url(db.admin_url).set(database="postgres").render_as_string(hide_password=False)
    asyncio.run(_pg_execute(admin, f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)'))


async def _pg_execute(url: str, *statements: str) -> list[Any]:
    connection = await asyncpg.connect(url)
    try:
        return [await connection.fetch(statement) for statement in statements]
    finally:
        await connection.close()


def database_facts(db: Database) -> dict[str, Any]:
    """Size on disk, row count and server version, for the report."""
    if db.backend == "sqlite":
        path = Path(make_url(db.url).database or "")
        with sqlite3.connect(path) as connection:
            count = connection.execute("SELECT count(*) FROM products").fetchone()[0]
        size = sum(
            Path(f"{path}{extra}").stat().st_size for extra in ("", "-wal") if Path(f"{path}{extra}").exists()
        )
        return {"products": count, "size_bytes": size, "server": f"SQLite {sqlite3.sqlite_version}"}
    count, size, version = asyncio.run(
        _pg_execute(
            db.url,
            "SELECT count(*) FROM products",
            "SELECT pg_database_size(current_database())",
            "SHOW server_version",
        )
    )
    return {"products": count[0][0], "size_bytes": size[0][0], "server": f"PostgreSQL {version[0][0]}"}


def sample_ids(db: Database, count: int) -> list[str]:
    """``count`` active products picked at random across the catalog, for the by-id scenario."""
    statement = "SELECT id FROM products WHERE status = 'active' ORDER BY random() LIMIT "
    if db.backend == "sqlite":
        with sqlite3.connect(make_url(db.url).database or "") as connection:
            found = [row[0] for row in connection.execute(statement + "?", (count,))]
    else:
        found = asyncio.run(_pg_fetch_column(db.url, statement + "$1", count))
    return [str(uuid.UUID(str(value))) for value in found]


async def _pg_fetch_column(url: str, statement: str, *arguments: Any) -> list[Any]:
    connection = await asyncpg.connect(url)
    try:
        return [row[0] for row in await connection.fetch(statement, *arguments)]
    finally:
        await connection.close()


def analyze(db: Database, vacuum: bool) -> float:
    started = time.perf_counter()
    if db.backend == "sqlite":
        path = make_url(db.url).database or ""
        with sqlite3.connect(path) as connection:
            connection.execute("ANALYZE")
    else:
        # After a 1M-row COPY, autovacuum would run VACUUM ANALYZE on its own within a minute;
        # running it now keeps it from landing in the middle of the measurements.
        asyncio.run(_pg_execute(db.url, "VACUUM (ANALYZE) products" if vacuum else "ANALYZE"))
        if vacuum:
            asyncio.run(_pg_execute(db.url, "VACUUM (ANALYZE) product_tags"))
    return time.perf_counter() - started


# --- the shelf CLI ------------------------------------------------------------------------------


def run_shelf(db: Database, *arguments: str) -> tuple[float, str]:
    """Run one ``shelf`` command to completion; return its wall time and combined output."""
    started = time.perf_counter()
    finished = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [str(SHELF), *arguments], env=db.env(), capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    output = finished.stdout + finished.stderr
    if finished.returncode != 0:
        raise SystemExit(f"shelf {' '.join(arguments)} failed ({finished.returncode}):\n{output}")
    return elapsed, output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """``shelf serve`` with one worker, as a child process of this script."""

    def __init__(self, db: Database, port: int, log_path: Path, extra_env: list[str]) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.env = {k: v for k, v in db.server_env(extra_env).items() if k.startswith("SHELF_")}
        self._log = log_path.open("w")
        self._process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [str(SHELF), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=db.server_env(extra_env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SystemExit(f"shelf serve exited with {self._process.returncode}; see {self._log.name}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"shelf serve did not answer /healthz within {timeout} s")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()


# --- scenarios ----------------------------------------------------------------------------------


# A scenario's requests: yields (path, params); is sent each response's JSON body back (None for
# non-API paths), so a chain of pages can follow next_cursor.
Requests = Generator[tuple[str, dict[str, str]], Any, None]


@dataclass
class Scenario:
    name: str
    kind: str  # "baseline", "list", "search" or "by-id"
    example: str  # one URL, for the report
    requests: Callable[[httpx.Client], Requests]
    note: str = ""
    distinct: int = 1  # distinct requests in one cycle: the cached server's extra warm-up


@dataclass
class Result:
    scenario: Scenario
    mode: str = ""  # "uncached" or "cached"
    round: int = 1
    samples_ms: list[float] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    load_at_start: float | None = None  # 1-minute load average: the machine is shared

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    def summary(self, baseline_p50: float | None) -> dict[str, Any]:
        p50 = self.percentile(50)
        return {
            "name": self.scenario.name,
            "mode": self.mode,
            "kind": self.scenario.kind,
            "example": self.scenario.example,
            "note": self.scenario.note,
            "requests": len(self.samples_ms),
            "p50_ms": round(p50, 2),
            "p95_ms": round(self.percentile(95), 2),
            "p99_ms": round(self.percentile(99), 2),
            "mean_ms": round(statistics.fmean(self.samples_ms), 2),
            "max_ms": round(max(self.samples_ms), 2),
            "mean_items": round(statistics.fmean(self.items), 1) if self.items else 0,
            "p50_over_healthz_p50": round(p50 / baseline_p50, 1) if baseline_p50 else None,
            "loadavg_1m_at_start": self.load_at_start,
        }


def _cycle(values: list[dict[str, str]]) -> Callable[[httpx.Client], Requests]:
    def requests(_client: httpx.Client) -> Requests:
        while True:
            for params in values:
                yield API, params

    return requests


def _each_path(paths: list[str]) -> Callable[[httpx.Client], Requests]:
    def requests(_client: httpx.Client) -> Requests:
        while True:
            for path in paths:
                yield path, {}

    return requests


def _following_cursor(base: list[dict[str, str]], depth: int) -> Callable[[httpx.Client], Requests]:
    """Pages 2..depth+1 of each base query: page 1 is fetched unmeasured to get the first cursor."""

    def requests(client: httpx.Client) -> Requests:
        while True:
            for params in base:
                cursor = client.get(API, params=params).json()["next_cursor"]
                for _ in range(depth):
                    if cursor is None:
                        break
                    page = yield API, {**params, "cursor": cursor}
                    cursor = page["next_cursor"]

    return requests


def _price_band(low: int, high: int) -> tuple[str, str]:
    """The middle fifth of a category's price range, in whole euros."""
    span = high - low
    return f"{low + span * 2 // 5}.00", f"{low + span * 3 // 5}.00"


def scenarios(product_ids: list[str]) -> list[Scenario]:
    slugs = [c.slug for c in CATEGORIES]
    by_price = [{"category": s, "sort": "-price", "limit": "20"} for s in slugs]
    in_band = [
        {
            "category": c.slug,
            "price_min": _price_band(*c.price_range)[0],
            "price_max": _price_band(*c.price_range)[1],
            "sort": "-price",
            "limit": "20",
        }
        for c in CATEGORIES
    ]
    by_name = [{"category": s, "sort": "name", "limit": "20"} for s in slugs]
    band_by_name = [{**p, "sort": "name"} for p in in_band]
    found: list[Scenario] = [
        Scenario(
            "healthz (baseline)", "baseline", "/healthz", lambda _c: _forever("/healthz"), "no database"
        ),
        Scenario(
            "by id: active product",
            "by-id",
            f"{API}/{{id}}",
            _each_path([f"{API}/{i}" for i in product_ids]),
            f"{len(product_ids)} random active products, each once per cycle",
            distinct=len(product_ids),
        ),
        Scenario(
            "list: newest first, no filter",
            "list",
            f"{API}?limit=20",
            _cycle([{"limit": "20"}]),
            "default sort -created_at",
        ),
        Scenario(
            "list: category, sort -price",
            "list",
            f"{API}?category=apparel&sort=-price&limit=20",
            _cycle(by_price),
            "categories rotate",
            distinct=len(by_price),
        ),
        Scenario(
            "list: category + price band, sort -price",
            "list",
            f"{API}?category=apparel&price_min=102.00&price_max=146.00&sort=-price&limit=20",
            _cycle(in_band),
            "middle fifth of each category's price range",
            distinct=len(in_band),
        ),
        Scenario(
            "list: category, sort name",
            "list",
            f"{API}?category=apparel&sort=name&limit=20",
            _cycle(by_name),
            "categories rotate",
            distinct=len(by_name),
        ),
        Scenario(
            "list: category + price band, sort name",
            "list",
            f"{API}?category=apparel&price_min=102.00&price_max=146.00&sort=name&limit=20",
            _cycle(band_by_name),
            "",
            distinct=len(band_by_name),
        ),
        Scenario(
            "list: category, sort -price, pages 2-6",
            "list",
            f"{API}?category=apparel&sort=-price&limit=20&cursor=...",
            _following_cursor(by_price, 5),
            "following next_cursor",
            distinct=len(by_price) * 5,
        ),
        Scenario(
            "list: category, sort name, pages 2-6",
            "list",
            f"{API}?category=apparel&sort=name&limit=20&cursor=...",
            _following_cursor(by_name, 5),
            "following next_cursor",
            distinct=len(by_name) * 5,
        ),
    ]
    found.extend(
        Scenario(f"search: q={q}", "search", f"{API}?q={q.replace(' ', '+')}", _cycle([{"q": q}]), note)
        for q, note in SEARCH_QUERIES.items()
    )
    return found


def _forever(path: str) -> Requests:
    while True:
        yield path, {}


def measure(client: httpx.Client, scenario: Scenario, mode: str, warmup: int, count: int) -> Result:
    result = Result(scenario, mode, load_at_start=round(os.getloadavg()[0], 2))
    requests = scenario.requests(client)
    path, params = next(requests)
    for index in range(warmup + count):
        started = time.perf_counter()
        response = client.get(path, params=params)
        body = response.content  # read fully inside the timed region
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{scenario.name}: {response.status_code} for {response.url}: {body[:500]!r}")
        page = json.loads(body) if path == API else None
        if index >= warmup:
            result.samples_ms.append(elapsed_ms)
            if page is not None:
                result.items.append(len(page["items"]))
        path, params = requests.send(page)
    requests.close()
    return result


# --- the report ---------------------------------------------------------------------------------


def targets(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 2's targets, per mode: every list scenario's p99 and every search scenario's p95."""
    found = []
    for mode in dict.fromkeys(s["mode"] for s in summaries):
        for kind, label, percentile, limit in (
            ("list", "List page", "p99", LIST_TARGET_P99_MS),
            ("search", "Search", "p95", SEARCH_TARGET_P95_MS),
        ):
            measured = [s for s in summaries if s["kind"] == kind and s["mode"] == mode]
            if not measured:
                continue
            worst = max(measured, key=lambda s: float(s[f"{percentile}_ms"]))
            found.append(
                {
                    "target": f"{label} {percentile} < {limit:.0f} ms",
                    "mode": mode,
                    "met": worst[f"{percentile}_ms"] < limit,
                    "worst": worst["name"],
                    "worst_ms": worst[f"{percentile}_ms"],
                    "missed_by": [s["name"] for s in measured if s[f"{percentile}_ms"] >= limit],
                }
            )
    return found


def markdown(report: dict[str, Any]) -> str:
    seed = report["seed"]
    modes = list(dict.fromkeys(s["mode"] for s in report["scenarios"]))
    header = "| scenario |" + "".join(f" {m} p50 | p95 | p99 | p50/healthz | load |" for m in modes)
    lines = [
        f"### {report['backend']}, {report['products']:,} products ({report['date']},"
        f" commit {report['commit']}, medians of {report['rounds']} round(s))",
        "",
        f"Seed: {seed['wall_s']:.1f} s wall ({seed['rows_per_s']:,.0f} rows/s)"
        + (f"; shelf reported {seed['reported']}" if seed.get("reported") else "")
        + f"; {report['analyze_step']}: {report['analyze_s']:.1f} s;"
        f" database {report['database']['size_bytes'] / 2**20:,.0f} MiB",
        "",
        header,
        "|---|" + "---:|" * 5 * len(modes),
    ]
    by_key = {(s["name"], s["mode"]): s for s in report["scenarios"]}
    for name in dict.fromkeys(s["name"] for s in report["scenarios"]):
        cells = []
        for mode in modes:
            s = by_key.get((name, mode))
            if s is None:
                cells.append(" | | | | |")
                continue
            ratio = "" if s["p50_over_healthz_p50"] is None else f"{s['p50_over_healthz_p50']:.1f}x"
            load = "" if s["loadavg_1m_at_start"] is None else s["loadavg_1m_at_start"]
            cells.append(f" {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['p99_ms']:.1f} | {ratio} | {load} |")
        lines.append(f"| {name} |" + "".join(cells))
    lines.append("")
    for t in report["targets"]:
        verdict = "met" if t["met"] else f"MISSED by {', '.join(t['missed_by'])}"
        lines.append(f"{t['mode']}: {t['target']}: {verdict} (worst: {t['worst']}, {t['worst_ms']:.1f} ms)")
    return "\n".join(lines)


def git_commit() -> str:
    """The commit of the code under test (``SOURCE``): a snapshot's ``COMMIT`` file, or git's word."""
    marker = SOURCE.parent.parent / "COMMIT"
    if marker.is_file():
        return f"{marker.read_text().strip()} (snapshot in {SOURCE.parent.parent})"
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607 - git from PATH
            cwd=SOURCE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# --- main ---------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--products", type=int, default=1_000_000, help="How many products to seed.")
    parser.add_argument("--requests", type=int, default=300, help="Measured requests per scenario and mode.")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="Repeat every scenario this many times, interleaved; each figure is the median over rounds.",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=30,
        help="Unmeasured requests per scenario first (cached: plus one pass over its distinct requests).",
    )
    parser.add_argument(
        "--modes",
        default="uncached,cached",
        help="Comma-separated: uncached (SHELF_CACHE_ENABLED=false), cached (the cache warm).",
    )
    parser.add_argument("--port", type=int, default=0, help="Server port (default: a free one).")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sqlite-dir", default="/tmp")  # noqa: S108 - a throwaway benchmark file
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--no-vacuum", action="store_true", help="PostgreSQL: ANALYZE only, no VACUUM.")
    parser.add_argument(
        "--database-url",
        help="Benchmark this existing, seeded database: no create, migrate, seed or drop.",
    )
    parser.add_argument("--label", default="", help="Suffix of the results file name.")
    parser.add_argument(
        "--only",
        default="",
        metavar="TEXT",
        help="Measure only the scenarios whose name contains TEXT (the healthz baseline always runs).",
    )
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.0,
        metavar="LOAD",
        help="Before measuring, wait for the 1-minute load average to drop below LOAD (0: don't).",
    )
    parser.add_argument("--quiet-timeout", type=float, default=900.0, help="Longest wait for --quiet-below.")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Extra environment for both servers (repeatable), e.g. SHELF_RATE_LIMIT_ENABLED=false.",
    )
    parser.add_argument(
        "--cached-server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Extra environment for the cached server only, e.g. SHELF_REDIS_URL=redis://127.0.0.1:6379/0.",
    )
    args = parser.parse_args()
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or set(args.modes) - set(MODES):
        parser.error(f"--modes takes a comma-separated subset of {', '.join(MODES)}")
    return args


def wait_for_quiet(below: float, timeout: float) -> float:
    """On a shared machine, wait (up to ``timeout`` s) for the 1-minute load average to drop."""
    started = time.monotonic()
    if below <= 0:
        return 0.0
    while os.getloadavg()[0] >= below and time.monotonic() - started < timeout:
        time.sleep(5)
    waited = time.monotonic() - started
    print(f"load average {os.getloadavg()[0]:.2f} after waiting {waited:.0f} s", flush=True)
    return round(waited)


def prepare(db: Database, args: argparse.Namespace, report: dict[str, Any]) -> None:
    """Migrate, seed and analyze a database this run created."""
    upgrade_s, _ = run_shelf(db, "db", "upgrade")
    print(f"migrated in {upgrade_s:.1f} s; seeding {args.products:,} products...", flush=True)
    seed_s, output = run_shelf(db, "seed", "--products", str(args.products))
    reported = re.search(r"seeded \d+ products in [\d.]+ s \([\d,]+/s\)", output)
    report["seed"] = {
        "wall_s": round(seed_s, 1),
        "rows_per_s": round(args.products / seed_s),
        "reported": reported.group(0) if reported else None,
    }
    print(f"seeded in {seed_s:.1f} s ({args.products / seed_s:,.0f} rows/s)", flush=True)
    vacuum = args.backend == "postgresql" and not args.no_vacuum
    report["analyze_step"] = "VACUUM (ANALYZE)" if vacuum else "ANALYZE"
    report["analyze_s"] = round(analyze(db, vacuum), 1)
    print(f"{report['analyze_step']} in {report['analyze_s']:.1f} s", flush=True)


def benchmark(
    servers: dict[str, Server], product_ids: list[str], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Every scenario on every server, in ``--rounds`` interleaved rounds; medians over the rounds.

    Within a round each scenario runs on the uncached server and then on the cached one, and every
    round starts with both servers' ``/healthz`` baseline, so a figure and its baseline are never
    more than a few minutes apart on a machine whose load changes.
    """
    results: list[Result] = []
    clients = {mode: httpx.Client(base_url=server.base_url, timeout=60.0) for mode, server in servers.items()}
    try:
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_} of {args.rounds} (load {proc_loadavg()})", flush=True)
            for scenario in scenarios(product_ids):
                if args.only and scenario.kind != "baseline" and args.only not in scenario.name:
                    continue
                for mode, client in clients.items():
                    # The cached server warms its cache with one pass over the scenario's distinct
                    # requests in every round (entries from the last round may have expired: pages
                    # live 30 s), so every measured request is a hit.
                    warmup = args.warmup + (scenario.distinct if mode == "cached" else 0)
                    result = measure(client, scenario, mode, warmup, args.requests)
                    result.round = round_
                    results.append(result)
                    print(
                        f"  {scenario.name} [{mode}]: p50 {result.percentile(50):.1f} ms,"
                        f" p95 {result.percentile(95):.1f} ms, p99 {result.percentile(99):.1f} ms"
                        f" (load {result.load_at_start})",
                        flush=True,
                    )
    finally:
        for client in clients.values():
            client.close()
    per_round: list[dict[str, Any]] = []
    for mode in servers:
        for round_ in range(1, args.rounds + 1):
            mine = [r for r in results if r.mode == mode and r.round == round_]
            baseline = next(r.percentile(50) for r in mine if r.scenario.kind == "baseline")
            pooled = Result(Scenario("search: all queries pooled", "search", "", _cycle([])), mode, round_)
            for r in mine:
                if r.scenario.kind == "search":
                    pooled.samples_ms += r.samples_ms
                    pooled.items += r.items
            if pooled.samples_ms:
                pooled.load_at_start = next(r.load_at_start for r in mine if r.scenario.kind == "search")
                mine.append(pooled)
            per_round += [{**r.summary(baseline), "round": round_} for r in mine]
    return [_median_over_rounds(group) for group in _grouped(per_round)]


def _grouped(summaries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in summaries:
        groups.setdefault((s["name"], s["mode"]), []).append(s)
    return list(groups.values())


def _median_over_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One scenario on one server: each figure's median over the rounds, and every round's figures."""
    figures = ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "p50_over_healthz_p50")
    merged = {**rounds[0]}
    del merged["round"]
    for key in figures:
        values = [r[key] for r in rounds if r[key] is not None]
        merged[key] = round(statistics.median(values), 2) if values else None
    merged["max_ms"] = max(r["max_ms"] for r in rounds)
    merged["requests"] = sum(r["requests"] for r in rounds)
    loads = [r["loadavg_1m_at_start"] for r in rounds if r["loadavg_1m_at_start"] is not None]
    merged["loadavg_1m_at_start"] = round(statistics.median(loads), 2) if loads else None
    merged["loadavg_1m_each_round"] = loads
    merged["rounds"] = [{key: r[key] for key in ("round", "p50_ms", "p95_ms", "p99_ms")} for r in rounds]
    return merged


def proc_loadavg() -> str:
    """The whole of /proc/loadavg (1, 5 and 15 minutes, runnable/all tasks): the machine is shared."""
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    args = parse_args()
    # Turn SIGTERM into SystemExit, so the cleanup below (stop the server, drop the database) runs.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    db = create_database(args)
    print(f"database: {db.url}", flush=True)
    report: dict[str, Any] = {
        "backend": args.backend,
        "products": args.products,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_before": os.getloadavg(),
            "proc_loadavg_before": proc_loadavg(),
        },
        "modes": {
            mode: MODES[mode] + (args.cached_server_env if mode == "cached" else []) for mode in args.modes
        },
        "requests_per_scenario_and_round": args.requests,
        "rounds": args.rounds,
        "warmup_per_scenario": args.warmup,
        "seed": {"wall_s": 0.0, "rows_per_s": 0, "reported": "existing database, not seeded"},
        "analyze_step": "no ANALYZE (existing database)",
        "analyze_s": 0.0,
    }
    servers: dict[str, Server] = {}
    try:
        if db.created:
            prepare(db, args, report)
        report["database"] = database_facts(db)
        product_ids = sample_ids(db, args.requests)
        RESULTS.mkdir(exist_ok=True)
        for number, mode in enumerate(args.modes):
            port = args.port + number if args.port else free_port()
            extra = args.server_env + MODES[mode] + (args.cached_server_env if mode == "cached" else [])
            servers[mode] = Server(db, port, RESULTS / f"server-{args.backend}-{mode}.log", extra)
        report["server_env"] = {mode: server.env for mode, server in servers.items()}
        for server in servers.values():
            server.wait_ready()
        report["waited_for_quiet_s"] = wait_for_quiet(args.quiet_below, args.quiet_timeout)
        report["scenarios"] = benchmark(servers, product_ids, args)
        report["targets"] = targets(report["scenarios"])
        report["machine"]["loadavg_after"] = os.getloadavg()
        report["machine"]["proc_loadavg_after"] = proc_loadavg()
    finally:
        for server in servers.values():
            server.stop()
        if args.keep or not db.created:
            print(f"kept database: {db.url}", flush=True)
        else:
            drop_database(db)
    label = f"-{args.label}" if args.label else ""
    out = RESULTS / f"{args.backend}-{args.products}{label}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(markdown(report))
    print(f"\nwritten: {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
