"""Who may open a console page: the page guard, and where an anonymous visitor is sent.

Every console route declares the permission it needs with ``requires(Permission.X)`` (or one of the
aliases below). The guard reads the principal the gateway resolved (the console session cookie, or
a Bearer token or key a script sends) and

- lets it through when the permission table (``identity.permissions``) grants the permission;
- sends an anonymous visitor to the login page: ``303 See Other`` to ``/admin/login?next=<path>``
  for a ``GET`` (after a form post it would come back to a URL that only takes posts, so then the
  login page leads to the dashboard instead);
- refuses anyone else with ``Forbidden``, which the page errors (``web.errors``) show as the
  console's 403 page (a problem document for programs).

Roles are never named here: a new role or permission changes the table, not the pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.responses import RedirectResponse, Response

from shelf.identity.permissions import Permission, Principal
from shelf.platform.errors import Forbidden
from shelf.web.errors import PageRoute
from shelf.web.pages import principal_of

LOGIN_PATH = "/admin/login"
HOME_PATH = "/admin"
# Console pages show what only staff may see: no cache may keep them, not even the browser's.
NO_STORE = {"Cache-Control": "no-store"}


class LoginRequired(Exception):
    """Raised by the guard for an anonymous visitor; ``AdminRoute`` answers it with a redirect."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def safe_next(raw: str | None) -> str:
    """``raw`` if it is a console path on this site, else the dashboard: never an open redirect.

    Accepted: ``/admin`` or ``/admin/...`` with an optional query. Refused: anything with a scheme
    or a host (``https://evil.example``, ``//evil.example``), backslashes (which browsers read as
    slashes), control characters, dot segments, and paths outside the console.
    """
    if not raw or len(raw) > 2000 or "\\" in raw or any(ord(char) < 0x21 for char in raw):
        return HOME_PATH
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or raw.startswith("//"):
        return HOME_PATH
    if parts.path != HOME_PATH and not parts.path.startswith(HOME_PATH + "/"):
        return HOME_PATH
    if parts.path == LOGIN_PATH or any(segment in {".", ".."} for segment in parts.path.split("/")):
        return HOME_PATH
    return raw if not parts.fragment else raw.split("#", 1)[0]


def login_url(request: Request) -> str:
    """Where the guard sends an anonymous visitor of ``request``."""
    if request.method != "GET":
        return LOGIN_PATH
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{LOGIN_PATH}?next={quote(target, safe='/')}"


def requires(permission: Permission) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that returns the caller's principal if it holds ``permission``."""

    async def guard(request: Request) -> Principal:
        principal = principal_of(request)
        if principal.is_anonymous:
            raise LoginRequired(login_url(request))
        if not principal.can(permission):
            raise Forbidden(
                f"your role ({principal.role or 'none'}) may not use this page; ask an admin if you need to"
            )
        return principal

    return guard


# The permissions the console's own pages need. A page of another area declares its own alias.
Staff = Annotated[Principal, Depends(requires(Permission.CATALOG_READ_ALL))]  # viewer and up
CatalogEditor = Annotated[Principal, Depends(requires(Permission.CATALOG_WRITE))]
UserManager = Annotated[Principal, Depends(requires(Permission.USERS_MANAGE))]
KeyManager = Annotated[Principal, Depends(requires(Permission.API_KEYS_MANAGE))]
AuditReader = Annotated[Principal, Depends(requires(Permission.AUDIT_READ))]


class AdminRoute(PageRoute):
    """The route class of every console page: a page route whose guard may ask for a login."""

    passthrough = (*PageRoute.passthrough, LoginRequired)


def login_redirect(_request: Request, exc: Exception) -> Response:
    """The app's handler for ``LoginRequired`` (installed by ``web.admin.install``)."""
    assert isinstance(exc, LoginRequired)  # noqa: S101 - registered for this class only
    return RedirectResponse(exc.location, status_code=303, headers=NO_STORE)
