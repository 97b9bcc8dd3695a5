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
) -> None:
    """Seed a realistic demo catalog (names, categories, prices, stock, tags) and the demo flags."""

    async def work(container: Container) -> None:
        for key in await ensure_demo_flags(container.flags, SEEDER):  # the storefront's A/B test
            console.print(f"created flag {key}")
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
