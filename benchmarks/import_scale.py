"""Bulk import at scale (issue 5): ``shelf import`` of N rows of Shelf CSV into a fresh database.

1. writes N rows of Shelf CSV to a file (streamed, never held in memory),
2. creates a fresh SQLite file or PostgreSQL database ``shelf_bench_import_<random>`` and runs
   ``shelf db upgrade``,
3. times ``shelf import FILE`` in a child process, and its peak RSS (``getrusage(RUSAGE_CHILDREN)``),
4. times the same import again (every row unchanged: nothing is written),
5. as a baseline, times the raw insert of the same rows into the same table in a second fresh
   database, with no validation and no upsert: ``executemany`` of plain INSERTs through the
   driver (sqlite3; psycopg-less: asyncpg ``copy_records_to_table`` on PostgreSQL),
6. prints a JSON summary with the load average (the machine is shared).

Example::

    .venv/bin/python benchmarks/import_scale.py --rows 1000000 --backend sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from shelf.catalog.bulk import PRODUCT_COLUMNS

CATEGORIES = ("apparel", "kitchen", "books", "lighting", "garden", "toys")


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as target:
        writer = csv.writer(target, lineterminator="\n")
        writer.writerow(
            (
                *("sku", "name", "description", "price", "currency"),
                *("status", "category", "stock", "tags", "attributes"),
            )
        )
        for n in range(rows):
            writer.writerow(
                (
                    f"BENCH-{n:07d}",
                    f"Product number {n}",
                    "A product made for the import benchmark.",
                    f"{(n % 9000) + 1}.{n % 100:02d}",
                    "EUR",
                    "active" if n % 5 else "draft",
                    CATEGORIES[n % len(CATEGORIES)],
                    str(n % 500),
                    f"tag{n % 7}|tag{n % 11}",
                    f'{{"weight_g": {n % 1000}}}',
                )
            )


def run_shelf(args: list[str], url: str) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Seconds, peak RSS in MB of the child (ru_maxrss is the largest child so far), and the result."""
    env = os.environ | {"SHELF_DATABASE_URL": url, "SHELF_LOG_LEVEL": "warning"}
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "shelf", *args], capture_output=True, text=True, env=env, check=False
    )
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return elapsed, peak, result


def baseline_sqlite(path: Path, csv_path: Path) -> float:
    """Raw executemany of the same rows into the migrated table: parse, convert, insert, no checks."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    started = time.perf_counter()
    with csv_path.open(encoding="utf-8", newline="") as text:
        reader = csv.reader(text)
        next(reader)
        batch: list[tuple[Any, ...]] = []
        now = "2026-12-02 00:00:00.000000"
        for cells in reader:
            tags = json.dumps(cells[8].split("|"))
            batch.append(
                (
                    uuid.uuid4().hex,
                    cells[0],
                    cells[1],
                    cells[2],
                    int(float(cells[3]) * 10_000),
                    cells[4],
                    cells[5],
                    cells[6],
                    tags,
                    cells[9],
                    int(cells[7]),
                    now,
                    now,
                    1,
                )
            )
            if len(batch) == 2_000:
                _flush(connection, batch)
        _flush(connection, batch)
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def _flush(connection: sqlite3.Connection, batch: list[tuple[Any, ...]]) -> None:
    connection.executemany(
        "INSERT INTO products (id, sku, name, description, price_amount, price_currency, status, category,"
        " tags, attributes, stock, created_at, updated_at, version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        batch,
    )
    connection.commit()
    batch.clear()


async def _create_pg(name: str) -> None:
    import asyncpg  # noqa: PLC0415 - only for PostgreSQL runs

    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()


async def _drop_pg(name: str) -> None:
    import asyncpg  # noqa: PLC0415

    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def baseline_pg(name: str, csv_path: Path) -> float:
    import asyncpg  # noqa: PLC0415

    connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
    started = time.perf_counter()
    columns = PRODUCT_COLUMNS  # what the seeder COPYs (catalog/bulk.py)
    from datetime import UTC, datetime  # noqa: PLC0415

    now = datetime.now(UTC)
    with csv_path.open(encoding="utf-8", newline="") as text:
        reader = csv.reader(text)
        next(reader)
        batch: list[tuple[Any, ...]] = []
        for cells in reader:
            batch.append(
                (
                    uuid.uuid4(),
                    *cells[0:3],
                    int(float(cells[3]) * 10_000),
                    *cells[4:7],
                    json.dumps(cells[8].split("|")),
                    cells[9],
                    int(cells[7]),
                    now,
                    now,
                    1,
                )
            )
            if len(batch) == 5_000:
                await connection.copy_records_to_table("products", records=batch, columns=columns)
                batch.clear()
        if batch:
            await connection.copy_records_to_table("products", records=batch, columns=columns)
    elapsed = time.perf_counter() - started
    await connection.close()
    return elapsed


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit {result.returncode}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shelf-bench-import-"))
    csv_path = work / "products.csv"
    load_before = os.getloadavg()
    started = time.perf_counter()
    write_csv(csv_path, options.rows)
    generated = time.perf_counter() - started
    names: list[str] = []

    def fresh(label: str) -> tuple[str, Path | str]:
        if options.backend == "sqlite":
            path = work / f"{label}.db"
            return f"sqlite+aiosqlite:///{path}", path
        name = f"shelf_bench_import_{secrets.token_hex(4)}"
        asyncio.run(_create_pg(name))
        names.append(name)
        return f"postgresql://postgres@127.0.0.1:5432/{name}", name

    try:
        url, _target = fresh("import")
        assert run_shelf(["db", "upgrade"], url)[2].returncode == 0
        first_s, first_rss, first = run_shelf(["import", str(csv_path)], url)
        second_s, second_rss, second = run_shelf(["import", str(csv_path)], url)
        base_url, base_target = fresh("baseline")
        assert run_shelf(["db", "upgrade"], base_url)[2].returncode == 0
        if options.backend == "sqlite":
            assert isinstance(base_target, Path)
            baseline = baseline_sqlite(base_target, csv_path)
        else:
            baseline = asyncio.run(baseline_pg(str(base_target), csv_path))
    finally:
        for name in names:
            asyncio.run(_drop_pg(name))
    summary = {
        "backend": options.backend,
        "rows": options.rows,
        "file_mb": round(csv_path.stat().st_size / 1e6, 1),
        "generate_seconds": round(generated, 1),
        "import_seconds": round(first_s, 1),
        "import_rows_per_second": round(options.rows / first_s),
        "import_peak_rss_mb": round(first_rss, 1),
        "import_summary": last_line(first),
        "second_run_seconds": round(second_s, 1),
        "second_run_peak_rss_mb": round(second_rss, 1),
        "second_run_summary": last_line(second),
        "baseline_raw_insert_seconds": round(baseline, 1),
        "ratio_import_to_baseline": round(first_s / baseline, 2),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    csv_path.unlink()
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
