"""``/healthz`` and ``/readyz``: liveness never asks a backend; readiness asks the database and Redis."""

from __future__ import annotations

import socket
import uuid

import httpx

from tests.integration.monitoring.conftest import MakeApp, connect


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_ready_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_not_ready_but_alive_when_the_database_is_unreachable(make_app: MakeApp) -> None:
    port = closed_port()
    app = make_app(
        database_url=f"postgresql://shelf:secret@127.0.0.1:{port}/shelf", readiness_timeout_seconds=1
    )
    async with connect(app) as http:
        assert (await http.get("/healthz")).status_code == 200
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["checks"] == {"database": "unavailable"}
    assert str(port) not in response.text
    assert "secret" not in response.text


async def test_redis_is_checked_when_configured(make_app: MakeApp, redis_url: str) -> None:
    up = make_app(redis_url=redis_url, cache_redis_prefix=f"shelf-test:{uuid.uuid4().hex}:")
    down = make_app(redis_url=f"redis://127.0.0.1:{closed_port()}/0", readiness_timeout_seconds=1)
    async with connect(up) as http:
        ready = await http.get("/readyz")
    async with connect(down) as http:
        not_ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"] == {"database": "ok", "redis": "unavailable"}


async def test_probes_are_not_rate_limited(make_app: MakeApp) -> None:
    app = make_app(rate_limit_anonymous="1/minute")
    async with connect(app) as http:
        for _ in range(5):
            assert (await http.get("/readyz")).status_code == 200
            assert (await http.get("/healthz")).status_code == 200
