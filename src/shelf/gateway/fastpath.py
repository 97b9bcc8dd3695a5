"""The response-cache fast path: a cached public read is answered before anything else runs.

For an anonymous ``GET`` under ``prefix`` (no ``Authorization`` header, no console session
cookie, no ``Origin``), ``lookup(path, query_string)`` is asked for a representation the cache
already holds. On a hit the answer is built here from those pre-serialised bytes: FastAPI's
routing, dependency injection and response validation never run, and neither does the rest of
the gateway's middleware. On anything else (a miss, a cached 404, another method or path,
credentials, the cache switched off, Redis down) the request goes on its normal way and gets the
normal answer, errors included.

It sits outside the rest of the gateway, so it must add what the layers it skips would have added
to the same answer, and it does so with their own functions:

- the body, ``ETag``, ``Cache-Control``, ``Vary`` and the 304 on a matching ``If-None-Match``:
  ``http.representation_response``, which the route answers with too;
- rate limits: one token from the caller's anonymous bucket (``ratelimit.caller_of`` and
  ``RoutePolicies.for_request``, as ``RateLimitMiddleware`` does) and the same ``RateLimit``
  headers. A caller over the limit is not refused here but sent the normal way, where
  ``RateLimitMiddleware`` refuses it with the usual 429 (an empty bucket stays empty);
- the security headers (``security.SecurityHeaders``), ``traceparent`` (``tracecontext.trace_of``)
  and ``X-Request-ID`` (``request_id.request_id_for``).

CORS answers depend on ``Origin``, so a request with one goes the normal way, and so does a GET
with a body (the body limit's business). The fast path binds no ids to log lines: it writes none.
``tests/integration/gateway/test_fast_path.py`` compares its answers with the normal path's.

The lookup belongs to the feature that owns the URLs (``catalog.api.cached_public_reads``): it
accepts exactly the URLs its routes would and only asks the cache, never the database. The
composition root (``app.py``) wires the two together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from shelf.gateway.auth import SESSION_COOKIE
from shelf.gateway.http import Cacheable, CachePolicy, parse_etags, representation_response, weakly_matches
from shelf.gateway.ratelimit import RoutePolicies, caller_of, rate_limit_headers
from shelf.gateway.request_id import request_id_for
from shelf.gateway.security import SecurityHeaders
from shelf.gateway.tracecontext import trace_of
from shelf.monitoring import metrics
from shelf.platform.ratelimit import RateLimiter

log = structlog.get_logger(__name__)

CachedLookup = Callable[[str, bytes], Awaitable[Cacheable | None]]

# Headers after which the request is not anonymous, or its answer depends on more than the URL.
# A body (which a GET should not have) is left to BodyLimitMiddleware's rules.
_DECLINE = frozenset({b"authorization", b"origin", b"content-length", b"transfer-encoding"})
_SESSION = SESSION_COOKIE.encode()


class FastPathMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str,
        lookup: CachedLookup,
        policy: CachePolicy,
        limiter: RateLimiter,
        rate_policies: RoutePolicies,
        security_headers: SecurityHeaders,
    ) -> None:
        self.app = app
        self.prefix = prefix  # only paths under it are looked up
        self.lookup = lookup
        self.policy = policy
        self.limiter = limiter
        self.rate_policies = rate_policies
        self.security_headers = security_headers
        self.hits = 0  # answers given here (tests read it)
        # The headers every answer of one kind (200 or 304) carries, whatever the representation:
        # built once with the functions the normal path uses, so the two cannot drift.
        self._fixed = {
            status: _fixed_headers(policy, security_headers, not_modified=status == 304)
            for status in (200, 304)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith(self.prefix)
            or not await self._answer_safely(scope, send)
        ):
            await self.app(scope, receive, send)

    async def _answer_safely(self, scope: Scope, send: Send) -> bool:
        """The fast path runs outside FastAPI's error handling: whatever goes wrong here before an
        answer starts (the cache, the limiter) sends the request the normal way instead."""
        try:
            return await self._answer(scope, send)
        except _Answering:
            raise
        except Exception:
            log.exception("fast_path_failed", path=scope["path"])
            metrics.FAST_PATH_MISSES.inc()
            return False

    async def _answer(self, scope: Scope, send: Send) -> bool:
        """Answer from the cache and say True, or say False and leave the request untouched."""
        if_none_match: str | None = None
        request_id = b""
        for name, value in scope["headers"]:
            if name in _DECLINE or (name == b"cookie" and _SESSION in value):
                return False
            if name == b"if-none-match" and if_none_match is None:  # the first, as the route reads it
                if_none_match = value.decode("latin-1")
            elif name == b"x-request-id":  # the last, as RequestIdMiddleware reads it
                request_id = value
        representation = await self.lookup(scope["path"], scope["query_string"])
        if representation is None or not representation.public:
            metrics.FAST_PATH_MISSES.inc()
            return False
        caller, _ = caller_of(scope)  # no principal yet: the client address, as for anyone anonymous
        rate_policy = self.rate_policies.for_request("GET", scope["path"], authenticated=False)
        decision = await self.limiter.hit(caller, rate_policy)
        if decision.enforced and not decision.allowed:
            return False  # refused the normal way, with the usual 429

        candidates = parse_etags(if_none_match)
        status = 304 if candidates is not None and weakly_matches(representation.etag, candidates) else 200
        headers = [(b"etag", representation.etag.encode())]
        if status == 200:
            headers.append((b"content-length", str(len(representation.json)).encode()))
        headers.extend(self._fixed[status])
        if decision.enforced:
            limits = rate_limit_headers(rate_policy, decision)
            headers.extend((name.lower().encode(), value.encode()) for name, value in limits.items())
        headers.append((b"traceparent", trace_of(scope).traceparent.encode()))
        headers.append((b"x-request-id", request_id_for(request_id).encode()))
        self.hits += 1
        metrics.FAST_PATH_HITS.inc()
        try:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": representation.json if status == 200 else b""})
        except Exception as error:  # the answer has started: it cannot go the normal way any more
            raise _Answering from error
        return True


class _Answering(Exception):
    """Sending failed after the answer started (the client went away): not a reason to decline."""


def _fixed_headers(
    policy: CachePolicy, security_headers: SecurityHeaders, *, not_modified: bool
) -> tuple[tuple[bytes, bytes], ...]:
    """What ``representation_response`` and ``SecurityHeadersMiddleware`` add to every product or
    page answer besides its ETag and length, in the order they add it."""
    sample = representation_response(_Sample(), '"sample"' if not_modified else None, policy)
    headers = [
        (name, value) for name, value in sample.raw_headers if name not in (b"etag", b"content-length")
    ]
    security_headers.add_missing(headers)
    return tuple(headers)


class _Sample:
    json = b"{}"
    etag = '"sample"'
    public = True
