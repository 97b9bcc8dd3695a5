"""One validated settings object, read from ``SHELF_*`` environment variables."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me-in-production"  # noqa: S105 - refused in production below

Environment = Literal["development", "test", "production"]
# "<requests>/<second|minute|hour|day>": a bucket of that many requests, refilled evenly.
Rate = Annotated[str, Field(pattern=r"^[1-9][0-9]*/(second|minute|hour|day)$")]

_ORIGIN = re.compile(
    r"(?P<scheme>https?)://"
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>[1-9][0-9]{0,4}))?"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_origin(origin: str) -> bool:
    """``scheme://host[:port]`` exactly as a browser serializes it in an ``Origin`` header."""
    match = _ORIGIN.fullmatch(origin)
    if match is None:
        return False
    port = match["port"]
    return port is None or (int(port) <= 65535 and int(port) != _DEFAULT_PORTS[match["scheme"]])


class Settings(BaseSettings):
    """Everything Shelf can be configured with. Plain URLs are accepted and mapped to async drivers."""

    model_config = SettingsConfigDict(env_prefix="SHELF_", extra="ignore", frozen=True)

    env: Environment = "development"
    database_url: str = "sqlite:///./shelf.db"
    redis_url: str | None = None
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # Monitoring (see monitoring/): a scraper sends "Authorization: Bearer <metrics_token>" to read
    # /metrics (admins may read it with their own credentials); unset, only admins can.
    metrics_token: SecretStr | None = Field(default=None, min_length=32)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0, le=30)  # each check of /readyz

    # Identity: tokens and console sessions.
    jwt_issuer: str = "shelf"
    jwt_audience: str = "shelf-api"
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=60, le=3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    session_ttl_seconds: int = Field(default=8 * 3600, ge=300)

    # Gateway: rate limits (see gateway/ratelimit.py).
    # A rate is "<requests>/<second|minute|hour|day>": a bucket of that many requests, refilled evenly.
    # Buckets live in this process, or in Redis (one budget for every instance) when redis_url is set.
    rate_limit_enabled: bool = True
    rate_limit_anonymous: Rate = "120/minute"  # reads, per client IP
    rate_limit_authenticated: Rate = "600/minute"  # reads, per principal
    rate_limit_writes: Rate = "60/minute"
    rate_limit_auth: Rate = "20/minute"  # everything under /api/v1/auth/
    rate_limit_events: Rate = "100/second"  # event capture (PostHog SDKs, the tracker), per key or IP
    rate_limit_feedback: Rate = "10/minute"  # feedback posts (API and storefront form), per key or IP
    rate_limit_flag_evaluations: Rate = "100/second"  # OFREP evaluations (/ofrep/), per key or IP
    rate_limit_bad_credentials: Rate = "30/minute"  # rejected tokens and keys, per client IP
    rate_limit_failed_logins_per_account: Rate = "10/hour"
    rate_limit_failed_logins_per_ip: Rate = "50/hour"
    rate_limit_max_keys: int = Field(default=50_000, ge=100)  # in-process buckets kept per worker
    rate_limit_redis_prefix: str = "shelf:ratelimit:"
    rate_limit_redis_timeout_seconds: float = Field(default=0.25, gt=0, le=5)
    # Cache (see platform/cache/).
    # In this process (a bounded LRU) by default; in Redis when redis_url is set, with a small
    # in-process L1 in front whose TTL bounds how long an instance that missed an invalidation
    # message can serve stale data.
    cache_enabled: bool = True
    cache_max_entries: int = Field(default=10_000, ge=1)
    cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=64 * 1024)
    cache_product_ttl_seconds: float = Field(default=60, gt=0, le=24 * 3600)
    cache_page_ttl_seconds: float = Field(default=30, gt=0, le=24 * 3600)
    cache_negative_ttl_seconds: float = Field(default=5, gt=0, le=3600)  # cached 404s
    cache_local_ttl_seconds: float = Field(default=5, gt=0, le=60)  # the L1 in front of Redis
    cache_local_max_entries: int = Field(default=2_000, ge=1)
    cache_local_max_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    cache_redis_prefix: str = "shelf:cache:"
    cache_redis_timeout_seconds: float = Field(default=0.25, gt=0, le=5)
    # HTTP caching (see gateway/http.py: CachePolicy): how long shared caches and browsers may
    # reuse a public catalog read without asking, then serve it stale while they revalidate.
    http_cache_max_age_seconds: int = Field(default=5, ge=0, le=24 * 3600)
    http_cache_stale_while_revalidate_seconds: int = Field(default=30, ge=0, le=24 * 3600)

    # Gateway: security headers and CORS (see gateway/security.py).
    # SHELF_CORS_ORIGINS is comma-separated ("https://shop.example.com,http://localhost:5173");
    # empty means no cross-origin access at all.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    cors_allow_credentials: bool = False

    # Analytics (see analytics/): capture limits and the event buffer.
    # The buffer is a local spool file (fsync'd before a capture answers 2xx) flushed to the
    # database in batches, or a Redis stream when redis_url is set. The spool directory defaults to
    # beside a SQLite file, or ./shelf-analytics-spool/<host>-<port>-<database> for PostgreSQL.
    analytics_spool_dir: str | None = None
    analytics_buffer_max_events: int = Field(default=200_000, ge=100)  # waiting; beyond it a 503
    analytics_flush_max_events: int = Field(default=25_000, ge=1)  # per database transaction
    analytics_flush_interval_seconds: float = Field(default=0.2, gt=0, le=60)
    analytics_max_events_per_request: int = Field(default=5_000, ge=1, le=100_000)
    analytics_max_decompressed_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    analytics_max_property_bytes: int = Field(default=32 * 1024, ge=1024)  # one event's properties
    analytics_max_property_depth: int = Field(default=8, ge=1, le=64)
    analytics_key_cache_seconds: float = Field(default=10, ge=0, le=300)  # capture keys, known answers
    analytics_redis_stream: str = "shelf:analytics:events"
    analytics_redis_claim_idle_seconds: float = Field(default=30, gt=0)  # take over a dead consumer's

    # Feedback (see feedback/, ADR 0016): a submitter's email is personal data, kept this many days
    # after the feedback was sent, then erased (the feedback itself stays).
    feedback_email_retention_days: int = Field(default=180, ge=1, le=3650)

    # The storefront's tracker (web/storefront/tracking.py, ADR 0017): "implied" measures visitors
    # unless Do-Not-Track or Global Privacy Control says no; "required" sends nothing until the
    # visitor accepts in the consent banner (remembered in the shelf_consent cookie).
    analytics_consent: Literal["implied", "required"] = "implied"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_cors_origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            # Browsers send origins in lower case, and CORS compares them as exact strings.
            return tuple(dict.fromkeys(str(item).strip().lower() for item in value if str(item).strip()))
        return value

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins_are_origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        if "*" in origins and len(origins) > 1:
            raise ValueError(
                "SHELF_CORS_ORIGINS: '*' already allows every origin; use it alone, or list origins"
            )
        for origin in origins:
            if origin != "*" and not _is_origin(origin):
                raise ValueError(
                    f"SHELF_CORS_ORIGINS: {origin!r} is not an origin; write scheme://host[:port] "
                    "(http or https, no path, no trailing slash, no default port), "
                    "for example https://shop.example.com"
                )
        return origins

    @model_validator(mode="after")
    def _refuse_any_origin_with_credentials(self) -> Settings:
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError(
                "SHELF_CORS_ORIGINS='*' cannot be combined with SHELF_CORS_ALLOW_CREDENTIALS=true: "
                "any website could then make requests with your users' credentials; "
                "list the trusted origins instead"
            )
        return self

    @model_validator(mode="after")
    def _refuse_weak_secret_in_production(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.env == "production" and (secret == DEVELOPMENT_SECRET_KEY or len(secret) < 32):
            raise ValueError(
                "SHELF_SECRET_KEY must be set to a random value of at least 32 characters "
                "when SHELF_ENV=production "
                "(try: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    @model_validator(mode="after")
    def _known_database(self) -> Settings:
        backend = self.database_backend
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"SHELF_DATABASE_URL must be a sqlite:// or postgresql:// URL, not {backend}://")
        return self

    @property
    def database_backend(self) -> str:
        return make_url(self.database_url).get_backend_name()

    @cached_property
    def async_database_url(self) -> URL:
        """The URL with the async driver SQLAlchemy needs (aiosqlite or asyncpg)."""
        url = make_url(self.database_url)
        driver = "aiosqlite" if url.get_backend_name() == "sqlite" else "asyncpg"
        return url.set(drivername=f"{url.get_backend_name()}+{driver}")


def load_settings() -> Settings:
    """Read the settings from the environment (the CLI and the server factory call this)."""
    return Settings()
