"""Probes: ``/healthz`` (the process is alive) and ``/readyz`` (it can serve: its backends answer).

Liveness never touches a backend, so a database outage does not get healthy processes restarted.
Readiness asks the database for ``SELECT 1`` and, when ``SHELF_REDIS_URL`` is set, Redis for
``PING``, each within ``SHELF_READINESS_TIMEOUT_SECONDS``; while either fails it answers 503, so a
load balancer or Kubernetes stops sending traffic to this instance, and it becomes ready again by
itself once they answer (the engine opens fresh connections; nothing is cached across failures).

A result is reused for one second, so a burst of probes (or of anyone: the route is public and not
rate limited) costs at most one database round trip a second. The answer names each check as ``ok``
or ``unavailable``; why it failed goes to the log only, since hostnames and driver errors are not
for the public.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import text
from starlette.responses import Response

from shelf.gateway.http import JSONResponse
from shelf.gateway.problems import problem
from shelf.platform.db import Database

log = structlog.get_logger(__name__)
router = APIRouter(tags=["health"])

OK = "ok"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class ReadinessReport:
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(state == OK for state in self.checks.values())


class Readiness:
    """Checks the backends this instance cannot serve without."""

    def __init__(
        self,
        database: Database,
        redis_url: str | None,
        *,
        timeout_seconds: float,
        reuse_seconds: float = 1.0,
    ) -> None:
        self._database = database
        self._timeout = timeout_seconds
        self._reuse_seconds = reuse_seconds
        self._redis: Redis | None = (
            Redis.from_url(
                redis_url,
                socket_timeout=timeout_seconds,
                socket_connect_timeout=timeout_seconds,
                retry=Retry(NoBackoff(), 0),
            )
            if redis_url
            else None
        )
        self._last: tuple[float, ReadinessReport] | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> ReadinessReport:
        async with self._lock:  # concurrent probes share one round of checks
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < self._reuse_seconds:
                return self._last[1]
            checks = {"database": await self._probe("database", self._database_answers())}
            if self._redis is not None:
                checks["redis"] = await self._probe("redis", self._redis_answers(self._redis))
            report = ReadinessReport(checks)
            if self._last is not None and self._last[1].ready != report.ready:
                log.info("readiness_changed", ready=report.ready, checks=checks)
            self._last = (time.monotonic(), report)
            return report

    async def _probe(self, name: str, answers: Coroutine[Any, Any, None]) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                await answers
        except Exception as error:  # any failure means "not ready"; the reason goes to the log
            log.warning("readiness_check_failed", check=name, error=f"{type(error).__name__}: {error}")
            return UNAVAILABLE
        return OK

    async def _database_answers(self) -> None:
        async with self._database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    @staticmethod
    async def _redis_answers(client: Redis) -> None:
        await client.ping()

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def _readiness(request: Request) -> Readiness:
    readiness: Readiness = request.app.state.container.readiness
    return readiness


ReadinessDep = Annotated[Readiness, Depends(_readiness)]


@router.get("/healthz", summary="Liveness probe")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness probe",
    responses={503: {"description": "A backend this instance needs does not answer."}},
)
async def readyz(readiness: ReadinessDep) -> Response:
    report = await readiness.check()
    if report.ready:
        return JSONResponse({"status": "ready", "checks": report.checks})
    return problem(503, "not ready: a backend does not answer", checks=report.checks)
