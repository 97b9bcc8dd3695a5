"""Fixtures of the experiments tests: the demo flag their definitions run on, made by the flags service."""

from __future__ import annotations

import pytest

from shelf.app import Container
from tests.integration.experiments.helpers import ensure_dogfood_flag


@pytest.fixture
async def dogfood_flag(container: Container) -> None:
    """The storefront's layout flag (``control``/``gallery``), as ``shelf seed`` creates it."""
    await ensure_dogfood_flag(container)
