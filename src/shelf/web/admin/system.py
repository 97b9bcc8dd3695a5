"""``GET /admin/system``: this server's health for people, from its own metrics (issue 8).

The figures are ``MonitoringService.summary``: the same registry ``/metrics`` serves (every
worker's, under ``serve --workers N``), compared with what was read earlier, so throughput, error
rate and latency percentiles cover the last few minutes. The page reloads itself every
``REFRESH_SECONDS`` (a ``<meta http-equiv="refresh">``: no script needed).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, Response

from shelf.identity.permissions import Permission, Principal
from shelf.monitoring.service import MonitoringService
from shelf.web.admin.guard import AdminRoute, requires
from shelf.web.admin.rendering import render

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)

MetricsReader = Annotated[Principal, Depends(requires(Permission.METRICS_READ))]
REFRESH_SECONDS = 10


def _monitoring(request: Request) -> MonitoringService:
    monitoring: MonitoringService = request.app.state.container.monitoring
    return monitoring


MonitoringDep = Annotated[MonitoringService, Depends(_monitoring)]


@router.get("/admin/system")
async def system(request: Request, principal: MetricsReader, monitoring: MonitoringDep) -> Response:
    summary = monitoring.summary(principal)
    return render(request, "admin/system.html", {"summary": summary, "refresh_seconds": REFRESH_SECONDS})
