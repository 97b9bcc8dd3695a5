"""``shelf import`` and ``shelf export`` run as a user would run them, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.databases import database
from tests.process import shelf

pytestmark = pytest.mark.xdist_group("cli")
HEADER = "sku,name,description,price,currency,status,category,stock,tags,attributes\n"


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database(str(request.param), tmp_path) as database_url:
        assert shelf("db", "upgrade", database_url=database_url).returncode == 0
        yield database_url


async def test_import_reports_bad_rows_and_exit_codes_and_export_round_trips(
    url: str, tmp_path: Path
) -> None:
    source = tmp_path / "products.csv"
    source.write_text(
        HEADER
        + "CLI-1,Desk Lamp,,49.90,EUR,active,lighting,3,brass|desk,\n"
        + "CLI-2,Mug,,twelve,EUR,active,,1,,\n"
        + ",No SKU,,5,EUR,active,,1,,\n"
        + "CLI-4,Jar,,5,EUR,draft,,1,,\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.csv"
    first = shelf("import", str(source), "--errors-out", str(report), database_url=url)
    assert first.returncode == 1, first.stderr  # documented: some rows were refused
    assert "2 created, 0 updated, 0 unchanged, 2 rejected" in first.stderr
    assert "Traceback" not in first.stderr
    rows = list(csv.reader(report.read_text(encoding="utf-8").splitlines()))
    assert [row[:2] for row in rows] == [["row", "field"], ["3", "price"], ["4", "sku"]]

    dry = shelf("import", str(source), "--dry-run", database_url=url)
    assert "0 created, 0 updated, 2 unchanged, 2 rejected" in dry.stderr

    exported = tmp_path / "export.csv"
    assert shelf("export", "-o", str(exported), database_url=url).returncode == 0
    again = shelf("import", str(exported), database_url=url)
    assert again.returncode == 0, again.stderr
    assert "0 created, 0 updated, 2 unchanged, 0 rejected" in again.stderr
    lines = shelf("export", "--format", "jsonl", database_url=url)
    assert lines.returncode == 0
    assert len(lines.stdout.splitlines()) == 2
    assert '"sku":"CLI-1"' in lines.stdout


async def test_an_unusable_file_exits_2_with_a_message(url: str, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("colour,size\nred,M\n", encoding="utf-8")
    result = shelf("import", str(garbage), database_url=url)
    assert result.returncode == 2
    assert "unusable file" in result.stderr
    assert "nothing was imported" in result.stderr
    missing = shelf("import", str(tmp_path / "nope.csv"), database_url=url)
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr
    wrong = shelf("import", str(garbage), "--format", "jsonl", database_url=url)
    assert wrong.returncode == 1
    assert "Traceback" not in wrong.stderr
