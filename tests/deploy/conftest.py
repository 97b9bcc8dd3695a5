"""Fixtures of the deploy tests: the files under deploy/, and facts about the real app they must match."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shelf.app import create_app
from shelf.settings import Settings
from tests.security.conftest import routed_pairs

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
TOKEN = "deploy-test-metrics-token-0123456789abcdef"
SERVE_PORT = 8000  # what every deploy file runs `shelf serve --port` with


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_all_yaml(path: Path) -> list[Any]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document is not None]


@pytest.fixture(scope="module")
async def exposition(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A real /metrics answer, from an app built the way `shelf serve` builds it."""
    directory = tmp_path_factory.mktemp("metrics")
    app = create_app(
        Settings(
            database_url=f"sqlite:///{directory / 'm.db'}",
            env="test",
            log_level="warning",
            metrics_token=TOKEN,
        )
    )
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shelf.test") as http:
            await http.get("/healthz")
            response = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        yield response.text
    finally:
        await app.state.container.aclose()


def metric_names(exposition: str) -> set[str]:
    """Every series name a query may use: samples, and each family's names by its type."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if match := re.match(r"# TYPE (\S+) (\S+)", line):
            name, kind = match.groups()
            names.add(name)
            if kind == "histogram":
                names.update({f"{name}_bucket", f"{name}_count", f"{name}_sum"})
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


@pytest.fixture(scope="module")
async def routes(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The paths the app answers GET on (what a probe or a health check may call)."""
    directory = tmp_path_factory.mktemp("routes")
    app = create_app(
        Settings(database_url=f"sqlite:///{directory / 'r.db'}", env="test", log_level="warning")
    )
    try:
        return {path for method, path in routed_pairs(app) if method == "GET"}
    finally:
        await app.state.container.aclose()


SHELF_SETTINGS = {f"SHELF_{name.upper()}" for name in Settings.model_fields}
# Variables other programs read: uvicorn's proxy trust, OpenTelemetry's standard ones,
# prometheus-client's multiprocess directory.
FOREIGN = re.compile(r"^(FORWARDED_ALLOW_IPS|OTEL_[A-Z_]+|PROMETHEUS_MULTIPROC_DIR)$")


def check_environment(variables: dict[str, Any], where: str) -> None:
    for name in variables:
        if name.startswith("SHELF_"):
            assert name in SHELF_SETTINGS, f"{where}: {name} is not a setting (see shelf.settings.Settings)"
        else:
            assert FOREIGN.match(name), f"{where}: {name} is neither a setting nor a known foreign variable"


def settings_from(variables: dict[str, Any]) -> Settings:
    """The Settings these variables make (validation included, as Shelf would at startup)."""
    values = {
        name.removeprefix("SHELF_").lower(): str(value)
        for name, value in variables.items()
        if name.startswith("SHELF_")
    }
    return Settings(**values)
