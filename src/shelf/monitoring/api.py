"""``GET /metrics``: the Prometheus text format, for a scraper or an admin.

Who may read it:

- a scraper presenting ``Authorization: Bearer <SHELF_METRICS_TOKEN>`` (unset by default). The
  token is no user or API key, so ``MetricsScrapeMiddleware`` answers it *before* authentication
  (which would otherwise refuse it as an unknown key). Any other bearer goes on to authentication
  as usual, so a wrong token is a 401 that spends the caller's bad-credentials budget;
- any principal with ``metrics:read`` (admins), through the route below;
- nobody else: 401 without credentials, 403 with a role that lacks the permission.

The metrics reveal traffic and internals but no catalog or personal data; the token keeps them
off the internet without handing Prometheus an admin key.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shelf.gateway.auth import PrincipalDep
from shelf.identity.permissions import Principal
from shelf.monitoring import metrics
from shelf.monitoring.service import MonitoringService

router = APIRouter(tags=["monitoring"])
METRICS_PATH = "/metrics"
# Who the access log names for a scrape that presented the metrics token.
METRICS_SCRAPER = Principal(kind="metrics_token", name="metrics scraper")


def _monitoring(request: Request) -> MonitoringService:
    service: MonitoringService = request.app.state.container.monitoring
    return service


@router.get(
    METRICS_PATH,
    summary="Prometheus metrics (admins, or a scraper with SHELF_METRICS_TOKEN)",
    response_class=Response,
    responses={200: {"content": {metrics.CONTENT_TYPE: {}}, "description": "Prometheus text format"}},
)
async def read_metrics(
    principal: PrincipalDep, monitoring: Annotated[MonitoringService, Depends(_monitoring)]
) -> Response:
    return Response(monitoring.exposition(principal), media_type=metrics.CONTENT_TYPE)


class MetricsScrapeMiddleware:
    """Answers ``GET /metrics`` for the scrape token; everything else goes on unchanged."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.expected is None
            or scope["type"] != "http"
            or scope["path"] != METRICS_PATH
            or scope["method"] not in ("GET", "HEAD")
        ):
            await self.app(scope, receive, send)
            return
        presented = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
        if not hmac.compare_digest(presented, self.expected):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = METRICS_SCRAPER
        response = Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)
        await response(scope, receive, send)
