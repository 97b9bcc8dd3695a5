"""Rendering pages: one Jinja2 environment, built once by the composition root.

A page route parses its input, calls one service, and returns ``pages.render(request, template,
{...})``. Every template gets, besides its own values:

- ``principal``: who is asking (see below), ``csrf_token``: the token its forms must send back,
  ``cart_count``: items in the shopper's cart, ``static_url(name)``: an asset's versioned URL;
- the filters ``money(currency)``, ``slug`` and ``stock_state``.

Who the principal of a page is. The gateway resolves every request to a ``Principal`` before any
route runs (``gateway.auth``), pages included. Storefront pages are the shop as shoppers see it:
they read the catalog as the anonymous principal whoever is signed in, so a member of staff browsing
the shop sees exactly what a customer sees (drafts are previewed in the admin console). The admin
console uses the principal the gateway resolved from the console session cookie.

CSRF. A request authenticated by the console session cookie must carry that session's CSRF token,
and the gateway refuses it otherwise; its forms therefore carry ``principal.csrf_token``. Everyone
else gets the storefront's signed double-submit token (``web.shopper``), checked by
``require_form_token`` in the routes that change the cart. One hidden field, ``csrf_token``, serves
both, so a form works the same for a shopper and for a signed-in member of staff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, Response

from shelf.identity.permissions import ANONYMOUS, Principal
from shelf.platform.errors import Forbidden
from shelf.web.assets import StaticAssets
from shelf.web.formatting import category_label, format_money, slugify, stock_state
from shelf.web.shopper import COOKIE, MAX_AGE_SECONDS, Shopper, ShopperCookies

TEMPLATES_DIR = Path(__file__).parent / "templates"
# Pages carry a per-visitor CSRF token and cart count: browsers may keep them, shared caches not.
PAGE_CACHE_CONTROL = "private, no-cache"
_SHOPPER = "shopper"
_SHOPPER_CHANGED = "shopper_changed"


class Pages:
    def __init__(
        self, assets: StaticAssets, cookies: ShopperCookies, *, secure_cookies: bool, auto_reload: bool
    ) -> None:
        self.assets = assets
        self.cookies = cookies
        self.secure_cookies = secure_cookies
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,  # a misspelt variable fails a test instead of rendering blank
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=auto_reload,
        )
        self.env.globals["static_url"] = assets.url
        self.env.globals["site_name"] = "Shelf"
        self.env.filters["money"] = format_money
        self.env.filters["slug"] = slugify
        self.env.filters["stock_state"] = stock_state
        self.env.filters["category_label"] = category_label
        # Error pages by path prefix, longest first; an area (the console) registers its own.
        self.error_templates: dict[str, str] = {}

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        principal = principal_of(request)
        shopper = self.shopper(request)
        values = {
            "request": request,
            "principal": principal,
            "csrf_token": self.form_token(request),
            "cart_count": shopper.item_count,
            **(context or {}),
        }
        html = self.env.get_template(template).render(values)
        response = HTMLResponse(html, status_code=status_code, headers=headers)
        response.headers.setdefault("Cache-Control", PAGE_CACHE_CONTROL)
        self.remember(request, response)
        return response

    def error_template(self, path: str) -> str:
        """The template of an error page at ``path``: the area's own, else the shop's."""
        for prefix in sorted(self.error_templates, key=len, reverse=True):
            if path == prefix or path.startswith(prefix + "/"):
                return self.error_templates[prefix]
        return "errors/error.html"

    def shopper(self, request: Request) -> Shopper:
        """This browser's shopper state; a new one (stored by ``remember``) when it has none."""
        shopper: Shopper | None = getattr(request.state, _SHOPPER, None)
        if shopper is None:
            shopper = self.cookies.decode(request.cookies.get(COOKIE))
            if shopper is None:
                shopper = Shopper.new()
                setattr(request.state, _SHOPPER_CHANGED, True)
            setattr(request.state, _SHOPPER, shopper)
        return shopper

    def update_shopper(self, request: Request, shopper: Shopper) -> None:
        setattr(request.state, _SHOPPER, shopper)
        setattr(request.state, _SHOPPER_CHANGED, True)

    def remember(self, request: Request, response: Response) -> None:
        """Send the shopper cookie if this request created or changed it."""
        if getattr(request.state, _SHOPPER_CHANGED, False):
            response.set_cookie(
                COOKIE,
                self.cookies.encode(self.shopper(request)),
                max_age=MAX_AGE_SECONDS,
                httponly=True,
                samesite="lax",
                secure=self.secure_cookies,
                path="/",
            )

    def form_token(self, request: Request) -> str:
        """The ``csrf_token`` this request's forms must carry (see the module docstring)."""
        principal = principal_of(request)
        if principal.csrf_token is not None:
            return principal.csrf_token
        return self.cookies.csrf_token(self.shopper(request))

    def require_form_token(self, request: Request, presented: str | None) -> None:
        """Refuse a form post that does not come from one of Shelf's own pages."""
        if principal_of(request).csrf_token is not None:
            return  # a console session: the gateway has already checked the session's token
        stored = self.cookies.decode(request.cookies.get(COOKIE))
        if stored is None or not self.cookies.csrf_matches(stored, presented):
            raise Forbidden(
                "this form has expired or did not come from this shop; reload the page and try again"
            )


def principal_of(request: Request) -> Principal:
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    return principal


def current_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


PagesDep = Annotated[Pages, Depends(current_pages)]
