"""Scale-out with real processes (issue 4): nginx in front of two `shelf serve` on PostgreSQL and Redis.

Each test gets its own private redis-server, two instances and nginx (see tests/scaleout.py); the
database is created, migrated and seeded once for the module.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis

from tests.databases import postgres_database
from tests.process import shelf
from tests.scaleout import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("scaleout")]

ENV = {
    "SHELF_LOG_LEVEL": "warning",
    "SHELF_ENV": "test",
    # Limits stay on (the limiter is what shows whether Redis is in use) but high enough never to bite.
    "SHELF_RATE_LIMIT_ENABLED": "true",
    "SHELF_RATE_LIMIT_ANONYMOUS": "100000/minute",
    "SHELF_RATE_LIMIT_AUTHENTICATED": "100000/minute",
    "SHELF_RATE_LIMIT_WRITES": "100000/minute",
}
PRODUCTS = "/api/v1/products"


@dataclass(frozen=True)
class Seeded:
    database_url: str
    auth: dict[str, str]


@pytest.fixture(scope="module")
async def seeded() -> AsyncIterator[Seeded]:
    async with postgres_database() as url:
        assert shelf("db", "upgrade", database_url=url).returncode == 0
        assert shelf("seed", "--products", "20", database_url=url).returncode == 0
        created = shelf("apikeys", "create", "--name", "scaleout", "--role", "editor", database_url=url)
        assert created.returncode == 0, created.stderr
        yield Seeded(url, {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"})


@pytest.fixture
def cluster(seeded: Seeded, tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path, seeded.database_url, ENV)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def product(sku: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": f"Scale-out {sku}",
        "price": {"amount": "10.00", "currency": "EUR"},
        "status": "active",
        "category": "apparel",
        "tags": ["scaleout"],
    }


def merge_patch(etag: str) -> dict[str, str]:
    return {"If-Match": etag, "Content-Type": "application/merge-patch+json"}


def statuses_of(response: httpx.Response, statuses: list[int]) -> httpx.Response:
    statuses.append(response.status_code)
    return response


def create(http: httpx.Client, sku: str, auth: dict[str, str]) -> httpx.Response:
    created = http.post(PRODUCTS, json=product(sku), headers=auth)
    assert created.status_code == 201, created.text
    return created


def test_a_write_through_one_instance_is_read_at_once_through_the_other(
    cluster: Cluster, seeded: Seeded
) -> None:
    with (
        httpx.Client(base_url=cluster.instance_url(0), timeout=10) as a,
        httpx.Client(base_url=cluster.instance_url(1), timeout=10) as b,
        httpx.Client(base_url=cluster.lb, timeout=10) as lb,
    ):
        created = create(a, "SCALE-READ", seeded.auth)
        location, etag = created.headers["location"], created.headers["etag"]
        assert b.get(location).json()["version"] == created.json()["version"]
        for round_ in range(1, 4):
            patched = a.patch(
                location,
                content=json.dumps({"name": f"Renamed {round_}"}),
                headers=seeded.auth | merge_patch(etag),
            )
            assert patched.status_code == 200, patched.text
            etag, version = patched.headers["etag"], patched.json()["version"]
            read = b.get(location)  # at once: no sleep, no retry
            assert (read.status_code, read.headers["etag"]) == (200, etag)
            assert (read.json()["version"], read.json()["name"]) == (version, f"Renamed {round_}")
            assert b.get(location, headers={"If-None-Match": etag}).status_code == 304
            for _ in range(2):  # round robin: one read from each instance
                through_lb = lb.get(location)
                assert (through_lb.status_code, through_lb.headers["etag"]) == (200, etag)
                assert through_lb.json()["name"] == f"Renamed {round_}"
    served_by = {upstream for method, _, upstream in cluster.upstreams() if method == "GET"}
    assert served_by == {f"127.0.0.1:{port}" for port in cluster.ports}


def test_requests_through_nginx_keep_succeeding_with_one_instance_stopped(
    cluster: Cluster, seeded: Seeded
) -> None:
    with httpx.Client(base_url=cluster.lb, timeout=10) as lb:
        location = create(lb, "SCALE-FAILOVER", seeded.auth).headers["location"]
        started = time.monotonic()
        assert cluster.instance(1).stop() == -signal.SIGTERM
        assert time.monotonic() - started < 30
        logged_before = len(cluster.upstreams())

        statuses = [lb.get(location).status_code for _ in range(40)]
        statuses += [lb.get(PRODUCTS, params={"limit": 5}).status_code for _ in range(10)]
        etag = statuses_of(lb.get(location), statuses).headers["etag"]
        for round_ in range(3):
            patched = lb.patch(
                location, content=json.dumps({"stock": round_}), headers=seeded.auth | merge_patch(etag)
            )
            statuses.append(patched.status_code)
            etag = patched.headers.get("etag", etag)
            statuses.append(
                lb.post(PRODUCTS, json=product(f"SCALE-FO-{round_}"), headers=seeded.auth).status_code
            )
        assert statuses == [200] * 51 + [200, 201] * 3, cluster.logs()
        assert lb.get(location).json()["stock"] == 2

    # Every request after the stop was answered by the instance still running; nginx may have
    # tried the stopped one first (and logged both addresses) but never returned its failure.
    after = cluster.upstreams()[logged_before:]
    alive = f"127.0.0.1:{cluster.ports[0]}"
    assert len(after) == 58
    assert all(status < 300 and upstream.endswith(alive) for _, status, upstream in after), after


def redis_keys(cluster: Cluster) -> list[bytes]:
    with redis.Redis(host="127.0.0.1", port=cluster.redis_port, socket_timeout=2) as client:
        return list(client.scan_iter(match="shelf:ratelimit:*", count=1000))


def test_reads_and_writes_keep_succeeding_while_redis_is_down_and_redis_is_used_again_after(
    cluster: Cluster, seeded: Seeded
) -> None:
    with (
        httpx.Client(base_url=cluster.lb, timeout=10) as lb,
        httpx.Client(base_url=cluster.instance_url(0), timeout=10) as a,
        httpx.Client(base_url=cluster.instance_url(1), timeout=10) as b,
    ):
        location = create(lb, "SCALE-REDIS", seeded.auth).headers["location"]
        assert "ratelimit" in lb.get(location).headers  # Redis is in use: the limiter asked it
        assert redis_keys(cluster)

        assert cluster.redis.stop(timeout=10) == 0
        responses = [lb.get(location) for _ in range(20)]
        responses += [lb.get(PRODUCTS, params={"q": "scale"}) for _ in range(5)]
        etag = lb.get(location).headers["etag"]
        for round_ in range(3):
            patched = lb.patch(
                location, content=json.dumps({"stock": round_}), headers=seeded.auth | merge_patch(etag)
            )
            etag = patched.headers.get("etag", etag)
            responses += [patched, lb.post(PRODUCTS, json=product(f"SCALE-RD-{round_}"), headers=seeded.auth)]
        assert [r.status_code for r in responses] == [200] * 25 + [200, 201] * 3
        # Failing open: nothing was checked, so nothing claims a limit.
        assert not [r for r in responses if "ratelimit" in r.headers]
        assert lb.get(location).json()["stock"] == 2

        cluster.start_redis()  # the same port, empty
        assert not redis_keys(cluster)
        # Each instance rests 1 s after a failure before it asks Redis again; give it a few.
        deadline = time.monotonic() + 10
        for instance in (a, b):
            while "ratelimit" not in (answer := instance.get(location)).headers:
                assert answer.status_code == 200
                assert time.monotonic() < deadline, "an instance did not use Redis again within 10 s"
                time.sleep(0.2)
        assert redis_keys(cluster)  # the buckets are back in Redis
        after = [lb.get(location) for _ in range(6)]
        after.append(lb.post(PRODUCTS, json=product("SCALE-RD-AFTER"), headers=seeded.auth))
        assert [r.status_code for r in after] == [200] * 6 + [201]
        assert all("ratelimit" in r.headers for r in after)


@dataclass
class Outcome:
    sku: str
    kind: str  # "ok", "status", "cut", "refused" or "unanswered": see send_create
    started: float
    detail: str = ""


async def send_create(http: httpx.AsyncClient, sku: str, content: Any, auth: dict[str, str]) -> Outcome:
    """POST a new product on a connection of its own, and say how that ended.

    "refused": no TCP connection (the listener is closed). "unanswered": connected and sent, but
    closed or reset before a single byte of answer. "cut": the answer began but did not complete.
    "status": a complete answer that is not 2xx. "ok": a complete 2xx answer.
    """
    headers = auth | {"Connection": "close", "Content-Type": "application/json"}
    request = http.build_request("POST", PRODUCTS, content=content, headers=headers)
    started = time.monotonic()
    try:
        response = await http.send(request, stream=True)
    except httpx.ConnectError as error:
        return Outcome(sku, "refused", started, repr(error))
    except httpx.TransportError as error:
        return Outcome(sku, "unanswered", started, f"{error!r} from {error.__context__!r}")
    try:
        await response.aread()
    except httpx.TransportError as error:
        return Outcome(sku, "cut", started, f"{response.status_code}, then {error!r}")
    finally:
        await response.aclose()
    if not 200 <= response.status_code < 300:
        return Outcome(sku, "status", started, f"{response.status_code} {response.text[:200]}")
    return Outcome(sku, "ok", started)


async def skus_in_database(database_url: str, prefix: str) -> set[str]:
    connection = await asyncpg.connect(database_url, timeout=5)
    try:
        rows = await connection.fetch("SELECT sku FROM products WHERE sku LIKE $1", f"{prefix}%")
    finally:
        await connection.close()
    return {row["sku"] for row in rows}


async def test_sigterm_under_load_drains_in_flight_requests_and_exits_within_30_s(
    cluster: Cluster, seeded: Seeded
) -> None:
    target, base_url = cluster.instance(1), cluster.instance_url(1)
    slow_started = [asyncio.Event() for _ in range(4)]
    stop_load = asyncio.Event()

    async def slow_body(index: int) -> AsyncIterator[bytes]:
        """A create whose body trickles in over 3 s: the request is in flight all that time."""
        body = json.dumps(product(f"DRAIN-SLOW-{index}")).encode()
        pieces = [body[i : i + 16] for i in range(0, len(body), 16)]
        for number, piece in enumerate(pieces):
            yield piece
            if number == 0:
                slow_started[index].set()
            await asyncio.sleep(3 / len(pieces))

    async def fast(http: httpx.AsyncClient, worker: int) -> list[Outcome]:
        """Creates, one after another, until the listener refuses (bounded by 20 s)."""
        outcomes: list[Outcome] = []
        deadline = time.monotonic() + 20
        while not stop_load.is_set() and time.monotonic() < deadline:
            sku = f"DRAIN-FAST-{worker}-{len(outcomes)}"
            outcomes.append(await send_create(http, sku, json.dumps(product(sku)), seeded.auth))
            if outcomes[-1].kind == "refused":
                break
        return outcomes

    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30, connect=2)) as http:
        fast_tasks = [asyncio.create_task(fast(http, worker)) for worker in range(8)]
        slow_tasks = [
            asyncio.create_task(send_create(http, f"DRAIN-SLOW-{index}", slow_body(index), seeded.auth))
            for index in range(4)
        ]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in slow_started)), timeout=10)
        await asyncio.sleep(1)  # the load runs a while; the slow requests' headers have long arrived
        assert target.process is not None
        signalled = time.monotonic()
        target.process.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(target.process.wait, 30)
        exited_after = time.monotonic() - signalled
        stop_load.set()
        slow = await asyncio.wait_for(asyncio.gather(*slow_tasks), timeout=10)
        fast = [o for outcomes in await asyncio.wait_for(asyncio.gather(*fast_tasks), 10) for o in outcomes]

    # uvicorn drains, runs the app's shutdown, then re-raises the SIGTERM it caught: it "dies of"
    # SIGTERM, as a supervisor that asked it to stop expects.
    assert returncode == -signal.SIGTERM, target.log()
    assert 1.5 < exited_after < 30  # it waited for the slow requests (3 s of body, 1 s in at SIGTERM)
    # Known to be in flight at SIGTERM: each answered in full, with a 2xx.
    assert [o.kind for o in slow] == ["ok"] * 4, slow
    # Every answer the instance began is complete and a 2xx; the load saw the listener close.
    assert not [o for o in fast if o.kind in ("status", "cut")]
    assert len([o for o in fast if o.kind == "ok"]) > 8, len(fast)  # more than one each
    assert [o for o in fast if o.kind == "refused"], "the load never saw the listener closed"
    assert all(o.started >= signalled for o in fast if o.kind == "refused")
    # A request closed or reset before any answer was never taken on by the server: it sat unread
    # in the kernel (the accept queue, or a connection uvicorn accepted but had not read) when
    # uvicorn closed it, and it had no effect. Everything answered 2xx did take effect.
    stored = await skus_in_database(seeded.database_url, "DRAIN-")
    unanswered = [o for o in fast if o.kind == "unanswered"]
    assert not [o for o in unanswered if o.sku in stored], unanswered
    assert {o.sku for o in slow + fast if o.kind == "ok"} == stored
