"""Shared steps of the experiments tests: define, start and back-date an experiment; send events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import update

from shelf.app import Container
from shelf.experiments.dogfood import DOGFOOD_FLAG
from shelf.experiments.models import Experiment
from shelf.flags.demo import ensure_demo_flags
from shelf.identity.permissions import Principal, Role
from tests.conftest import Keys
from tests.integration.analytics.helpers import stored

API = "/api/v1/experiments"
SETUP = Principal(kind="cli", name="experiments test setup", role=Role.ADMIN)


async def ensure_dogfood_flag(container: Container) -> None:
    """The demo flag experiments run on, created through the flags service when missing."""
    await ensure_demo_flags(container.flags, SETUP)


def definition(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": "layout-test",
        "name": "Layout test",
        "flag_key": DOGFOOD_FLAG,
        "control_variant": "control",
        "primary_metric": {"kind": "conversion", "event": "add_to_cart", "window_seconds": 86_400},
        "minimum_sample": 100,
    }
    return body | changes


async def create(client: httpx.AsyncClient, keys: Keys, **changes: Any) -> dict[str, Any]:
    response = await client.post(API, json=definition(**changes), headers=keys.auth("editor"))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def run_between(
    container: Container, experiment_id: str, start: datetime, stop: datetime | None
) -> None:
    """Put the experiment in the past: running since ``start``, stopped at ``stop`` (if any)."""
    async with container.database.sessions() as session:
        await session.execute(
            update(Experiment)
            .where(Experiment.id == uuid.UUID(experiment_id))
            .values(status="stopped" if stop else "running", started_at=start, stopped_at=stop)
        )
        await session.commit()


def exposure(
    who: str, at: str, variant: str, flag: str = DOGFOOD_FLAG
) -> tuple[str, str, str, dict[str, Any]]:
    return ("$feature_flag_called", who, at, {"$feature_flag": flag, "$feature_flag_response": variant})


async def send(
    client: httpx.AsyncClient,
    container: Container,
    keys: Keys,
    rows: list[tuple[str, str, str, dict[str, Any]]],
) -> None:
    """``rows``: (event, person, ISO time, properties), through the capture API; stored on return."""
    batch = [
        {"event": e, "distinct_id": who, "timestamp": at, "properties": props, "uuid": str(uuid.uuid4())}
        for e, who, at, props in rows
    ]
    response = await client.post("/batch/", json={"api_key": keys.client, "batch": batch})
    assert response.status_code == 200, response.text
    await stored(container)
