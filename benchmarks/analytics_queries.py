"""Analytics queries at scale (issue 6): trends, funnels, retention and more over N events.

1. creates a throwaway database (PostgreSQL ``shelf_bench_queries_<random>``, or a SQLite file
   under /tmp) and runs the migrations,
2. generates ``--events`` events of a storefront over the last 90 days (sessions of page views,
   product views, searches, add-to-cart and purchases; one person per ``--events-per-person``
   events; a ``signed_up`` on each person's first session) and writes them through the same
   writer the ingestion uses (uuid register, events, rollups), timing the load,
3. runs VACUUM ANALYZE (PostgreSQL; ANALYZE on SQLite; what autovacuum soon does to an
   insert-only table), then times each query through ``AnalyticsReader`` (what the REST routes
   call) ``--repeat`` times: the first run is reported apart (cold-ish caches), then the median and the
   worst of the others, with the load average at the start of each query (the machine is shared),
4. drops the database unless ``--keep`` and prints a JSON summary.

Examples::

    .venv/bin/python benchmarks/analytics_queries.py --backend postgresql --events 10000000
    .venv/bin/python benchmarks/analytics_queries.py --backend sqlite --events 1000000
    .venv/bin/python benchmarks/analytics_queries.py --backend postgresql --database-url URL  # again
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from shelf.analytics.capture import Row
from shelf.analytics.queries import AnalyticsReader
from shelf.analytics.repository import event_writer
from shelf.platform import migrations
from shelf.platform.db import create_engine
from shelf.settings import Settings

PG_ADMIN = os.environ.get("SHELF_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DAY_MS = 86_400_000
DAYS = 90
BROWSERS = ("Chrome", "Safari", "Firefox", "Edge", "Samsung Internet")
PRODUCTS = 10_000


def sessions(count: int, people: int, end_ms: int, seed: int) -> Iterator[Row]:
    """``count`` events, session by session, in no particular order of time."""
    rng = random.Random(seed)
    start_ms = end_ms - DAYS * DAY_MS
    prefix = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-7{secrets.token_hex(2)[1:]}-8"
    first_day: dict[int, int] = {}
    made = 0
    serial = 0

    def row(event: str, person: int, at: int, properties: str, product: str | None) -> Row:
        nonlocal serial
        serial += 1
        return (
            f"{prefix}{serial >> 48:03x}-{serial & 0xFFFFFFFFFFFF:012x}",
            event,
            f"u{person}",
            at,
            properties,
            product,
        )

    while made < count:
        person = int(people * rng.random() ** 2)  # low ids come back far more often than high ones
        day = rng.randrange(DAYS)
        if person not in first_day or day < first_day[person]:
            first_day[person] = day
        at = start_ms + day * DAY_MS + rng.randrange(DAY_MS - 3_600_000)
        browser = BROWSERS[person % len(BROWSERS)]
        events: list[Row] = []
        if day == first_day[person] and rng.random() < 0.5:
            events.append(row("signed_up", person, at, f'{{"$browser":"{browser}"}}', None))
        for _ in range(rng.randint(1, 4)):
            at += rng.randint(5_000, 120_000)
            events.append(row("$pageview", person, at, f'{{"$browser":"{browser}","$pathname":"/"}}', None))
        if rng.random() < 0.3:
            at += rng.randint(5_000, 60_000)
            events.append(row("search", person, at, f'{{"q":"merino","results":{rng.randint(0, 40)}}}', None))
        viewed = [f"p{int(rng.paretovariate(1.1)) % PRODUCTS}" for _ in range(rng.randint(0, 3))]
        for product in viewed:
            at += rng.randint(5_000, 180_000)
            events.append(row("product_viewed", person, at, f'{{"product_id":"{product}"}}', product))
        if viewed and rng.random() < 0.25:
            at += rng.randint(5_000, 600_000)
            events.append(row("add_to_cart", person, at, f'{{"product_id":"{viewed[-1]}"}}', viewed[-1]))
            if rng.random() < 0.3:
                at += rng.randint(30_000, 3_600_000)
                events.append(row("purchase", person, at, '{"total":"49.90"}', None))
        yield from events[: count - made]
        made += min(len(events), count - made)


async def load(settings: Settings, events: int, per_person: int, end_ms: int) -> dict[str, Any]:
    engine = create_engine(settings.async_database_url, pool_size=2)
    writer = event_writer(engine)
    await writer.prepare(datetime.fromtimestamp(end_ms / 1000 - DAYS * 86400, UTC))
    await writer.prepare(datetime.fromtimestamp(end_ms / 1000, UTC))
    started = time.monotonic()
    stored = 0
    batch: list[Row] = []
    for event in sessions(events, max(1, events // per_person), end_ms, seed=6):
        batch.append(event)
        if len(batch) == 50_000:
            stored += await writer.write(batch)
            batch = []
    stored += await writer.write(batch)
    loaded = time.monotonic() - started
    await engine.dispose()
    # What autovacuum does to an insert-only table soon after: statistics, and the visibility map
    # that lets the (event, time, person) index answer without reading the table.
    if settings.database_backend == "postgresql":
        connection = await asyncpg.connect(settings.database_url)
        await connection.execute("VACUUM ANALYZE")
        await connection.close()
    else:
        sync = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
        sync.execute("ANALYZE")
        sync.close()
    return {
        "events": stored,
        "load_seconds": round(loaded, 1),
        "load_events_per_second": round(stored / loaded),
    }


async def timed(function: Callable[[], Awaitable[Any]], repeat: int) -> dict[str, Any]:
    load_average = os.getloadavg()[0]
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        await function()
        runs.append(time.perf_counter() - started)
    rest = runs[1:] or runs
    return {
        "first_ms": round(runs[0] * 1000, 1),
        "median_ms": round(statistics.median(rest) * 1000, 1),
        "max_ms": round(max(rest) * 1000, 1),
        "load_average": round(load_average, 2),
    }


def scenarios(reader: AnalyticsReader, end_ms: int) -> dict[str, Callable[[], Awaitable[Any]]]:
    def ago(days: int) -> int:
        return end_ms - days * DAY_MS

    return {
        "trends $pageview by day, 90 days": lambda: reader.trends(
            "$pageview", "day", start_ms=ago(90), end_ms=end_ms
        ),
        "trends product_viewed by week, 90 days": lambda: reader.trends(
            "product_viewed", "week", start_ms=ago(90), end_ms=end_ms
        ),
        "trends $pageview by month, 90 days": lambda: reader.trends(
            "$pageview", "month", start_ms=ago(90), end_ms=end_ms
        ),
        "trends $pageview by hour, 7 days": lambda: reader.trends(
            "$pageview", "hour", start_ms=ago(7), end_ms=end_ms
        ),
        "trends $pageview by day, breakdown $browser, 30 days": lambda: reader.trends(
            "$pageview", "day", start_ms=ago(30), end_ms=end_ms, breakdown="$browser"
        ),
        "active users (DAU, WAU, MAU), 30 days": lambda: reader.active_users("$pageview", ago(30), end_ms),
        "funnel product_viewed > add_to_cart > purchase, 1 day window, 30 days": lambda: reader.funnel(
            ["product_viewed", "add_to_cart", "purchase"], 86400, ago(30), end_ms
        ),
        "funnel $pageview > product_viewed > add_to_cart, 1 hour window, 90 days": lambda: reader.funnel(
            ["$pageview", "product_viewed", "add_to_cart"], 3600, ago(90), end_ms
        ),
        "retention signed_up > $pageview, weekly, 8 periods": lambda: reader.retention(
            "signed_up", "$pageview", period="week", periods=8, start_ms=ago(56), end_ms=end_ms
        ),
        "retention signed_up > purchase, daily, 14 periods": lambda: reader.retention(
            "signed_up", "purchase", period="day", periods=14, start_ms=ago(30), end_ms=end_ms
        ),
        "top products, 30 days": lambda: reader.top_products(ago(30), end_ms, 10),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    end_ms = int(time.time() // 86400 * 86400 * 1000)  # today, 00:00 UTC
    admin = None
    name = f"shelf_bench_queries_{secrets.token_hex(4)}"
    if args.database_url:
        url = args.database_url
    elif args.backend == "postgresql":
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='shelf-queries-')) / 'queries.db'}"
    settings = Settings(database_url=url)
    result: dict[str, Any] = {"backend": args.backend, "load_average_at_start": os.getloadavg()}
    try:
        if not args.database_url:
            await asyncio.to_thread(migrations.upgrade, settings)
            result["load"] = await load(settings, args.events, args.events_per_person, end_ms)
        engine = create_engine(settings.async_database_url, pool_size=2)
        reader = AnalyticsReader(engine)
        result["queries"] = {}
        for label, function in scenarios(reader, end_ms).items():
            result["queries"][label] = await timed(function, args.repeat)
            print(label, result["queries"][label], file=sys.stderr)
        funnel = await reader.funnel(
            ["product_viewed", "add_to_cart", "purchase"], 86400, end_ms - 30 * DAY_MS, end_ms
        )
        result["funnel_counts"] = [step.count for step in funnel.steps]
        await engine.dispose()
        return result
    finally:
        if admin is not None:
            if not args.keep:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                result["database_url"] = url
            await admin.close()
        elif not args.keep and not args.database_url:
            await asyncio.to_thread(Path(url.removeprefix("sqlite:///")).unlink, missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--events-per-person", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", help="an already loaded database: only time the queries")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
