"""One validated settings object, read from ``SHELF_*`` environment variables."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me-in-production"  # noqa: S105 - refused in production below

Environment = Literal["development", "test", "production"]


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

    # Identity: tokens and console sessions.
    jwt_issuer: str = "shelf"
    jwt_audience: str = "shelf-api"
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=60, le=3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    session_ttl_seconds: int = Field(default=8 * 3600, ge=300)

    # Gateway: rate limits (see gateway/ratelimit.py).

    # Gateway: security headers and CORS (see gateway/security.py).

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
