"""Logging in to the console and out of it.

``POST /admin/login`` starts a console session through ``IdentityService.start_session`` (the same
sign-in, password check and throttle as ``POST /api/v1/auth/session``) and sets the session cookie;
``POST /admin/logout`` ends the session on the server. The login form carries the storefront's
double-submit token, so another site cannot sign a visitor in to an account of its choosing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, Response

from shelf.gateway.auth import SESSION_COOKIE, PrincipalDep
from shelf.identity.api import IdentityDep, client_ip, set_session_cookie
from shelf.platform.errors import Forbidden, TooManyRequests, Unauthenticated
from shelf.web.admin.guard import HOME_PATH, LOGIN_PATH, AdminRoute, safe_next
from shelf.web.admin.rendering import render, see_other
from shelf.web.pages import PagesDep
from shelf.web.storefront.tracking import current_tracking

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)
FormText = Annotated[str, Form(max_length=1024)]
WRONG = "The email or password is wrong, or the account is disabled."
EXPIRED = "This form had expired. Enter your email and password again."


def _wait(seconds: int) -> str:
    minutes = -(-seconds // 60)
    return f"{seconds} seconds" if seconds < 60 else f"{minutes} minute{'s' if minutes != 1 else ''}"


def _login_page(
    request: Request,
    *,
    email: str = "",
    next_path: str = HOME_PATH,
    message: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    context = {
        "email": email,
        "next_path": next_path,
        "message": message,
        "errors": errors or {},
        "signed_out": request.query_params.get("signed_out") == "1",
    }
    return render(request, "admin/login.html", context, status_code=status_code, headers=headers)


@router.get("/admin/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    """The form; someone already signed in is told so and offered the way on instead."""
    return _login_page(request, next_path=safe_next(next))


@router.post("/admin/login")
async def login(
    request: Request,
    pages: PagesDep,
    identity: IdentityDep,
    *,
    email: FormText = "",
    password: FormText = "",
    next: FormText = HOME_PATH,
    csrf_token: FormText = "",
) -> Response:
    next_path = safe_next(next)
    email = email.strip()
    try:
        pages.require_form_token(request, csrf_token)
    except Forbidden:
        return _login_page(request, email=email, next_path=next_path, message=EXPIRED, status_code=403)
    errors = {}
    if not email:
        errors["email"] = "Enter your email address."
    if not password:
        errors["password"] = "Enter your password."  # noqa: S105 - a message, not a password
    if errors:
        return _login_page(request, email=email, next_path=next_path, errors=errors, status_code=422)
    try:
        started = await identity.start_session(email, password, client_ip=client_ip(request))
    except Unauthenticated:
        return _login_page(request, email=email, next_path=next_path, message=WRONG, status_code=422)
    except TooManyRequests as refused:
        message = (
            "Too many failed attempts to log in with this account or from this address. "
            f"Wait {_wait(refused.retry_after)}, then try again."
        )
        return _login_page(
            request,
            email=email,
            next_path=next_path,
            message=message,
            status_code=429,
            headers={"Retry-After": str(refused.retry_after)},
        )
    await current_tracking(request).identify(request, started.user.id)  # $identify, when measured
    response = see_other(next_path)
    set_session_cookie(response, started.cookie, request.app.state.container.settings)
    return response


@router.post("/admin/logout")
async def logout(identity: IdentityDep, principal: PrincipalDep) -> Response:
    """Ends the console session on the server (the gateway has checked the form's CSRF token)."""
    if principal.console_session_id is not None:
        await identity.logout(principal, None)
    response = see_other(f"{LOGIN_PATH}?signed_out=1")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
