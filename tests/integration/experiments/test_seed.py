"""``shelf seed`` creates and starts the demo experiment once, and its demo events give it numbers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shelf.app import build_container
from shelf.cli.seed import SEEDER
from shelf.settings import Settings
from tests.databases import database
from tests.process import shelf

pytestmark = pytest.mark.xdist_group("cli")


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database(str(request.param), tmp_path) as database_url:
        yield database_url


async def test_seed_starts_the_dogfood_experiment_once(url: str) -> None:
    assert shelf("db", "upgrade", database_url=url).returncode == 0
    seeded = shelf("seed", "--products", "10", "--demo-events", "300", database_url=url)
    assert seeded.returncode == 0, seeded.stderr
    assert "experiment product-page-layout: created and started" in seeded.stderr
    again = shelf("seed", "--products", "10", "--if-empty", database_url=url)
    assert "already there" in again.stderr

    container = build_container(Settings(database_url=url, env="test"))
    try:
        (experiment,) = (await container.experiments.all(SEEDER)).items
        assert experiment.status == "running"
        assert experiment.control_variant == "control"
        assert experiment.primary_metric.event == "add_to_cart"
        assert experiment.primary_metric.window_seconds == 86_400
        results = await container.experiments.results(SEEDER, experiment.id)
    finally:
        await container.aclose()
    assert [row.variant for row in results.primary.variants] == ["control", "gallery"]
    assert sum(row.exposures for row in results.primary.variants) == 300
    assert all(row.conversions > 0 for row in results.primary.variants)
    assert results.sample_ratio is not None
