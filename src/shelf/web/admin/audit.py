"""The audit log view (``GET /admin/audit``): newest first, filtered by entity and actor, each
change shown as the fields it changed, before and after."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, Response

from shelf.audit.service import AuditQuery, AuditRead, AuditService
from shelf.identity.api import IdentityDep
from shelf.identity.permissions import Permission, Principal
from shelf.identity.service import IdentityService
from shelf.web.admin.guard import AdminRoute, AuditReader
from shelf.web.admin.rendering import render

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)
PAGE_SIZE = 50
ENTITY_TYPES = [("", "Anything"), ("product", "Products"), ("user", "Users"), ("api_key", "API keys")]
HIDDEN_FIELDS = frozenset({"id", "created_at", "updated_at"})  # the same in every entry, or noise


async def _audit(request: Request) -> AuditService:
    service: AuditService = request.app.state.container.audit
    return service


AuditDep = Annotated[AuditService, Depends(_audit)]


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


def readable(value: Any) -> str:
    """A stored value as a person reads it: ``49.90 EUR``, ``wool, gift``, ``colour: navy``."""
    if value is None or value in ("", [], {}):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict) and set(value) == {"amount", "currency"}:
        return f"{value['amount']} {value['currency']}"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {readable(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(readable(item) for item in value)
    return str(value)


def changes(entry: AuditRead) -> list[Change]:
    """The fields the entry changed; all fields of what it created or deleted."""
    before, after = entry.before or {}, entry.after or {}
    names = [name for name in {**before, **after} if name not in HIDDEN_FIELDS]
    both = entry.before is not None and entry.after is not None
    return [
        Change(
            name,
            readable(before.get(name)) if entry.before else "",
            readable(after.get(name)) if entry.after else "",
        )
        for name in names
        if not both or before.get(name) != after.get(name)
    ]


def entity_label(entry: AuditRead) -> str:
    """What the entity is called (a product's name, a user's email), else its id."""
    state = entry.after or entry.before or {}
    return str(state.get("name") or state.get("email") or entry.entity_id)


def entity_url(entry: AuditRead) -> str | None:
    if entry.entity_type == "product" and entry.action != "product.delete":
        return f"/admin/products/{entry.entity_id}"
    if entry.entity_type == "flag" and entry.action != "flag.delete":
        return f"/admin/flags/{entry.entity_id}"
    return {"user": "/admin/users", "api_key": "/admin/apikeys"}.get(entry.entity_type)


async def _actors(identity: IdentityService, principal: Principal) -> list[tuple[str, str]]:
    """Whom the actor filter offers: the users and keys this admin may list."""
    actors = [("", "Anyone")]
    if principal.can(Permission.USERS_MANAGE):
        actors += [(str(user.id), user.email) for user in await identity.list_users(principal)]
    if principal.can(Permission.API_KEYS_MANAGE):
        actors += [(str(key.id), f"API key: {key.name}") for key in await identity.list_api_keys(principal)]
    return actors


@router.get("/admin/audit")
async def audit_log(
    request: Request,
    principal: AuditReader,
    audit: AuditDep,
    identity: IdentityDep,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    cursor: str | None = None,
) -> Response:
    filters = {"entity_type": entity_type or "", "entity_id": entity_id or "", "actor": actor or ""}
    try:
        query = AuditQuery(
            entity_type=filters["entity_type"] or None,
            entity_id=filters["entity_id"] or None,
            actor_id=uuid.UUID(filters["actor"]) if filters["actor"] else None,
            cursor=uuid.UUID(cursor) if cursor else None,
            limit=PAGE_SIZE,
        )
    except (ValidationError, ValueError):
        query = None
    page = await audit.list(principal, query) if query is not None else None
    kept = {name: value for name, value in filters.items() if value}
    next_url = None
    if page is not None and page.next_cursor:
        next_url = "/admin/audit?" + urlencode(kept | {"cursor": page.next_cursor})
    return render(
        request,
        "admin/audit.html",
        {
            "entries": [
                (entry, changes(entry), entity_label(entry), entity_url(entry))
                for entry in (page.items if page else [])
            ],
            "filters": filters,
            "entity_types": ENTITY_TYPES,
            "actors": await _actors(identity, principal),
            "next_url": next_url,
            "first_url": ("/admin/audit?" + urlencode(kept)) if cursor else None,
            "invalid": query is None,
        },
        status_code=200 if query is not None else 422,
    )
