"""``shelf seed``: fill the catalog with a realistic demo catalog."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from shelf.app import Container
from shelf.catalog.bulk import batched, count_products, insert_products
from shelf.catalog.demo import demo_products
from shelf.cli.common import console, run_with_container
from shelf.experiments.dogfood import emit_demo_events, seed_dogfood
from shelf.flags.demo import ensure_demo_flags
from shelf.identity.permissions import Principal, Role
from shelf.platform.clock import SystemClock

BATCH = 5_000
SEEDER = Principal(kind="cli", role=Role.ADMIN, name="shelf seed")


def seed(
    products: Annotated[int, typer.Option(min=1, max=10_000_000, help="How many products.")] = 500,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the catalog already has products.")
    ] = False,
    random_seed: Annotated[int, typer.Option("--random-seed", help="Seed for reproducible data.")] = 42,
    demo_events: Annotated[
        int,
        typer.Option(
            "--demo-events",
            min=0,
            max=1_000_000,
            help="Send synthetic exposures and add-to-carts for this many people (demo experiment).",
        ),
    ] = 0,
) -> None:
    """Seed a realistic demo catalog (names, categories, prices, stock, tags), the demo flags and
    the demo experiment on one of them."""

    async def work(container: Container) -> None:
        for key in await ensure_demo_flags(container.flags, SEEDER):  # the storefront's A/B test
            console.print(f"created flag {key}")
        await _seed_experiment(container, demo_events, random_seed)
        async with container.database.sessions() as session:
            existing = await count_products(session)
        if if_empty and existing:
            console.print(f"catalog already has {existing} products; not seeding")
            return
        started = time.perf_counter()
        rows = demo_products(products, seed=random_seed + existing, now=SystemClock().now())
        columns = (TextColumn("seeding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("seed", total=products)
            for batch in batched(rows, BATCH):
                async with container.database.sessions() as session, session.begin():
                    if existing:  # seeding on top: keep SKUs unique
                        for row in batch:
                            row["sku"] = f"{row['sku']}-{random_seed + existing}"
                    await insert_products(session, batch)
                progress.advance(task, len(batch))
        elapsed = time.perf_counter() - started
        console.print(f"seeded {products} products in {elapsed:.1f} s ({products / elapsed:,.0f}/s)")

    run_with_container(work)


SEEDER = Principal(kind="cli", role=Role.ADMIN, name="shelf seed")


async def _seed_experiment(container: Container, demo_events: int, random_seed: int) -> None:
    """The dogfood experiment (product page layout on add-to-cart), when missing (ADR 0015)."""
    experiment, created = await seed_dogfood(container.experiments, SEEDER)
    state = "created and started" if created else "already there"
    console.print(f"experiment {experiment.key}: {state}")
    if demo_events:
        await container.analytics.start()  # its buffer's writer; closing the container writes the rest
        exposed, converted = await emit_demo_events(container.analytics, demo_events, seed=random_seed)
        await container.analytics.buffer.flush()
        console.print(f"sent {exposed} demo exposures and {converted} add-to-carts")
