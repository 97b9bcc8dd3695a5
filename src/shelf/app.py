"""The composition root: ``create_app(settings)`` wires every part of Shelf, and nothing else does.

Nothing connects to a database at import time or in ``create_app``; connections open on first use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from fastapi import FastAPI

from shelf import __version__
from shelf.analytics import api as analytics_api
from shelf.analytics.service import AnalyticsService, build_analytics
from shelf.audit import api as audit_api
from shelf.audit.service import AuditService
from shelf.cart.service import CartService
from shelf.catalog import api as catalog_api
from shelf.catalog.categories import CategoryDirectory
from shelf.catalog.overview import CatalogOverview
from shelf.catalog.queries import SqlProductReader
from shelf.catalog.service import CacheTtls, CatalogService
from shelf.experiments import api as experiments_api
from shelf.experiments.flag_lookup import FlagServiceLookup
from shelf.experiments.queries import SqlExperimentReader
from shelf.experiments.service import ExperimentService
from shelf.feedback import api as feedback_api
from shelf.feedback.queries import SqlFeedbackReader
from shelf.feedback.service import FeedbackService
from shelf.feedback.variants import FlagServiceVariants
from shelf.flags import api as flags_api
from shelf.flags import ofrep as flags_ofrep
from shelf.flags.service import FlagsService
from shelf.gateway.auth import AuthenticationMiddleware
from shelf.gateway.body_limit import BodyLimitMiddleware
from shelf.gateway.errors import ErrorBoundaryMiddleware
from shelf.gateway.fastpath import FastPathMiddleware
from shelf.gateway.http import CachePolicy
from shelf.gateway.outer import LayeredFastAPI
from shelf.gateway.problems import install_problem_handlers
from shelf.gateway.ratelimit import EXEMPT_PATHS, RateLimitMiddleware, RoutePolicies
from shelf.gateway.request_id import RequestIdMiddleware
from shelf.gateway.security import SecurityHeaders, SecurityHeadersMiddleware, add_cors_middleware
from shelf.gateway.tracecontext import TraceContextMiddleware
from shelf.identity import api as identity_api
from shelf.identity.permissions import Principal
from shelf.identity.service import IdentityService
from shelf.identity.throttle import LoginThrottle
from shelf.identity.tokens import AccessTokens
from shelf.monitoring import api as monitoring_api
from shelf.monitoring import health
from shelf.monitoring.database import PoolMetrics
from shelf.monitoring.logging import configure_logging
from shelf.monitoring.middleware import RequestTelemetryMiddleware
from shelf.monitoring.service import MonitoringService
from shelf.monitoring.tracing import Tracing
from shelf.platform.cache import Cache, TwoLevelCache, build_cache
from shelf.platform.clock import Clock, SystemClock
from shelf.platform.db import Database
from shelf.platform.ratelimit import RateLimiter, RatePolicy, rate_limit_store
from shelf.platform.ratelimit.redis import RedisRateLimitStore
from shelf.settings import Settings, load_settings
from shelf.transfer import api as transfer_api
from shelf.transfer.service import TransferService
from shelf.uow import SqlUnitOfWork
from shelf.web.api_docs import describe_security, install_api_docs
from shelf.web.assets import STATIC_PREFIX
from shelf.web.install import install_web


@dataclass
class Container:
    """Every long-lived object of one Shelf process."""

    settings: Settings
    database: Database
    cache: Cache
    cache_policy: CachePolicy  # Cache-Control of catalog reads
    catalog: CatalogService
    categories: CategoryDirectory  # the storefront's category list
    identity: IdentityService
    audit: AuditService
    analytics: AnalyticsService  # event capture, its durable buffer, the queries
    feedback: FeedbackService
    flags: FlagsService  # feature flags: definitions, in-process evaluation, OFREP, exposures
    experiments: ExperimentService
    rate_limiter: RateLimiter
    tracing: Tracing
    readiness: health.Readiness
    monitoring: MonitoringService
    pool_metrics: PoolMetrics
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def catalog_overview(self) -> CatalogOverview:
        """The admin console dashboard's figures, cached with the catalog's list pages."""
        return CatalogOverview(self.database.sessions, self.cache, self.settings.cache_page_ttl_seconds)

    @cached_property
    def transfer(self) -> TransferService:
        """Bulk import and export (transfer/); owns the background tasks of import jobs."""
        return TransferService(
            lambda: SqlUnitOfWork(self.database.sessions),
            self.database.sessions,
            self.clock,
            self.catalog.forget_products,
        )

    @cached_property
    def cart(self) -> CartService:
        """The storefront's cart rules; it prices carts through the catalog."""
        return CartService(self.catalog)

    async def start(self) -> None:
        await self.cache.start()
        await self.analytics.start()  # replays what a crash left in the spool

    async def aclose(self) -> None:
        await self.flags.aclose()  # the last batch of "evaluated at" marks, then its exposures
        if "transfer" in self.__dict__:  # import jobs still running are stopped, marked failed
            await self.transfer.aclose()
        await self.analytics.aclose()  # writes out every buffered event, before the database goes
        await self.database.dispose()
        self.pool_metrics.close()
        await self.cache.aclose()
        await self.rate_limiter.aclose()
        await self.readiness.aclose()
        self.tracing.shutdown()


def build_container(
    settings: Settings, clock: Clock | None = None, *, tracing: Tracing | None = None
) -> Container:
    """``tracing`` defaults to what the ``OTEL_*`` environment configures (off when it names no endpoint)."""
    clock = clock or SystemClock()
    tracing = tracing or Tracing.from_environment()
    database = Database(settings)
    rate_limiter = RateLimiter(rate_limit_store(settings))
    cache = build_cache(settings)
    tracing.instrument_database(database.engine)
    if isinstance(cache, TwoLevelCache):
        tracing.instrument_redis(cache.shared.client)
    if isinstance(rate_limiter.store, RedisRateLimitStore):
        tracing.instrument_redis(rate_limiter.store.client)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(database.sessions)

    async def authenticate_key(secret: str) -> Principal:
        return await container.identity.authenticate_api_key(secret)

    analytics = build_analytics(settings, database.engine, clock, authenticate_key)
    flags = FlagsService(uow, clock, cache=cache, events=analytics)
    container = Container(
        settings=settings,
        database=database,
        cache=cache,
        cache_policy=CachePolicy(
            max_age_seconds=settings.http_cache_max_age_seconds,
            stale_while_revalidate_seconds=settings.http_cache_stale_while_revalidate_seconds,
        ),
        catalog=CatalogService(
            uow,
            SqlProductReader(database.sessions, database.dialect, database.point_reads),
            clock,
            cache=cache,
            cache_ttls=CacheTtls(
                product_seconds=settings.cache_product_ttl_seconds,
                page_seconds=settings.cache_page_ttl_seconds,
                not_found_seconds=settings.cache_negative_ttl_seconds,
            ),
            idempotency_ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
            events=analytics,
        ),
        categories=CategoryDirectory(database.sessions, cache, settings.cache_page_ttl_seconds),
        identity=IdentityService(
            uow,
            clock,
            AccessTokens(
                settings.secret_key.get_secret_value(),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                ttl=timedelta(seconds=settings.access_token_ttl_seconds),
            ),
            throttle=LoginThrottle(
                rate_limiter,
                per_account=RatePolicy.parse("login-account", settings.rate_limit_failed_logins_per_account),
                per_ip=RatePolicy.parse("login-ip", settings.rate_limit_failed_logins_per_ip),
            ),
            secret=settings.secret_key.get_secret_value(),
            refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
            session_ttl=timedelta(seconds=settings.session_ttl_seconds),
        ),
        audit=AuditService(database.sessions),
        analytics=analytics,
        feedback=FeedbackService(
            uow,
            SqlFeedbackReader(database.sessions, database.dialect),
            clock,
            # Which flag variants a storefront visitor had, from the flags service.
            variants=FlagServiceVariants(flags),
            events=analytics,
            email_retention=timedelta(days=settings.feedback_email_retention_days),
        ),
        flags=flags,
        # Experiments run on the flags editors manage (their variants and weights, read when needed).
        experiments=ExperimentService(
            uow, SqlExperimentReader(database.engine), FlagServiceLookup(flags), clock
        ),
        rate_limiter=rate_limiter,
        tracing=tracing,
        readiness=health.Readiness(
            database, settings.redis_url, timeout_seconds=settings.readiness_timeout_seconds
        ),
        monitoring=MonitoringService(),
        pool_metrics=PoolMetrics(database.engine),
        clock=clock,
    )
    return container


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, tracing: Tracing | None = None
) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_format, settings.log_level)
    container = build_container(settings, clock, tracing=tracing)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await container.start()
        yield
        await container.aclose()

    app = LayeredFastAPI(
        title="Shelf",
        version=__version__,
        description="Self-hosted product catalog platform.",
        lifespan=lifespan,
        docs_url=None,  # served by web.api_docs from packaged assets instead of a CDN
        redoc_url=None,
        # FastAPI's own OpenTelemetry hooks look for a global provider on every request (about 5 µs,
        # a tenth of a cached read). Shelf traces with a provider of its own (monitoring/tracing.py).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.container = container
    install_problem_handlers(app)
    # Each add_middleware wraps the stack so far: the last added runs first. The request id
    # must exist before anything can fail or log, so RequestIdMiddleware is the outermost.
    # Outermost first: request id, trace context, security headers, error boundary (so a 500
    # keeps the ids and headers), CORS (only when origins are configured), body limit,
    # authentication, rate limits. Security headers sit outside CORS and
    # the body limit so that preflight answers and 413s get them too.
    # Rate limits run inside authentication: they key on the principal it resolves. The metrics
    # scrape token is answered just outside authentication, which would refuse it as an unknown key.
    # Outside them all, the response-cache fast path answers anonymous cache hits itself and adds
    # what the layers it skips would have added, with their own functions (gateway/fastpath.py).
    rate_policies = RoutePolicies.from_settings(settings)
    strict_transport_security = settings.env == "production"
    app.add_middleware(
        RateLimitMiddleware,
        limiter=container.rate_limiter,
        policies=rate_policies,
        exempt_paths=(*EXEMPT_PATHS, STATIC_PREFIX),  # the pages' own CSS and JS cost no budget
    )
    app.add_middleware(
        AuthenticationMiddleware,
        identity=container.identity,
        limiter=container.rate_limiter,
        bad_credentials=RatePolicy.parse("bad-credentials", settings.rate_limit_bad_credentials),
        csrf_exempt_paths=frozenset(analytics_api.CAPTURE_PATHS),
    )
    app.add_middleware(
        monitoring_api.MetricsScrapeMiddleware,
        token=settings.metrics_token.get_secret_value() if settings.metrics_token else None,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    add_cors_middleware(app, settings)
    app.add_middleware(ErrorBoundaryMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, strict_transport_security=strict_transport_security)
    app.add_middleware(TraceContextMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_outer_middleware(
        FastPathMiddleware,
        prefix=catalog_api.router.prefix,
        lookup=catalog_api.cached_public_reads(container.catalog),
        policy=container.cache_policy,
        limiter=container.rate_limiter,
        rate_policies=rate_policies,
        security_headers=SecurityHeaders(strict_transport_security=strict_transport_security),
    )
    # Outermost of all: every answer, the fast path's included, is counted, timed, logged, traced.
    # Both run outside FastAPI's own layers (gateway/outer.py): a cache hit never enters them.
    app.add_outer_middleware(RequestTelemetryMiddleware, routes=app.routes, tracing=container.tracing)
    app.include_router(health.router)
    app.include_router(monitoring_api.router)
    app.include_router(catalog_api.router)
    app.include_router(identity_api.router)
    app.include_router(audit_api.router)
    app.include_router(analytics_api.capture_router)
    app.include_router(analytics_api.router)
    app.include_router(feedback_api.router)
    app.include_router(flags_api.router)
    app.include_router(flags_ofrep.router)
    app.include_router(transfer_api.router)
    app.include_router(experiments_api.router)
    install_api_docs(app)
    describe_security(app)
    install_web(app, container)  # after the problem handlers: page errors wrap them
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (what ``shelf serve`` runs in every worker)."""
    return create_app(load_settings())
