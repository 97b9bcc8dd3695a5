"""A real ``shelf serve`` process over real HTTP: the journey of issue 2's README, on both backends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.databases import database
from tests.process import free_port, running_server, shelf, wait_until_healthy

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database(str(request.param), tmp_path) as database_url:
        assert shelf("db", "upgrade", database_url=database_url).returncode == 0
        assert shelf("seed", "--products", "60", database_url=database_url).returncode == 0
        yield database_url


async def test_a_new_user_manages_products_over_http(url: str) -> None:
    created_key = shelf("apikeys", "create", "--name", "e2e", "--role", "editor", database_url=url)
    auth = {"Authorization": f"Bearer {created_key.stdout.strip().splitlines()[-1]}"}
    with running_server(url) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            health = await http.get("/healthz")
            assert health.json() == {"status": "ok"}
            assert "server" not in health.headers
            assert "/api/v1/products" in (await http.get("/openapi.json")).json()["paths"]
            assert (await http.get("/docs")).status_code == 200

            new = {
                "sku": "E2E-1",
                "name": "Glacier Merino Scarf",
                "price": {"amount": "59.00", "currency": "EUR"},
                "status": "active",
                "category": "apparel",
                "tags": ["e2e"],
            }
            created = await http.post("/api/v1/products", json=new, headers=auth)
            assert created.status_code == 201, created.text
            location, etag = created.headers["location"], created.headers["etag"]

            read = await http.get(location)
            assert read.json()["name"] == "Glacier Merino Scarf"
            assert (await http.get(location, headers={"If-None-Match": etag})).status_code == 304

            patched = await http.patch(
                location,
                content=b'{"price": {"amount": "54.50"}}',
                headers=auth | {"If-Match": etag, "Content-Type": "application/merge-patch+json"},
            )
            assert patched.status_code == 200, patched.text
            assert patched.json()["price"]["amount"] == "54.50"

            search = await http.get("/api/v1/products", params={"q": "glacier"})
            assert [item["sku"] for item in search.json()["items"]] == ["E2E-1"]
            listed = await http.get("/api/v1/products", params={"tag": "e2e", "sort": "-price", "limit": 5})
            assert [item["sku"] for item in listed.json()["items"]] == ["E2E-1"]

            bad = await http.post(
                "/api/v1/products",
                json=new | {"sku": "E2E-2", "price": {"amount": "-1", "currency": "EUR"}},
                headers=auth,
            )
            assert bad.status_code == 422
            assert bad.headers["content-type"] == "application/problem+json"
            assert bad.headers["x-request-id"]

            deleted = await http.delete(location, headers=auth | {"If-Match": patched.headers["etag"]})
            assert deleted.status_code == 204
            assert (await http.get(location)).status_code == 404


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on ``port`` (state 0A in /proc/net/tcp)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target.removeprefix("socket:[").rstrip("]"))
    return inodes


@pytest.mark.parametrize("workers", [1, 3])
def test_serve_runs_as_many_worker_processes_as_asked_each_accepting_on_the_port(
    workers: int, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'workers.db'}"
    assert shelf("db", "upgrade", database_url=database_url).returncode == 0
    port = free_port()
    environment = os.environ | {"SHELF_DATABASE_URL": database_url, "SHELF_LOG_LEVEL": "warning"}
    with (tmp_path / "serve.log").open("w+") as log:
        process = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
            [sys.executable, "-m", "shelf", "serve", "--port", str(port), "--workers", str(workers)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_until_healthy(process, f"http://127.0.0.1:{port}", log)
            listening = _listening_inodes(port)
            assert listening
            if workers == 1:  # uvicorn serves in the process itself
                serving = [process.pid]
                assert listening & _socket_inodes(process.pid)
            else:  # a supervisor and N spawned workers (a resource tracker may be a child too)
                serving = [child for child in _children(process.pid) if listening & _socket_inodes(child)]
                assert all(b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes() for child in serving)
            assert len(serving) == workers, log.read()
            for _ in range(3 * workers):  # and they answer
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"Connection": "close"})
                assert answer.status_code == 200
        finally:
            process.send_signal(signal.SIGTERM)
            # A single uvicorn server re-raises SIGTERM after its graceful shutdown; the supervisor exits 0.
            assert process.wait(timeout=30) in (0, -signal.SIGTERM)
