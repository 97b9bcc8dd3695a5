"""``GET /api/v1/audit``: the audit log, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from shelf.audit.service import AuditPage, AuditQuery, AuditService
from shelf.gateway.auth import PrincipalDep
from shelf.gateway.http import JSONResponse

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


def _audit(request: Request) -> AuditService:
    service: AuditService = request.app.state.container.audit
    return service


@router.get("", response_model=AuditPage, summary="Read the audit log (admins), newest first")
async def list_audit(
    principal: PrincipalDep,
    audit: Annotated[AuditService, Depends(_audit)],
    query: Annotated[AuditQuery, Query()],
) -> Response:
    page = await audit.list(principal, query)
    return JSONResponse(page.model_dump(mode="python"))
