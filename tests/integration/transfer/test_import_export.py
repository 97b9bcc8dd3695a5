"""Bulk import and export against the real databases: upserts by SKU, whole batches, round trips."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from shelf.app import Container
from shelf.audit.models import AuditEntry
from shelf.catalog.models import Product, ProductTag
from shelf.catalog.queries import ProductQuery
from shelf.transfer.formats import SourceRow, read_shelf_csv
from shelf.transfer.importer import Importer
from shelf.transfer.models import JobStatus
from shelf.transfer.service import CLI_OPERATOR
from shelf.uow import SqlUnitOfWork
from tests.conftest import Keys

HEADER = "sku,name,description,price,currency,status,category,stock,tags,attributes\n"


def shelf_csv(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


async def products(container: Container) -> dict[str, Product]:
    async with container.database.sessions() as session:
        return {p.sku: p for p in await session.scalars(select(Product))}


async def count(container: Container, model: type[object]) -> int:
    async with container.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_second_run_changes_nothing_and_a_changed_row_is_one_new_version(
    container: Container, tmp_path: Path
) -> None:
    first = shelf_csv(
        tmp_path / "a.csv",
        'LAMP-1,Brass Lamp,"Warm light.\nTwo lines.",49.90,EUR,active,lighting,3,brass|desk,'
        '"{""watts"": 40}"',
        "MUG-1,Mug,,8,EUR,draft,,0,,",
        "BAD-1,Broken,,-1,EUR,active,,,,",
    )
    summary = await container.transfer.import_file(CLI_OPERATOR, first)
    assert (summary.created, summary.updated, summary.unchanged, summary.rejected) == (2, 0, 0, 1)
    assert [(p.row, p.field) for p in summary.problems] == [(4, "price")]
    stored = await products(container)
    assert set(stored) == {"LAMP-1", "MUG-1"}
    lamp = stored["LAMP-1"]
    assert lamp.version == 1
    assert lamp.description == "Warm light.\nTwo lines."
    assert str(lamp.price_amount) == "49.9"
    assert lamp.tags == ["brass", "desk"]
    assert lamp.attributes == {"watts": 40}
    audit_entries = await count(container, AuditEntry)

    again = await container.transfer.import_file(CLI_OPERATOR, first)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 2, 1)
    assert (await products(container))["LAMP-1"].updated_at == lamp.updated_at
    assert await count(container, AuditEntry) == audit_entries  # nothing written, nothing audited

    changed = shelf_csv(
        tmp_path / "b.csv",
        'LAMP-1,Brass Lamp,"Warm light.\nTwo lines.",44.00,EUR,active,lighting,3,brass|sale,'
        '"{""watts"": 40}"',
        "MUG-1,Mug,,8,EUR,draft,,0,,",
    )
    third = await container.transfer.import_file(CLI_OPERATOR, changed)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 1)
    after = await products(container)
    assert after["LAMP-1"].version == 2
    assert str(after["LAMP-1"].price_amount) == "44"
    assert after["MUG-1"].version == 1
    async with container.database.sessions() as session:
        tags = set(await session.scalars(select(ProductTag.tag).where(ProductTag.product_id == lamp.id)))
        entry = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "product.import").order_by(AuditEntry.id.desc())
            )
        ).first()
    assert tags == {"brass", "sale"}  # the tag filter's index follows the change
    assert entry is not None
    assert entry.after is not None
    assert entry.after["updated"] == ["LAMP-1"]
    assert entry.after["created"] == []
    assert entry.actor_name == "shelf command line"


async def test_the_catalog_and_its_cache_see_an_import_at_once(container: Container, tmp_path: Path) -> None:
    shelf_csv(tmp_path / "a.csv", "CACHE-1,Old name,,1,EUR,active,,1,,")
    await container.transfer.import_file(CLI_OPERATOR, tmp_path / "a.csv")
    product_id = (await products(container))["CACHE-1"].id
    body, _etag = await container.catalog.get_product(CLI_OPERATOR, product_id)  # now cached
    page = await container.catalog.list_products(CLI_OPERATOR, ProductQuery(q="name"))
    assert body["name"] == "Old name"
    assert [item.name for item in page.items] == ["Old name"]
    shelf_csv(tmp_path / "b.csv", "CACHE-1,New name,,1,EUR,active,,1,,")
    await container.transfer.import_file(CLI_OPERATOR, tmp_path / "b.csv")
    body, etag = await container.catalog.get_product(CLI_OPERATOR, product_id)
    page = await container.catalog.list_products(CLI_OPERATOR, ProductQuery(q="name"))
    assert body["name"] == "New name"
    assert etag == '"2"'
    assert [item.name for item in page.items] == ["New name"]


class Crash(Exception):
    pass


def crashing(rows: Iterator[SourceRow], after: int) -> Iterator[SourceRow]:
    for number, row in enumerate(rows):
        if number == after:
            raise Crash
        yield row


async def test_a_crash_leaves_whole_batches_and_a_rerun_finishes_the_job(
    container: Container, tmp_path: Path
) -> None:
    path = shelf_csv(tmp_path / "five.csv", *(f"ROW-{n},Row {n},,{n},EUR,active,,1,," for n in range(1, 6)))
    importer = Importer(
        lambda: SqlUnitOfWork(container.database.sessions),
        container.clock,
        container.catalog.forget_products,
        batch_size=2,
    )
    with path.open(encoding="utf-8", newline="") as text, pytest.raises(Crash):
        await importer.run(CLI_OPERATOR, crashing(read_shelf_csv(text), after=3))
    assert set(await products(container)) == {"ROW-1", "ROW-2"}  # batch 1 landed; batch 2 not at all
    with path.open(encoding="utf-8", newline="") as text:
        summary = await importer.run(CLI_OPERATOR, read_shelf_csv(text))
    assert (summary.created, summary.unchanged) == (3, 2)
    assert len(await products(container)) == 5


async def test_a_sku_twice_in_a_file_is_refused_the_second_time(container: Container, tmp_path: Path) -> None:
    path = shelf_csv(
        tmp_path / "twice.csv", "TWICE,First,,1,EUR,active,,1,,", "TWICE,Second,,2,EUR,active,,1,,"
    )
    summary = await container.transfer.import_file(CLI_OPERATOR, path)
    assert (summary.created, summary.rejected) == (1, 1)
    assert [(p.row, p.field) for p in summary.problems] == [(3, "sku")]
    assert (await products(container))["TWICE"].name == "First"
    assert (await container.transfer.import_file(CLI_OPERATOR, path)).unchanged == 1


async def test_a_dry_run_counts_and_writes_nothing(container: Container, tmp_path: Path) -> None:
    path = shelf_csv(tmp_path / "dry.csv", "DRY-1,Dry,,1,EUR,active,,1,,", "DRY-2,Dry,,x,EUR,active,,1,,")
    summary = await container.transfer.import_file(CLI_OPERATOR, path, dry_run=True)
    assert (summary.created, summary.rejected) == (1, 1)
    assert await products(container) == {}


@pytest.mark.parametrize("export_format", ["shelf-csv", "jsonl"])
async def test_an_export_imports_back_to_nothing_changed(
    container: Container, tmp_path: Path, export_format: str
) -> None:
    path = shelf_csv(
        tmp_path / "a.csv",
        'RT-1,"Quote "" and, comma","Tab\tand\r\nCRLF",1234.5,EUR,active,home-office,7,"[""a|b"", ""c""]",'
        '"{""n"": 1.50, ""flag"": true, ""one"": 1, ""text"": ""é""}"',
        "RT-2,Yen,,1500,JPY,archived,,0,,",
        "RT-3,Dinar,,1.234,KWD,draft,,0,x,",
    )
    assert (await container.transfer.import_file(CLI_OPERATOR, path)).created == 3
    exported = tmp_path / f"export.{'csv' if export_format == 'shelf-csv' else 'jsonl'}"
    with exported.open("w", encoding="utf-8", newline="") as target:
        async for chunk in container.transfer.export(CLI_OPERATOR, export_format):
            target.write(chunk)
    summary = await container.transfer.import_file(CLI_OPERATOR, exported)
    counts = (summary.rows, summary.created, summary.updated, summary.unchanged, summary.rejected)
    assert counts == (3, 0, 0, 3, 0)
    if export_format == "shelf-csv":
        rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8"))))
        assert rows[0]["price"] == "1234.50"
        assert rows[2]["price"] == "1.234"


async def test_an_upload_runs_as_a_job_with_counts_and_an_error_report(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    rows = "JOB-1,Job,,1,EUR,active,,1,,\nJOB-2,Job,,1.999,EUR,active,,1,,\n,No SKU,,1,EUR,,,,,\n"
    upload = (HEADER + rows).encode()
    started = await client.post(
        "/api/v1/imports", files={"file": ("job.csv", upload, "text/csv")}, headers=keys.auth("editor")
    )
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    job_id = started.json()["id"]
    assert location == f"/api/v1/imports/{job_id}"
    await container.transfer.wait(uuid.UUID(job_id))
    job = (await client.get(location, headers=keys.auth("editor"))).json()
    assert job["status"] == JobStatus.SUCCEEDED
    assert (job["rows"], job["created"], job["rejected"], job["progress"]) == (3, 1, 2, 1.0)
    report = await client.get(job["errors_url"], headers=keys.auth("editor"))
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(report.text))) == [
        ["row", "field", "message"],
        ["3", "price", "EUR allows at most 2 decimal places"],
        ["4", "sku", "a SKU is 1 to 64 letters, digits, '.', '_' or '-'"],
    ]
    exported = await client.get("/api/v1/exports", params={"format": "csv"}, headers=keys.auth("viewer"))
    assert exported.status_code == 200
    assert "JOB-1,Job" in exported.text
    refused = await client.post(
        "/api/v1/imports", files={"file": ("job.csv", upload, "text/csv")}, headers=keys.auth("viewer")
    )
    assert refused.status_code == 403


async def test_an_unusable_upload_is_a_failed_job_that_says_why(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    started = await client.post(
        "/api/v1/imports",
        files={"file": ("x.csv", b"colour,size\nred,M\n", "text/csv")},
        headers=keys.auth("admin"),
    )
    assert started.status_code == 202
    await container.transfer.wait(uuid.UUID(started.json()["id"]))
    job = (await client.get(started.headers["location"], headers=keys.auth("admin"))).json()
    assert job["status"] == JobStatus.FAILED
    assert "missing: currency, name, price, sku" in job["problem"]
