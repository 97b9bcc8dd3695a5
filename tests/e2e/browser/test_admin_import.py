"""An editor imports a CSV in the console: live progress to completion, the refused rows named on the
page and in the downloadable error report, and a good row's product found in the shop.

The report page is saved as ``admin-import-report-desktop.png`` in ``tmp_path``; to refresh the
README's picture run ``SHELF_SCREENSHOT_DIR=docs/screenshots .venv/bin/pytest
tests/e2e/browser/test_admin_import.py -n 0``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path

from playwright.async_api import Page, expect

from tests.e2e.browser.conftest import BROWSER_TESTS, Shop
from tests.e2e.browser.console import log_in
from tests.e2e.browser.test_tour import PNG, directory

pytestmark = BROWSER_TESTS
__all__ = ["directory"]  # the fixture: where the screenshot goes

HEADER = "sku,name,description,price,currency,status,category,stock,tags,attributes"
ROWS = [  # file row 1 is the header, so these are rows 2..6
    "IMPORT-QUILL-1,Quillmoor Linen Apron,A heavy linen apron.,24.90,EUR,active,,5,kitchen,",
    "IMPORT-QUILL-2,Quillmoor Oak Board,An oak cutting board.,twelve,EUR,active,,3,kitchen,",  # row 3: price
    "IMPORT-QUILL-3,Quillmoor Tea Towel,A striped tea towel.,7.50,EUR,active,,9,kitchen,",
    ",Quillmoor Bread Bin,An enamel bread bin.,31.00,EUR,active,,2,kitchen,",  # row 5: no SKU
    "IMPORT-QUILL-5,Quillmoor Butter Dish,A stoneware butter dish.,15.00,EUR,active,,4,kitchen,",
]
REFUSED = {3: "price", 5: "sku"}


async def test_an_editor_imports_a_csv_sees_the_bad_rows_and_finds_a_good_one_in_the_shop(
    page: Page, shop: Shop, console_users: dict[str, str], directory: Path
) -> None:
    await log_in(page, shop, console_users["editor"])
    await page.get_by_role("navigation", name="Console").get_by_role("link", name="Import & export").click()
    await expect(page).to_have_url(shop.url("/admin/imports"))
    await expect(page.get_by_role("heading", name="Import & export", level=1)).to_be_visible()

    body = "\n".join([HEADER, *ROWS]) + "\n"
    await page.get_by_label("File").set_input_files(
        files=[{"name": "quillmoor.csv", "mimeType": "text/csv", "buffer": body.encode()}]
    )
    await page.get_by_label("Format").select_option("shelf-csv")
    await page.get_by_role("button", name="Import", exact=True).click()

    # The job page polls until the job has finished, then shows its summary.
    await expect(page).to_have_url(re.compile(re.escape(shop.url("/admin/imports/")) + r"[0-9a-f-]{36}$"))
    await expect(page.get_by_text("Import complete.")).to_be_visible(timeout=20_000)
    counts = page.get_by_role("table", name="Counts")
    await expect(counts.locator("tbody td")).to_have_text(["5", "3", "0", "0", "2"])

    refused = page.get_by_role("table", name="Rows that were not imported")
    lines = refused.locator("tbody tr")
    await expect(lines).to_have_count(2)
    shown = {}
    for index in range(2):
        row, field, message = await lines.nth(index).locator("td").all_inner_texts()
        assert message.strip(), f"row {row} has no message"
        shown[int(row)] = (field, message.strip())
    assert {row: field for row, (field, _) in shown.items()} == REFUSED

    target = directory / "admin-import-report-desktop.png"  # tmp_path unless SHELF_SCREENSHOT_DIR is set
    await page.screenshot(path=str(target), full_page=True)
    with target.open("rb") as written:
        assert written.read(8) == PNG

    async with page.expect_download() as started:
        await page.get_by_role("link", name="Download error report").click()
    download = await started.value
    assert download.suggested_filename.endswith("-errors.csv")
    report = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    records = list(csv.reader(io.StringIO(report)))
    assert records[0] == ["row", "field", "message"]
    assert {int(row): (field, message) for row, field, message in records[1:]} == shown

    # A good row's product is in the shop, at its imported price.
    await page.goto(shop.url("/products?q=Quillmoor+Tea+Towel"))
    towel = page.get_by_role("link", name="Quillmoor Tea Towel")
    await expect(towel).to_be_visible()
    await expect(page.get_by_role("link", name="Quillmoor Oak Board")).to_have_count(0)
    await towel.first.click()
    await expect(page.get_by_role("heading", name="Quillmoor Tea Towel", level=1)).to_be_visible()
    await expect(page.get_by_text(re.compile(r"7[.,]50"))).not_to_have_count(0)
