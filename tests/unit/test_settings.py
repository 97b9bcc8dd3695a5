"""Settings: URL mapping and the production guard on secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shelf.settings import DEVELOPMENT_SECRET_KEY, Settings


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///./shelf.db", "sqlite+aiosqlite"),
        ("sqlite:////var/lib/shelf/shelf.db", "sqlite+aiosqlite"),
        ("postgresql://shelf@db:5432/shelf", "postgresql+asyncpg"),
        ("postgresql+asyncpg://shelf@db/shelf", "postgresql+asyncpg"),
    ],
)
def test_plain_urls_map_to_async_drivers(url: str, driver: str) -> None:
    assert Settings(database_url=url).async_database_url.drivername == driver


def test_unknown_databases_are_refused() -> None:
    with pytest.raises(ValidationError, match="sqlite:// or postgresql://"):
        Settings(database_url="mysql://root@localhost/shelf")


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELF_ENV", "production")
    with pytest.raises(ValidationError, match="SHELF_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("SHELF_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="SHELF_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("SHELF_SECRET_KEY", "x" * 40)
    assert Settings().env == "production"


def test_development_allows_the_default_secret() -> None:
    assert Settings(env="development").secret_key.get_secret_value() == DEVELOPMENT_SECRET_KEY


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELF_DATABASE_URL", "postgresql://a@b/c")
    monkeypatch.setenv("SHELF_LOG_FORMAT", "json")
    settings = Settings()
    assert settings.database_backend == "postgresql"
    assert settings.log_format == "json"
