"""The API keys page (admins): list (never a secret), create (its secret shown once), revoke.

Shelf keeps only a hash of each secret, so the page that answers the creation is the only place the
secret ever appears; it is not a redirect target and is never cached.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, Response

from shelf.identity.api import IdentityDep
from shelf.identity.permissions import Principal, Role
from shelf.identity.service import IdentityService
from shelf.platform.errors import InvalidInput, NotFound
from shelf.web.admin.guard import AdminRoute, KeyManager
from shelf.web.admin.rendering import render, see_other

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)
ROLES = [
    (Role.CLIENT.value, "Client: sends analytics events from a shop or an app"),
    (Role.VIEWER.value, "Viewer: reads everything"),
    (Role.EDITOR.value, "Editor: also changes the catalog"),
    (Role.ADMIN.value, "Admin: everything"),
]


async def _page(
    request: Request,
    identity: IdentityService,
    principal: Principal,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    keys = await identity.list_api_keys(principal)
    return render(
        request,
        "admin/apikeys.html",
        {
            "keys": sorted(keys, key=lambda key: (key.revoked_at is not None, key.name.lower())),
            "roles": ROLES,
            "form": form or {"name": "", "role": Role.CLIENT.value},
            "errors": errors or {},
            "revoked": request.query_params.get("revoked") == "1" and status_code == 200,
        },
        status_code=status_code,
    )


@router.get("/admin/apikeys")
async def api_keys(request: Request, principal: KeyManager, identity: IdentityDep) -> Response:
    return await _page(request, identity, principal)


@router.post("/admin/apikeys")
async def create_api_key(request: Request, principal: KeyManager, identity: IdentityDep) -> Response:
    form = await request.form()
    values = {name: str(form.get(name) or "")[:200] for name in ("name", "role")}
    try:
        issued = await identity.issue_api_key(principal, values)
    except (ValidationError, InvalidInput) as invalid:
        errors = {}
        for item in invalid.errors() if isinstance(invalid, ValidationError) else []:
            if item["loc"] and item["loc"][0] == "role":
                errors["role"] = "Choose one of the roles in the list."
        if not errors or isinstance(invalid, InvalidInput):
            errors["name"] = "Give the key a name of 1 to 100 characters, such as the program that uses it."
        return await _page(request, identity, principal, form=values, errors=errors, status_code=422)
    return render(
        request, "admin/apikey_created.html", {"key": issued.key, "secret": issued.secret}, status_code=201
    )


@router.post("/admin/apikeys/{key_id}/revoke")
async def revoke_api_key(key_id: str, principal: KeyManager, identity: IdentityDep) -> Response:
    try:
        target = uuid.UUID(key_id)
    except ValueError:
        raise NotFound("no API key with this id") from None
    await identity.revoke_api_key(principal, target)
    return see_other("/admin/apikeys?revoked=1")
