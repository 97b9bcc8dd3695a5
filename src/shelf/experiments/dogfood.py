"""The demo's experiment: the storefront's product page layout (issue 7's dogfood).

``DOGFOOD_FLAG`` is the multivariate flag the flags feature seeds (``control`` and ``gallery``,
half each; ``flags/demo.py``): ``shelf seed`` creates it before the experiment, which the flags
service's lookup (``FlagServiceLookup``) then finds.
"""

from __future__ import annotations

import random
from typing import Any

from shelf.analytics.emitter import EventEmitter
from shelf.experiments.schemas import ExperimentRead
from shelf.experiments.service import ExperimentService
from shelf.identity.permissions import Principal

DOGFOOD_FLAG = "storefront.product-page-layout"
DOGFOOD_EXPERIMENT: dict[str, Any] = {
    "key": "product-page-layout",
    "name": "Product page layout: gallery vs. control",
    "description": "Does the gallery layout of the product page raise the add-to-cart rate?",
    "flag_key": DOGFOOD_FLAG,
    "control_variant": "control",
    "primary_metric": {"kind": "conversion", "event": "add_to_cart", "window_seconds": 86_400},
    "secondary_metrics": [],
    "minimum_sample": 100,
}


async def seed_dogfood(service: ExperimentService, principal: Principal) -> tuple[ExperimentRead, bool]:
    """The demo experiment, created and started when no experiment has its key; (it, created)."""
    for existing in (await service.all(principal)).items:
        if existing.key == DOGFOOD_EXPERIMENT["key"]:
            return existing, False
    created = await service.create(principal, dict(DOGFOOD_EXPERIMENT))
    return await service.start(principal, created.id), True


async def emit_demo_events(events: EventEmitter, people: int, *, seed: int = 42) -> tuple[int, int]:
    """Synthetic exposures and add-to-carts, now, so the demo's results page has numbers: half
    the people see each variant; about 10% of control and 14% of gallery add to the cart.
    Returns (exposures, conversions)."""
    chooser = random.Random(seed)  # noqa: S311 - demo data, reproducible on purpose
    rates = {"control": 0.10, "gallery": 0.14}
    conversions = 0
    for index in range(people):
        who = f"demo-visitor-{seed}-{index}"
        variant = "control" if chooser.random() < 0.5 else "gallery"
        await events.emit(
            "$feature_flag_called", who, {"$feature_flag": DOGFOOD_FLAG, "$feature_flag_response": variant}
        )
        if chooser.random() < rates[variant]:
            await events.emit("add_to_cart", who, {"quantity": 1, "demo": True})
            conversions += 1
    return people, conversions
