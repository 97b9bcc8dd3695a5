"""OFREP bulk evaluation (issue 7): ``POST /ofrep/v1/evaluate/flags`` over 50 flags, with wrk.

One ``shelf serve`` (uvicorn, one worker, the production entry point) on a fresh SQLite database,
pinned to one CPU, wrk (``-t1``) pinned to the other. Through the API, with an editor key, it
creates 50 flags of mixed kinds: 25 boolean rollouts (0-100 %), 15 multivariate splits (2-4
variants, 5 of them with payloads, some below 100 %), 10 flags with targeting rules (``in``,
``semver_gte``, ``eq``, ``gte``, ``starts_with``, ``regex``; fixed variants and rule rollouts).
Then, with a ``client`` key, each round measures with the same wrk settings:

- ``healthz``: ``GET /healthz`` without credentials, the server's cheapest route: the baseline
  (the HTTP server, Shelf's middleware, a route);
- ``single``: ``POST /ofrep/v1/evaluate/flags/{key}``, one flag per request (the flags in turn);
- ``bulk``: ``POST /ofrep/v1/evaluate/flags``, every flag for one user per request, 1,000 users
  (``user-1`` ...) in turn with a few attributes each, so rules match some and not others. The
  warm-up covers every user, so the measured run sends no new exposure (each is sent once);
- ``bulk-304``: the same requests with ``If-None-Match`` naming each user's ETag, as an OFREP
  provider polls: 304, no evaluation.

The figure of the issue is ``bulk`` (target: >= 3,000 requests/s on one worker), with its ratio to
``healthz`` in the same round. Beside each run: the server's and wrk's CPU use (from
``/proc/<pid>/stat`` and the child's rusage) over the measured run, to show which one is the
bottleneck (the server should be near 100 % of its core, wrk well below), and the server's CPU
time per request with its inverse, "req/s per core": what the worker answers per second of CPU,
the figure to read when other processes share the machine and the worker gets less than a core.

    .venv/bin/python benchmarks/ofrep_bulk.py
    .venv/bin/python benchmarks/ofrep_bulk.py --rounds 3 --duration 10 --warmup 3

Needs wrk and taskset (Debian: ``apt-get install wrk util-linux``). Reuses the process and wrk
helpers of ``http_throughput.py``. Writes ``benchmarks/results/ofrep-bulk.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from http_throughput import RESULTS, WrkResult, free_port, parse_wrk, program, quiet, running

HERE = Path(__file__).resolve().parent
BULK = "/ofrep/v1/evaluate/flags"
USERS = 1_000
COUNTRIES = ["NO", "SE", "FR", "DK", "DE"]
PLANS = ["free", "pro", "team"]
VERSIONS = ["2.2.9", "2.3.0", "2.4.1-rc.1", "3.0.0"]
DOMAINS = ["example.com", "shelf.example"]
SHELF_ENV = {
    "SHELF_LOG_LEVEL": "warning",
    "SHELF_RATE_LIMIT_FLAG_EVALUATIONS": "1000000000/second",
    "SHELF_RATE_LIMIT_WRITES": "1000000000/minute",
    "SHELF_RATE_LIMIT_ANONYMOUS": "1000000000/minute",
    "SHELF_RATE_LIMIT_AUTHENTICATED": "1000000000/minute",
}
TARGET_RPS = 3_000
SCENARIOS = ["healthz", "single", "bulk", "bulk-304"]


def flags() -> list[dict[str, Any]]:
    """50 flags: 25 boolean rollouts, 15 multivariate splits, 10 with targeting rules."""
    result: list[dict[str, Any]] = [{"key": f"bool-{i:02}", "rollout": (i * 17) % 101} for i in range(25)]
    for i in range(15):
        count = 2 + i % 3
        weights = [100 // count] * count
        weights[-1] += 100 - sum(weights)
        variants: list[dict[str, Any]] = [{"key": f"v{j}", "weight": w} for j, w in enumerate(weights)]
        if i % 3 == 0:
            for j, variant in enumerate(variants):
                variant["payload"] = {"layout": f"layout-{j}", "columns": j + 2}
        rollout = 100 if i % 2 else 50 + i
        result.append(
            {"key": f"multi-{i:02}", "type": "multivariate", "rollout": rollout, "variants": variants}
        )
    rules: list[list[dict[str, Any]]] = [
        [{"attribute": "country", "op": "in", "value": ["NO", "SE", "DK"]}],
        [{"attribute": "app_version", "op": "semver_gte", "value": "2.3.0"}],
        [{"attribute": "plan", "op": "eq", "value": "pro"}, {"attribute": "age", "op": "gte", "value": 18}],
        [{"attribute": "email", "op": "regex", "value": r"@shelf\.example$"}],
        [{"attribute": "targetingKey", "op": "starts_with", "value": "user-1"}],
    ]
    for i in range(10):
        conditions = rules[i % len(rules)]
        if i < 5:
            flag: dict[str, Any] = {
                "key": f"rules-{i:02}",
                "rollout": 10,
                "rules": [{"conditions": conditions, "rollout": 50 + 10 * i}, {"conditions": rules[4]}],
            }
        else:
            flag = {
                "key": f"rules-{i:02}",
                "type": "multivariate",
                "rollout": 100,
                "variants": [{"key": "control", "weight": 50}, {"key": "treatment", "weight": 50}],
                "rules": [{"conditions": conditions, "variant": "treatment"}, {"conditions": rules[2]}],
            }
        result.append(flag)
    return result


def context_of(user: int) -> dict[str, Any]:
    return {
        "targetingKey": f"user-{user}",
        "country": COUNTRIES[user % len(COUNTRIES)],
        "plan": PLANS[user % len(PLANS)],
        "app_version": VERSIONS[user % len(VERSIONS)],
        "age": 14 + user % 40,
        "email": f"person{user}@{DOMAINS[user % len(DOMAINS)]}",
    }


def lua_list(items: list[str]) -> str:
    return "{\n" + ",\n".join(f"  {json.dumps(item)}" for item in items) + "\n}"


def request_script(
    method: str, paths: list[str], bodies: list[str], headers: dict[str, str], etags: list[str] | None = None
) -> str:
    """A wrk Lua script: request ``i`` goes to ``paths[i % n]`` with ``bodies[i % m]`` (and the
    matching ``If-None-Match``)."""
    header_lines = "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items())
    etag_line = "  wrk.headers['If-None-Match'] = etags[(i - 1) % #etags + 1]\n" if etags else ""
    return (
        f"wrk.method = {json.dumps(method)}\n{header_lines}"
        f"local paths = {lua_list(paths)}\n"
        f"local bodies = {lua_list(bodies)}\n"
        f"local etags = {lua_list(etags or [''])}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        f"{etag_line}"
        "  local body = bodies[(i - 1) % #bodies + 1]\n"
        "  if body == '' then body = nil end\n"
        "  return wrk.format(nil, paths[(i - 1) % #paths + 1], nil, body)\n"
        "end\n"
    )


def py_spy() -> str:
    return shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")  # pip install -e '.[bench]'


def server_pid(port: int) -> int:
    """The process listening on ``port``: the ``shelf serve`` started with ``--port port``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and b"--port" in argv and str(port).encode() in argv:
            return int(entry.name)
    sys.exit(f"no shelf serve process on port {port}")


def cpu_seconds(pid: int) -> float:
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@dataclass
class Measurement:
    scenario: str
    round: int
    load_average: float
    server_cpu: float  # of one core, over the measured run
    wrk_cpu: float
    cpu_ms_per_request: float  # the server's CPU time per answered request

    @property
    def per_core(self) -> float:
        """Requests per second of the server's CPU time: what one worker with a core of its own
        would answer (on a shared machine the worker gets less than a core)."""
        return 1000 / self.cpu_ms_per_request if self.cpu_ms_per_request else 0.0

    result: WrkResult


class Bench:
    def __init__(self, args: argparse.Namespace, directory: Path, base_url: str, pid: int) -> None:
        self.args = args
        self.directory = directory
        self.base_url = base_url
        self.pid = pid
        self.measurements: list[Measurement] = []

    def wrk(self, script: str, duration: int) -> tuple[WrkResult, float, float]:
        path = self.directory / "requests.lua"
        path.write_text(script)
        argv = [program("taskset"), "-c", str(self.args.client_cpu), program("wrk")]
        argv += [f"-t{self.args.threads}", f"-c{self.args.connections}", f"-d{duration}s", "--latency"]
        argv += ["-s", str(path), self.base_url]
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        server = cpu_seconds(self.pid)
        start = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, check=True)  # noqa: S603 - wrk, our arguments
        elapsed = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wrk_cpu = (after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime) / elapsed
        return parse_wrk(done.stdout), (cpu_seconds(self.pid) - server) / elapsed, wrk_cpu

    def profile(self, scenario: str, round_: int) -> subprocess.Popen[bytes] | None:
        """py-spy over the measured run (``--profile``), on wrk's CPU: collapsed stacks to a file."""
        if scenario not in self.args.profile:
            return None
        out = RESULTS / f"ofrep-{scenario}-round{round_}.txt"
        RESULTS.mkdir(exist_ok=True)
        argv = [program("taskset"), "-c", str(self.args.client_cpu), py_spy(), "record", "--nonblocking"]
        argv += ["-p", str(self.pid), "-d", str(self.args.duration), "-r", "200", "-f", "raw", "-o", str(out)]
        print(f"  profiling {scenario} to {out.relative_to(HERE.parent)}")
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603

    def measure(self, scenario: str, round_: int, script: str) -> None:
        quiet(self.args.quiet_below, self.args.quiet_timeout)
        self.wrk(script, self.args.warmup)
        load = os.getloadavg()[0]
        spy = self.profile(scenario, round_)
        result, server_cpu, wrk_cpu = self.wrk(script, self.args.duration)
        if spy is not None:
            spy.wait(timeout=60)
        if result.non_2xx or result.socket_errors:
            print(
                f"  warning: {scenario}: {result.non_2xx} non-2xx/3xx, {result.socket_errors} socket errors"
            )
        cpu_ms = server_cpu * self.args.duration * 1000 / max(result.requests, 1)
        measurement = Measurement(scenario, round_, load, server_cpu, wrk_cpu, cpu_ms, result)
        self.measurements.append(measurement)
        print(
            f"  {scenario:9s} {result.requests_per_second:9,.0f} req/s   p50 {result.p50_ms:6.2f} ms"
            f"   p99 {result.p99_ms:6.2f} ms   server CPU {server_cpu:4.0%} ({cpu_ms:.3f} ms/request,"
            f" {measurement.per_core:,.0f} req/s per core)   wrk CPU {wrk_cpu:4.0%}"
            f"   (load {load:.2f})"
        )


def shelf_cli(*args: str, database_url: str) -> str:
    env = os.environ | {"SHELF_DATABASE_URL": database_url, "SHELF_LOG_LEVEL": "warning"}
    done = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "shelf", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"shelf {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def api_key(role: str, database_url: str) -> str:
    created = shelf_cli(
        "apikeys", "create", "--name", f"bench-{role}", "--role", role, database_url=database_url
    )
    return created.strip().splitlines()[-1]


def prepare(http: httpx.Client, editor: str, client: str) -> tuple[list[str], list[str]]:
    """Create the flags; return every user's bulk body and the ETag the server gives it."""
    staff = {"Authorization": f"Bearer {editor}"}
    for flag in flags():
        created = http.post("/api/v1/flags", json=flag, headers=staff)
        if created.status_code != 201:
            sys.exit(f"POST /api/v1/flags {flag['key']} -> {created.status_code}: {created.text[:300]}")
    bodies = [
        json.dumps({"context": context_of(user)}, separators=(",", ":")) for user in range(1, USERS + 1)
    ]
    etags = []
    for body in bodies:
        answer = http.post(BULK, content=body, headers={"Authorization": f"Bearer {client}"})
        items = answer.json().get("flags", []) if answer.status_code == 200 else []
        if len(items) != len(flags()) or any("errorCode" in item for item in items):
            sys.exit(f"POST {BULK} -> {answer.status_code}: {answer.text[:500]}")
        etags.append(answer.headers["ETag"])
    return bodies, etags


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="from: " + ", ".join(SCENARIOS))
    parser.add_argument("--rounds", type=int, default=1, help="repeat the sequence; medians are reported")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each measured wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of the wrk run before each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--profile", default="", help="comma-separated scenarios to record with py-spy")
    parser.add_argument("--quiet-below", type=float, default=None, help="wait for a load average below this")
    parser.add_argument("--quiet-timeout", type=float, default=60, help="longest wait for --quiet-below (s)")
    args = parser.parse_args()
    scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    args.profile = [name.strip() for name in args.profile.split(",") if name.strip()]
    if unknown := set(scenarios + args.profile) - set(SCENARIOS):
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    with tempfile.TemporaryDirectory(prefix="shelf-ofrep-bench-") as temporary:
        directory = Path(temporary)
        database_url = f"sqlite:///{directory / 'bench.db'}"
        shelf_cli("db", "upgrade", database_url=database_url)
        editor, client = api_key("editor", database_url), api_key("client", database_url)
        port = free_port()
        argv = [program("taskset"), "-c", str(args.server_cpu), sys.executable, "-m", "shelf", "serve"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        env = SHELF_ENV | {"SHELF_DATABASE_URL": database_url}
        with running(argv, port=port, log=directory / "server.log", env=env) as base_url:
            with httpx.Client(base_url=base_url, timeout=30) as http:
                bodies, etags = prepare(http, editor, client)
            keys = [flag["key"] for flag in flags()]
            auth = {"Authorization": f"Bearer {client}", "Content-Type": "application/json"}
            scripts = {
                "healthz": request_script("GET", ["/healthz"], [""], {}),
                "single": request_script("POST", [f"{BULK}/{key}" for key in keys], bodies, auth),
                "bulk": request_script("POST", [BULK], bodies, auth),
                "bulk-304": request_script("POST", [BULK], bodies, auth, etags),
            }
            bench = Bench(args, directory, base_url, server_pid(port))
            print(f"{len(keys)} flags, {len(bodies)} users; server pid {bench.pid} on CPU {args.server_cpu}")
            for round_ in range(1, args.rounds + 1):
                print(f"round {round_} of {args.rounds}")
                for scenario in scenarios:
                    bench.measure(scenario, round_, scripts[scenario])
        report(bench, scenarios)


def report(bench: Bench, scenarios: list[str]) -> None:
    rows: dict[str, dict[str, float]] = {}
    for scenario in scenarios:
        runs = [m for m in bench.measurements if m.scenario == scenario]
        ratios = [  # each round's figure over the same round's healthz
            m.result.requests_per_second / h.result.requests_per_second
            for m in runs
            for h in bench.measurements
            if h.scenario == "healthz" and h.round == m.round
        ]
        rows[scenario] = {
            "requests_per_second": statistics.median(m.result.requests_per_second for m in runs),
            "p50_ms": statistics.median(m.result.p50_ms for m in runs),
            "p99_ms": statistics.median(m.result.p99_ms for m in runs),
            "x_healthz": statistics.median(ratios) if ratios else float("nan"),
            "server_cpu": statistics.median(m.server_cpu for m in runs),
            "cpu_ms_per_request": statistics.median(m.cpu_ms_per_request for m in runs),
            "per_core": statistics.median(m.per_core for m in runs),
            "wrk_cpu": statistics.median(m.wrk_cpu for m in runs),
            "load_min": min(m.load_average for m in runs),
            "load_max": max(m.load_average for m in runs),
        }
    print()
    print(
        "| scenario | req/s | x healthz | p50 / p99 ms | server CPU | CPU ms/request | req/s per core |"
        " wrk CPU | load |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for scenario, row in rows.items():
        verdict = ""
        if scenario == "bulk":
            met = "met" if row["requests_per_second"] >= TARGET_RPS else "not met"
            verdict = f" (target >= {TARGET_RPS:,}: {met})"
        print(
            f"| {scenario}{verdict} | {row['requests_per_second']:,.0f} | {row['x_healthz']:.3f} | "
            f"{row['p50_ms']:.2f} / {row['p99_ms']:.2f} | {row['server_cpu']:.0%} | "
            f"{row['cpu_ms_per_request']:.3f} | {row['per_core']:,.0f} | {row['wrk_cpu']:.0%} | "
            f"{row['load_min']:.2f}-{row['load_max']:.2f} |"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "ofrep-bulk.json"
    out.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "arguments": vars(bench.args),
                "flags": len(flags()),
                "users": USERS,
                "medians": rows,
                "runs": [asdict(m) for m in bench.measurements],
            },
            indent=2,
        )
    )
    print(f"\nwritten to {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
