"""Authentication, in one place: every request leaves here with exactly one ``Principal``.

``Authorization: Bearer <JWT>`` (a signed-in user), ``Authorization: Bearer <API key>``, or the
admin console's session cookie. Bad credentials are a 401 at once, even on public routes, so a
client never mistakes a broken token for anonymous access. Requests that authenticate with the
session cookie and change state must carry the session's CSRF token (``X-CSRF-Token`` header or a
``csrf_token`` form field), so another site cannot make a signed-in browser act.
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from typing import Annotated
from urllib.parse import parse_qs

import structlog
from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelf.gateway.problems import problem
from shelf.identity.permissions import ANONYMOUS, Principal
from shelf.identity.service import IdentityService
from shelf.identity.tokens import looks_like_jwt
from shelf.monitoring import metrics
from shelf.platform.errors import Unauthenticated
from shelf.platform.ratelimit import RateLimiter, RatePolicy

SESSION_COOKIE = "shelf_session"
CSRF_HEADER = b"x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPE = "application/x-www-form-urlencoded"


class AuthenticationMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        identity: IdentityService,
        limiter: RateLimiter,
        bad_credentials: RatePolicy,
        csrf_exempt_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        # Event capture: a signed-in admin browsing the storefront sends the session cookie with
        # every tracker beacon, which carries no CSRF token and needs none (it authenticates with
        # the key in its body). There a cookie without its token is ignored rather than refused.
        self.csrf_exempt_paths = csrf_exempt_paths
        self.identity = identity
        self.limiter = limiter
        self.bad_credentials = bad_credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        client_ip = scope["client"][0] if scope.get("client") else "unknown"
        if b"authorization" in headers:
            # Guessing keys or tokens costs a lookup each: an address that keeps presenting bad
            # credentials is turned away before any more lookups are made.
            blocked = await self.limiter.check(client_ip, self.bad_credentials)
            if not blocked.allowed:
                metrics.RATE_LIMIT_REJECTIONS.labels(self.bad_credentials.name).inc()
                response = problem(
                    429,
                    "too many rejected credentials from this address; wait before trying again",
                    headers={"Retry-After": str(blocked.retry_after_seconds)},
                )
                await response(scope, receive, send)
                return
        try:
            principal = await self._principal(headers)
        except Unauthenticated as error:
            await self.limiter.hit(client_ip, self.bad_credentials)
            response = problem(401, error.detail, headers={"WWW-Authenticate": 'Bearer realm="shelf"'})
            await response(scope, receive, send)
            return
        if principal.csrf_token is not None and scope["method"] not in SAFE_METHODS:
            receive, presented = await _csrf_token_of(headers, receive)
            if presented is None or not hmac.compare_digest(presented, principal.csrf_token):
                if scope["path"] not in self.csrf_exempt_paths:
                    response = problem(403, "missing or wrong CSRF token for this session; reload the page")
                    await response(scope, receive, send)
                    return
                principal = ANONYMOUS
        scope.setdefault("state", {})["principal"] = principal
        structlog.contextvars.bind_contextvars(principal=f"{principal.kind}:{principal.id or '-'}")
        try:
            await self.app(scope, receive, send)
        finally:
            structlog.contextvars.unbind_contextvars("principal")

    async def _principal(self, headers: dict[bytes, bytes]) -> Principal:
        authorization = headers.get(b"authorization")
        if authorization is not None:
            scheme, _, credential = authorization.decode("latin-1").partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not credential:
                raise Unauthenticated("use 'Authorization: Bearer <access token or API key>'")
            if looks_like_jwt(credential):
                return await self.identity.authenticate_access_token(credential)
            return await self.identity.authenticate_api_key(credential)
        cookie = session_cookie(headers)
        if cookie:
            return await self.identity.authenticate_session(cookie) or ANONYMOUS
        return ANONYMOUS


def session_cookie(headers: dict[bytes, bytes]) -> str | None:
    raw = headers.get(b"cookie")
    if raw is None:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except Exception:
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel else None


async def _csrf_token_of(headers: dict[bytes, bytes], receive: Receive) -> tuple[Receive, str | None]:
    """The CSRF token from the header, or from an urlencoded form body (which is then replayed)."""
    header = headers.get(CSRF_HEADER)
    if header is not None:
        return receive, header.decode("latin-1")
    content_type = headers.get(b"content-type", b"").decode("latin-1")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        return await _multipart_csrf_token(content_type, receive)
    if media_type != FORM_TYPE:
        return receive, None
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    values = parse_qs(body.decode("utf-8", "replace")).get("csrf_token", [])
    return replay, values[0] if values else None


MULTIPART_PEEK = 64 * 1024


async def _multipart_csrf_token(content_type: str, receive: Receive) -> tuple[Receive, str | None]:
    """The token from a multipart form whose FIRST part is ``csrf_token`` (Shelf's upload forms put
    the hidden field first). Only the start of the body is read (at most 64 KiB) and replayed, so
    an upload still streams to its route."""
    parameters = [part.strip() for part in content_type.split(";")[1:]]
    boundary = next((p.split("=", 1)[1].strip('"') for p in parameters if p.startswith("boundary=")), None)
    chunks: list[bytes] = []
    more = True
    if boundary:
        delimiter = b"\r\n--" + boundary.encode("latin-1")
        while more and sum(map(len, chunks)) < MULTIPART_PEEK:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
            head = b"".join(chunks)
            if head.count(delimiter) >= 1:
                break
    head = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": head, "more_body": more}
        return await receive()

    if not boundary:
        return receive, None
    first = head.split(b"\r\n--" + boundary.encode("latin-1"), 1)[0]
    part_headers, _, value = first.partition(b"\r\n\r\n")
    if b'name="csrf_token"' not in part_headers:
        return replay, None
    return replay, value.decode("utf-8", "replace")


async def current_principal(request: Request) -> Principal:  # async: no worker thread per request
    principal: Principal = request.state.principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
