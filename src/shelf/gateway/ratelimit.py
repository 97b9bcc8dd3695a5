"""Rate limits at the gateway: a token bucket per caller and route group, advertised in headers.

The caller is the authenticated principal, else the client address. The route group is the
stricter of what the request touches: sign-in routes (``/api/v1/auth/``), then writes
(POST, PUT, PATCH, DELETE), then reads, whose budget depends on whether the caller authenticated.

Every limited response carries ``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-
ratelimit-headers, structured-field form); a refusal is a 429 problem with ``Retry-After``.

Order: this middleware must run *inside* ``AuthenticationMiddleware`` (added to the app before
it), because it reads the ``Principal`` that authentication leaves in ``scope["state"]``. Behind a
proxy, run the server with trusted proxy headers so ``scope["client"]`` is the real client.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelf.gateway.problems import problem
from shelf.identity.permissions import Principal
from shelf.monitoring import metrics
from shelf.platform.ratelimit import Decision, RateLimiter, RatePolicy
from shelf.settings import Settings

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The probes must answer however busy a caller is (readiness reuses its result for a second, so
# a flood of it costs little); the API reference is static.
EXEMPT_PATHS = ("/healthz", "/readyz", "/docs", "/openapi.json")


@dataclass(frozen=True, slots=True)
class RoutePolicies:
    anonymous: RatePolicy  # reads, per client address
    authenticated: RatePolicy  # reads, per principal
    writes: RatePolicy
    auth: RatePolicy  # sign-in, token refresh, sessions
    events: RatePolicy | None = None  # event capture: SDKs send often, in batches
    feedback: RatePolicy | None = None  # feedback posts: people write rarely, bots often
    auth_prefix: str = "/api/v1/auth/"
    # Where events are captured (the paths of shelf.analytics.api, which imports the gateway).
    # The storefront tracker's beacons (web/storefront/events.py) share the events policy, per address.
    event_paths: frozenset[str] = frozenset(
        {"/batch/", "/capture/", "/e/", "/i/v0/e/", "/api/v1/events", "/storefront/events"}
    )
    # Where feedback is posted: the API (shelf.feedback.api) and the storefront's form (web/storefront).
    feedback_paths: frozenset[str] = frozenset({"/api/v1/feedback", "/feedback"})
    # OFREP evaluations (shelf.flags.ofrep): reads sent as POST, by apps that ask per request.
    flag_evaluations: RatePolicy | None = None
    flag_evaluation_prefix: str = "/ofrep/"

    @classmethod
    def from_settings(cls, settings: Settings) -> RoutePolicies:
        return cls(
            anonymous=RatePolicy.parse("anonymous", settings.rate_limit_anonymous),
            authenticated=RatePolicy.parse("authenticated", settings.rate_limit_authenticated),
            writes=RatePolicy.parse("writes", settings.rate_limit_writes),
            auth=RatePolicy.parse("auth", settings.rate_limit_auth),
            events=RatePolicy.parse("events", settings.rate_limit_events),
            feedback=RatePolicy.parse("feedback", settings.rate_limit_feedback),
            flag_evaluations=RatePolicy.parse("flag-evaluations", settings.rate_limit_flag_evaluations),
        )

    def for_request(self, method: str, path: str, *, authenticated: bool) -> RatePolicy:
        if path.startswith(self.auth_prefix):
            return self.auth
        if self.events is not None and path in self.event_paths:
            return self.events
        if self.feedback is not None and method == "POST" and path in self.feedback_paths:
            return self.feedback
        if self.flag_evaluations is not None and path.startswith(self.flag_evaluation_prefix):
            return self.flag_evaluations
        if method in WRITE_METHODS:
            return self.writes
        return self.authenticated if authenticated else self.anonymous


def caller_of(scope: Scope) -> tuple[str, bool]:
    """``(key, authenticated)``: the principal when there is one, else the client address."""
    principal = scope.get("state", {}).get("principal")
    if isinstance(principal, Principal) and not principal.is_anonymous:
        return f"{principal.kind}:{principal.id}", True
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}", False


def rate_limit_headers(policy: RatePolicy, decision: Decision) -> dict[str, str]:
    return {
        "RateLimit-Policy": f'"{policy.name}";q={policy.quota};w={policy.window_seconds}',
        "RateLimit": f'"{policy.name}";r={decision.remaining};t={decision.reset_seconds}',
    }


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        policies: RoutePolicies,
        exempt_paths: tuple[str, ...] = EXEMPT_PATHS,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.policies = policies
        self.exempt_paths = exempt_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        caller, authenticated = caller_of(scope)
        policy = self.policies.for_request(scope["method"], scope["path"], authenticated=authenticated)
        decision = await self.limiter.hit(caller, policy)
        if not decision.enforced:  # limits are off, or the store is unavailable: claim nothing
            await self.app(scope, receive, send)
            return
        headers = rate_limit_headers(policy, decision)
        if not decision.allowed:
            metrics.RATE_LIMIT_REJECTIONS.labels(policy.name).inc()
            wait = decision.retry_after_seconds
            response = problem(
                429,
                f"too many requests: the '{policy.name}' limit is {policy.quota} per "
                f"{policy.window_seconds} seconds; retry in {wait} seconds",
                headers={**headers, "Retry-After": str(wait)},
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in headers.items():
                    response_headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _exempt(self, path: str) -> bool:
        return any(path == exempt or path.startswith(f"{exempt}/") for exempt in self.exempt_paths)
