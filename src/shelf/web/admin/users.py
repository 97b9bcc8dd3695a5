"""The users page (admins): list, create, change a role, disable and enable.

Every rule is the identity service's: the password rules, one account per email, and that Shelf
always keeps an active admin (``LastAdminError``, shown as a message). A changed role or a disabled
account signs that user out everywhere.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, Response

from shelf.identity.api import IdentityDep
from shelf.identity.permissions import USER_ROLES, Principal, Role
from shelf.identity.secrets import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from shelf.identity.service import IdentityService
from shelf.platform.errors import Conflict, InvalidInput, NotFound
from shelf.web.admin.guard import AdminRoute, UserManager
from shelf.web.admin.rendering import render, see_other, sentence

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)
ROLES = [(role.value, role.value.capitalize()) for role in USER_ROLES]
PASSWORD_HINT = (
    f"{MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters, and not one of the most common passwords. "
    "Tell it to the person yourself; Shelf sends no email."
)
NOTICES = {
    "created": "The user was created. They can log in now.",
    "updated": "The user was changed. They are signed out everywhere and log in again with their new access.",
}


async def _page(
    request: Request,
    identity: IdentityService,
    principal: Principal,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    users = await identity.list_users(principal)
    notice = next((words for key, words in NOTICES.items() if request.query_params.get(key) == "1"), None)
    return render(
        request,
        "admin/users.html",
        {
            "users": sorted(users, key=lambda user: user.email_normalized),
            "roles": ROLES,
            "form": form or {"email": "", "role": Role.VIEWER.value},
            "errors": errors or {},
            "message": message,
            "notice": notice if status_code == 200 else None,
            "password_hint": PASSWORD_HINT,
        },
        status_code=status_code,
    )


@router.get("/admin/users")
async def users(request: Request, principal: UserManager, identity: IdentityDep) -> Response:
    return await _page(request, identity, principal)


@router.post("/admin/users")
async def create_user(request: Request, principal: UserManager, identity: IdentityDep) -> Response:
    form = await request.form()
    values = {name: str(form.get(name) or "")[:1024] for name in ("email", "password", "role")}
    kept = {"email": values["email"], "role": values["role"]}  # never the password
    try:
        await identity.register_user(principal, values)
    except ValidationError as invalid:
        errors = {str(item["loc"][0]): _plain(item) for item in invalid.errors() if item["loc"]}
        return await _page(request, identity, principal, form=kept, errors=errors, status_code=422)
    except InvalidInput as refused:
        errors = {item["field"]: sentence(item["message"]) for item in refused.errors} or {
            "email": sentence(refused.detail)
        }
        return await _page(request, identity, principal, form=kept, errors=errors, status_code=422)
    except Conflict as taken:
        errors = {"email": sentence(taken.detail)}
        return await _page(request, identity, principal, form=kept, errors=errors, status_code=409)
    return see_other("/admin/users?created=1")


def _plain(item: Any) -> str:
    field = str(item["loc"][0])
    if field == "role":
        return "Choose admin, editor or viewer."
    if field == "password":
        return f"Enter a password of {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
    if field == "email":
        return "Enter an email address, such as ada@example.com."
    return sentence(str(item["msg"]))


@router.post("/admin/users/{user_id}")
async def update_user(
    request: Request, user_id: str, principal: UserManager, identity: IdentityDep
) -> Response:
    form = await request.form()
    patch: dict[str, Any] = {}
    if "role" in form:
        patch["role"] = str(form.get("role"))
    if "disabled" in form:
        patch["disabled"] = form.get("disabled") == "true"
    try:
        target = uuid.UUID(user_id)
    except ValueError:
        raise NotFound("no user with this id") from None
    try:
        await identity.update_user(principal, target, patch)
    except Conflict as refused:  # the last active admin
        return await _page(request, identity, principal, message=sentence(refused.detail), status_code=409)
    except (InvalidInput, ValidationError):
        message = "Choose one of the roles in the list."
        return await _page(request, identity, principal, message=message, status_code=422)
    return see_other("/admin/users?updated=1")
