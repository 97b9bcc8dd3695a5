"""An experiment's results query at scale (issue 7), with the analytics funnel as the baseline.

Generates ``--events`` storefront events with ``benchmarks/analytics_queries.py``'s generator,
adding a ``$feature_flag_called`` exposure (flag ``storefront.product-page-layout``, variant by
person, 1% of people exposed to both variants) before each person's first page view, writes
them through the ingestion's writer, then times over the last 30 days, ``--repeat`` times:

- ``experiment_results``: ``SqlExperimentReader.outcome`` for the conversion metric
  ``add_to_cart`` within a day (what ``GET /api/v1/experiments/{id}/results`` runs per metric),
- ``baseline_funnel``: ``AnalyticsReader.funnel(["product_viewed", "add_to_cart"], 1 day)``
  on the same data and range.

Examples::

    .venv/bin/python benchmarks/experiment_results.py --backend sqlite --events 1000000
    .venv/bin/python benchmarks/experiment_results.py --backend postgresql --events 10000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import analytics_queries
import asyncpg
from analytics_queries import DAY_MS, PG_ADMIN, timed

from shelf.analytics.capture import Row
from shelf.analytics.queries import AnalyticsReader
from shelf.experiments.queries import SqlExperimentReader
from shelf.experiments.schemas import Metric
from shelf.platform import migrations
from shelf.platform.db import create_engine
from shelf.settings import Settings

FLAG = "storefront.product-page-layout"


def with_exposures(rows: Iterator[Row]) -> Iterator[Row]:
    exposed: set[str] = set()
    serial = 0
    prefix = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-7{secrets.token_hex(2)[1:]}-9"
    for row in rows:
        _uuid, event, who, at, _properties, _product = row
        if event == "$pageview" and who not in exposed:
            exposed.add(who)
            number = int(who[1:])
            both = number % 100 == 0  # 1% see both variants: the query must exclude them
            for variant in ("control", "gallery") if both else (("control", "gallery")[number % 2],):
                serial += 1
                props = f'{{"$feature_flag":"{FLAG}","$feature_flag_response":"{variant}"}}'
                yield (
                    f"{prefix}{serial >> 48:03x}-{serial & 0xFFFFFFFFFFFF:012x}",
                    "$feature_flag_called",
                    who,
                    at - 1,
                    props,
                    None,
                )
        yield row


async def run(args: argparse.Namespace) -> dict[str, Any]:
    end_ms = int(time.time() // 86400 * 86400 * 1000)
    admin = None
    name = f"shelf_bench_experiments_{secrets.token_hex(4)}"
    if args.backend == "postgresql":
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='shelf-experiments-')) / 'bench.db'}"
    settings = Settings(database_url=url)
    result: dict[str, Any] = {"backend": args.backend, "load_average_at_start": os.getloadavg()}
    original = analytics_queries.sessions
    try:
        await asyncio.to_thread(migrations.upgrade, settings)
        analytics_queries.sessions = lambda *a, **k: with_exposures(original(*a, **k))  # type: ignore[assignment]
        result["load"] = await analytics_queries.load(settings, args.events, args.events_per_person, end_ms)
        engine = create_engine(settings.async_database_url, pool_size=2)
        reader, analytics = SqlExperimentReader(engine), AnalyticsReader(engine)
        start_ms = end_ms - 30 * DAY_MS
        metric = Metric(kind="conversion", event="add_to_cart", window_seconds=86_400)

        async def results() -> Any:
            return await reader.outcome(FLAG, metric, start_ms=start_ms, end_ms=end_ms)

        async def funnel() -> Any:
            return await analytics.funnel(["product_viewed", "add_to_cart"], 86_400, start_ms, end_ms)

        result["experiment_results"] = await timed(results, args.repeat)
        result["baseline_funnel"] = await timed(funnel, args.repeat)
        outcome = await results()
        result["counts"] = {
            "variants": {k: (v.exposures, v.converted) for k, v in outcome.variants.items()},
            "excluded": outcome.excluded,
        }
        print(result, file=sys.stderr)
        await engine.dispose()
        return result
    finally:
        analytics_queries.sessions = original
        if admin is not None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        else:
            await asyncio.to_thread(Path(url.removeprefix("sqlite:///")).unlink, missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="sqlite")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--events-per-person", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
