"""REST routes of identity: sign-in, tokens, console sessions, users and API keys."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from shelf.gateway.auth import SESSION_COOKIE, PrincipalDep, session_cookie
from shelf.gateway.http import JSONResponse, read_json
from shelf.identity.schemas import (
    ApiKeyCreated,
    ApiKeyRead,
    LogoutRequest,
    RefreshRequest,
    SessionCreated,
    TokenPair,
    UserRead,
)
from shelf.identity.service import IdentityService
from shelf.platform.errors import InvalidInput
from shelf.settings import Settings

router = APIRouter(prefix="/api/v1")
NO_STORE = {"Cache-Control": "no-store"}


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _identity(request: Request) -> IdentityService:
    service: IdentityService = request.app.state.container.identity
    return service


IdentityDep = Annotated[IdentityService, Depends(_identity)]
Username = Annotated[str, Form(max_length=320)]
Password = Annotated[str, Form(max_length=1024)]


@router.post("/auth/token", response_model=TokenPair, tags=["auth"], summary="Sign in (OAuth2 password form)")
async def token(
    request: Request,
    identity: IdentityDep,
    username: Username,
    password: Password,
    grant_type: Annotated[str | None, Form()] = None,
) -> Response:
    if grant_type not in (None, "password"):
        raise InvalidInput(
            "grant_type must be 'password'", [{"field": "grant_type", "message": "unsupported"}]
        )
    pair = await identity.login(username, password, client_ip=client_ip(request))
    return JSONResponse(pair.model_dump(), headers=NO_STORE)


@router.post("/auth/refresh", response_model=TokenPair, tags=["auth"], summary="Rotate a refresh token")
async def refresh(request: Request, identity: IdentityDep) -> Response:
    body = RefreshRequest.model_validate(await read_json(request))
    pair = await identity.refresh(body.refresh_token)
    return JSONResponse(pair.model_dump(), headers=NO_STORE)


@router.post("/auth/logout", status_code=204, tags=["auth"], summary="End a sign-in (all its tokens)")
async def logout(request: Request, identity: IdentityDep, principal: PrincipalDep) -> Response:
    raw = await read_json(request) if await request.body() else {}
    body = LogoutRequest.model_validate(raw)
    await identity.logout(principal, body.refresh_token)
    response = Response(status_code=204)
    if principal.console_session_id is not None:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/auth/me", tags=["auth"], summary="Who am I")
async def me(principal: PrincipalDep) -> Response:
    return JSONResponse(
        {"kind": principal.kind, "id": principal.id, "name": principal.name, "role": principal.role},
        headers=NO_STORE,
    )


@router.post(
    "/auth/session", response_model=SessionCreated, tags=["auth"], summary="Start an admin console session"
)
async def start_session(
    request: Request, identity: IdentityDep, username: Username, password: Password
) -> Response:
    started = await identity.start_session(username, password, client_ip=client_ip(request))
    tracking = getattr(request.app.state, "tracking", None)  # web.storefront.tracking, when installed
    if tracking is not None:  # a browser with the shopper cookie: its anonymous id is this user now
        await tracking.identify(request, started.user.id)
    settings = request.app.state.container.settings
    body = SessionCreated(
        csrf_token=started.csrf_token,
        expires_at=started.session.expires_at,
        user=UserRead.from_user(started.user),
    )
    response = JSONResponse(body.model_dump(mode="python"), status_code=201, headers=NO_STORE)
    set_session_cookie(response, started.cookie, settings)
    return response


def set_session_cookie(response: Response, cookie: str, settings: Settings) -> None:
    """The console session cookie: HttpOnly, SameSite=Lax, Secure in production (development and
    tests serve plain http on 127.0.0.1)."""
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.env == "production",
        path="/",
    )


@router.delete("/auth/session", status_code=204, tags=["auth"], summary="End the console session")
async def end_session(request: Request, identity: IdentityDep) -> Response:
    cookie = session_cookie(dict(request.scope["headers"]))
    if cookie:
        await identity.end_session(cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/users", response_model=list[UserRead], tags=["users"], summary="List users (admins)")
async def list_users(identity: IdentityDep, principal: PrincipalDep) -> Response:
    users = await identity.list_users(principal)
    return JSONResponse([UserRead.from_user(u).model_dump(mode="python") for u in users])


@router.post(
    "/users", response_model=UserRead, status_code=201, tags=["users"], summary="Create a user (admins)"
)
async def create_user(request: Request, identity: IdentityDep, principal: PrincipalDep) -> Response:
    principal.require_authenticated()
    user = await identity.register_user(principal, await read_json(request))
    return JSONResponse(
        UserRead.from_user(user).model_dump(mode="python"),
        status_code=201,
        headers={"Location": f"/api/v1/users/{user.id}"},
    )


@router.patch(
    "/users/{user_id}", response_model=UserRead, tags=["users"], summary="Change role or disable (admins)"
)
async def update_user(
    user_id: uuid.UUID, request: Request, identity: IdentityDep, principal: PrincipalDep
) -> Response:
    principal.require_authenticated()
    patch = await read_json(request, ("application/merge-patch+json", "application/json"))
    user = await identity.update_user(principal, user_id, patch)
    return JSONResponse(UserRead.from_user(user).model_dump(mode="python"))


@router.get("/apikeys", response_model=list[ApiKeyRead], tags=["api keys"], summary="List API keys (admins)")
async def list_api_keys(identity: IdentityDep, principal: PrincipalDep) -> Response:
    keys = await identity.list_api_keys(principal)
    return JSONResponse([ApiKeyRead.from_key(k).model_dump(mode="python") for k in keys])


@router.post(
    "/apikeys",
    response_model=ApiKeyCreated,
    status_code=201,
    tags=["api keys"],
    summary="Create an API key (admins)",
)
async def create_api_key(request: Request, identity: IdentityDep, principal: PrincipalDep) -> Response:
    principal.require_authenticated()
    issued = await identity.issue_api_key(principal, await read_json(request))
    created = ApiKeyCreated(**ApiKeyRead.from_key(issued.key).model_dump(), secret=issued.secret)
    return JSONResponse(
        created.model_dump(mode="python"),
        status_code=201,
        headers={"Location": f"/api/v1/apikeys/{issued.key.id}", **NO_STORE},
    )


@router.delete("/apikeys/{key_id}", status_code=204, tags=["api keys"], summary="Revoke an API key (admins)")
async def revoke_api_key(key_id: uuid.UUID, identity: IdentityDep, principal: PrincipalDep) -> Response:
    await identity.revoke_api_key(principal, key_id)
    return Response(status_code=204)
