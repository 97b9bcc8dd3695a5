"""Real processes for the scale-out tests (issue 4): a private Redis, `shelf serve` instances, nginx.

Everything listens on 127.0.0.1 on a free port, logs into the test's ``tmp_path`` and is stopped by
the fixture that started it, whatever the test did. Every wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.databases import server_missing
from tests.process import free_port


@dataclass
class Service:
    """One child process, its log file, and how to tell that it is ready."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, ready: Callable[[], bool], timeout: float = 30) -> None:
        self.spawn()
        self.wait_until(ready, timeout)

    def spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed programs with arguments of our own
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def wait_until(self, ready: Callable[[], bool], timeout: float = 30) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early ({self.process.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} was not ready within {timeout} s:\n{self.log()}")
            time.sleep(0.05)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int | None:
        """Send ``sig``, wait up to ``timeout`` s, kill if still running; the exit code, or None if killed."""
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            return None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def program(name: str, how: str) -> str:
    path = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if path is None:
        server_missing(f"the {name} program", how)
        raise AssertionError("unreachable")  # server_missing fails or skips
    return path


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_server(directory: Path, port: int) -> Service:
    """A private, non-persistent redis-server that the test can stop and restart on the same port."""
    binary = program("redis-server", "Install Debian's redis-server package.")
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    argv += ["--daemonize", "no", "--dir", str(directory)]
    return Service("redis-server", argv, directory / "redis.log")


def shelf_instance(name: str, directory: Path, port: int, env: dict[str, str]) -> Service:
    argv = [sys.executable, "-m", "shelf", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return Service(name, argv, directory / f"{name}.log", env=os.environ | env)


def healthy(base_url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    return check


def nginx_config(directory: Path, port: int, upstream_ports: Sequence[int]) -> str:
    servers = "\n".join(
        f"        server 127.0.0.1:{upstream} max_fails=1 fail_timeout=10s;" for upstream in upstream_ports
    )
    # As root, the master process would otherwise switch its workers to "nobody", who cannot enter
    # pytest's private tmp_path. As anyone else, nginx ignores "user" (and says so).
    user = "user root root;" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {directory / (kind + '_temp')};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
{user}
daemon off;
master_process on;
worker_processes 1;
pid {directory / "nginx.pid"};
error_log {directory / "nginx-error.log"} warn;

events {{
    worker_connections 512;
}}

http {{
    log_format upstream '$request_method $uri $status $upstream_addr';
    access_log {directory / "nginx-access.log"} upstream;
{temp}

    upstream shelf {{
{servers}
        keepalive 16;
    }}

    server {{
        listen 127.0.0.1:{port};

        location / {{
            proxy_pass http://shelf;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
        }}
    }}
}}
"""


def nginx(directory: Path, port: int, upstream_ports: Sequence[int]) -> Service:
    """nginx in the foreground with its own config, pid, logs and temp paths under ``directory``."""
    binary = program("nginx", "Install Debian's nginx package (.ci/run does so in CI).")
    config = directory / "nginx.conf"
    config.write_text(nginx_config(directory, port, upstream_ports))
    argv = [binary, "-p", str(directory), "-c", str(config), "-e", str(directory / "nginx-error.log")]
    return Service("nginx", argv, directory / "nginx.log")


@dataclass
class Cluster:
    """nginx in front of two Shelf instances that share PostgreSQL and a private Redis."""

    directory: Path
    database_url: str
    env: dict[str, str]
    redis_port: int = field(default_factory=free_port)
    nginx_port: int = field(default_factory=free_port)
    ports: list[int] = field(default_factory=lambda: [free_port(), free_port()])
    services: list[Service] = field(default_factory=list)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def lb(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def instance_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    @property
    def redis(self) -> Service:
        return self.services[0]

    def instance(self, index: int) -> Service:
        return self.services[1 + index]

    def start(self) -> None:
        redis = redis_server(self.directory, self.redis_port)
        self.services.append(redis)
        self.start_redis()
        env = self.env | {"SHELF_DATABASE_URL": self.database_url, "SHELF_REDIS_URL": self.redis_url}
        instances = [
            shelf_instance(f"shelf-{'ab'[index]}", self.directory, port, env)
            for index, port in enumerate(self.ports)
        ]
        self.services.extend(instances)
        for instance in instances:  # both boot at once
            instance.spawn()
        for index, instance in enumerate(instances):
            instance.wait_until(healthy(self.instance_url(index)))
        balancer = nginx(self.directory, self.nginx_port, self.ports)
        self.services.append(balancer)
        balancer.start(lambda: port_open(self.nginx_port))

    def start_redis(self) -> None:
        self.redis.start(lambda: redis_ping(self.redis_port))

    def stop(self) -> None:
        """Stop everything, last started first; kill whatever does not stop in time."""
        for service in reversed(self.services):
            service.stop(timeout=30 if service.name.startswith("shelf") else 10)

    def upstreams(self) -> list[tuple[str, int, str]]:
        """``(method, status, upstream addresses)`` of every request nginx has logged so far."""
        lines = (self.directory / "nginx-access.log").read_text().splitlines()
        return [(line.split(" ", 3)[0], int(line.split(" ", 3)[2]), line.split(" ", 3)[3]) for line in lines]

    def logs(self) -> str:
        return "\n".join(f"--- {service.name}:\n{service.log()}" for service in self.services)
