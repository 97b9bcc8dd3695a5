"""Security headers on every response, and CORS from the settings' allowlist.

A header a route has already set is left alone, so a page that needs a different policy (``/docs``
allows its one inline script by hash) sets its own header and the middleware keeps it.

``Referrer-Policy: strict-origin-when-cross-origin`` keeps full referrers inside Shelf (its pages and
analytics may use them) while other sites only learn the origin, and nothing leaks over a downgrade
to HTTP. Shelf never puts secrets in URLs, so ``no-referrer`` would cost more than it protects.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from html.parser import HTMLParser

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelf.settings import Settings

COMMON_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "DENY"),  # for browsers too old for CSP frame-ancestors
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), geolocation=(), microphone=(), payment=(), usb=()"),
    # Nothing is stored by any cache unless its route says otherwise: catalog reads, the one kind
    # of response meant to be shared, set their own (gateway/http.py: CachePolicy), and so do
    # static assets. A response that forgot to would otherwise be cacheable by heuristics.
    ("Cache-Control", "no-store"),
)
# Sent only in production: over plain HTTP on localhost it would pin the browser to HTTPS.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
# JSON and other non-page responses: nothing may load from them, and nobody may frame them.
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
_PAGE_DIRECTIVES: tuple[tuple[str, str], ...] = (
    ("default-src", "'self'"),
    ("script-src", "'self'"),
    ("style-src", "'self'"),
    ("img-src", "'self' data:"),
    ("connect-src", "'self'"),
    ("base-uri", "'none'"),
    ("form-action", "'self'"),
    ("frame-ancestors", "'none'"),
    ("object-src", "'none'"),
)

CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "X-Request-ID",
    "traceparent",
    "tracestate",
)
# Response headers a cross-origin script may read (browsers hide all but a safelisted few).
CORS_EXPOSED_HEADERS = (
    "ETag",
    "Location",
    "X-Request-ID",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "traceparent",
)
CORS_PREFLIGHT_MAX_AGE_SECONDS = 600


def page_content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    """The strict policy for HTML pages; ``script_hashes`` (``'sha256-...'``) allow exact inline scripts."""
    extra = {"script-src": " ".join(script_hashes)}
    return "; ".join(
        f"{name} {value} {extra[name]}" if extra.get(name) else f"{name} {value}"
        for name, value in _PAGE_DIRECTIVES
    )


PAGE_CONTENT_SECURITY_POLICY = page_content_security_policy()


class _InlineScripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._current = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._current is not None:
            self.scripts.append("".join(self._current))
            self._current = None


def inline_script_hashes(html: str) -> list[str]:
    """CSP hash sources for every inline ``<script>`` of ``html``, as a browser computes them."""
    parser = _InlineScripts()
    # Browsers normalize newlines before a script's text is hashed.
    parser.feed(html.replace("\r\n", "\n").replace("\r", "\n"))
    parser.close()
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in parser.scripts
    ]


def _raw(headers: Iterable[tuple[str, str]]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers)


_CONTENT_SECURITY_POLICY = b"content-security-policy"


class SecurityHeaders:
    """The headers every response gets, each unless the response already has it.

    Used by ``SecurityHeadersMiddleware`` and by the gateway's fast path, so both add the same.
    """

    def __init__(self, *, strict_transport_security: bool) -> None:
        headers = COMMON_HEADERS
        if strict_transport_security:
            headers += (("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY),)
        self._common = _raw(headers)
        self._page_policy = PAGE_CONTENT_SECURITY_POLICY.encode()
        self._api_policy = API_CONTENT_SECURITY_POLICY.encode()

    def add_missing(self, headers: list[tuple[bytes, bytes]]) -> None:
        """Append to raw ASGI response headers whatever is missing. One pass over what is there:
        this runs on every response, so it avoids ``MutableHeaders``' scan per header."""
        present: set[bytes] = set()
        media_type = b""
        for name, value in headers:
            lowered = name.lower()
            present.add(lowered)
            if lowered == b"content-type":
                media_type = value.split(b";")[0].strip().lower()
        headers.extend(header for header in self._common if header[0] not in present)
        if _CONTENT_SECURITY_POLICY not in present:
            policy = self._page_policy if media_type == b"text/html" else self._api_policy
            headers.append((_CONTENT_SECURITY_POLICY, policy))


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, strict_transport_security: bool) -> None:
        self.app = app
        self.headers = SecurityHeaders(strict_transport_security=strict_transport_security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = headers = list(message.get("headers", ()))
                self.headers.add_missing(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def add_cors_middleware(app: FastAPI, settings: Settings) -> None:
    """Starlette's CORSMiddleware for ``SHELF_CORS_ORIGINS``; nothing at all when that list is empty."""
    if not settings.cors_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_credentials=settings.cors_allow_credentials,
        allow_methods=list(CORS_METHODS),
        allow_headers=list(CORS_REQUEST_HEADERS),
        expose_headers=list(CORS_EXPOSED_HEADERS),
        max_age=CORS_PREFLIGHT_MAX_AGE_SECONDS,
    )
