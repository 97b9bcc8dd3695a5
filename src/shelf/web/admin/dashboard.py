"""``GET /admin``: the dashboard, the console's front page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from shelf.web.admin.guard import AdminRoute, Staff
from shelf.web.admin.nav import visible_nav
from shelf.web.admin.rendering import render

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)


@router.get("/admin")
async def dashboard(request: Request, principal: Staff) -> Response:
    areas = [entry for entry in visible_nav(principal) if entry.href != "/admin"]
    return render(request, "admin/dashboard.html", {"areas": areas})
