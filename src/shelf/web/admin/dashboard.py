"""``GET /admin``: the dashboard, the console's front page: the catalog at a glance, the latest
changes (for those who may read the audit log) and the areas this principal may use."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from shelf.audit.service import AuditQuery, AuditService
from shelf.catalog.overview import LOW_STOCK, CatalogOverview
from shelf.identity.permissions import Permission
from shelf.web.admin.audit import entity_label, entity_url
from shelf.web.admin.guard import AdminRoute, Staff
from shelf.web.admin.nav import visible_nav
from shelf.web.admin.rendering import render

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)
RECENT_CHANGES = 8


@router.get("/admin")
async def dashboard(request: Request, principal: Staff) -> Response:
    container = request.app.state.container
    overview: CatalogOverview = container.catalog_overview
    audit: AuditService = container.audit
    changes = []
    if principal.can(Permission.AUDIT_READ):
        page = await audit.list(principal, AuditQuery(limit=RECENT_CHANGES))
        changes = [(entry, entity_label(entry), entity_url(entry)) for entry in page.items]
    return render(
        request,
        "admin/dashboard.html",
        {
            "overview": await overview.read(principal),
            "low_stock_threshold": LOW_STOCK,
            "changes": changes,
            "can_read_audit": principal.can(Permission.AUDIT_READ),
            "can_edit": principal.can(Permission.CATALOG_WRITE),
            "areas": [entry for entry in visible_nav(principal) if entry.href != "/admin"],
        },
    )
