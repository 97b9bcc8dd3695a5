"""Reading Shelf CSV, JSONL and Shopify exports into rows, and checking them with the API's rules."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from shelf.transfer.formats import Format, UnusableFile, detect, read_jsonl, read_shelf_csv, tags_cell
from shelf.transfer.shopify import html_to_text, read_shopify
from shelf.transfer.validation import validate

# The header of a real Shopify product export (Admin > Products > Export, 2023 layout).
SHOPIFY_HEADER = (
    "Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,Option1 Name,Option1 Value,"
    "Option2 Name,Option2 Value,Option3 Name,Option3 Value,Variant SKU,Variant Grams,"
    "Variant Inventory Tracker,Variant Inventory Qty,Variant Inventory Policy,Variant Fulfillment Service,"
    "Variant Price,Variant Compare At Price,Variant Requires Shipping,Variant Taxable,Variant Barcode,"
    "Image Src,Image Position,Image Alt Text,Gift Card,SEO Title,SEO Description,Variant Image,"
    "Variant Weight Unit,Variant Tax Code,Cost per item,Status"
)


def shopify_row(**cells: str) -> str:
    names = SHOPIFY_HEADER.split(",")
    unknown = set(cells) - {name.replace(" ", "_").replace("(", "").replace(")", "") for name in names}
    assert not unknown, unknown
    values = [cells.get(name.replace(" ", "_").replace("(", "").replace(")", ""), "") for name in names]
    return ",".join(f'"{value}"' if "," in value or "<" in value else value for value in values)


SHOPIFY_FILE = "\n".join(
    [
        SHOPIFY_HEADER,
        shopify_row(
            Handle="wool-scarf",
            Title="Wool Scarf",
            Body_HTML=(
                "<p>Warm &amp; <strong>soft</strong>.</p><script>alert(1)</script><ul><li>merino</li></ul>"
            ),
            Vendor="Acme",
            Type="Winter Apparel",
            Tags="wool, gift",
            Published="TRUE",
            Option1_Name="Size",
            Option1_Value="S",
            Variant_SKU="SCARF-S",
            Variant_Inventory_Qty="4",
            Variant_Price="19.90",
            Image_Src="https://cdn.example/1.jpg",
            Status="active",
        ),
        shopify_row(
            Handle="wool-scarf",
            Option1_Value="M",
            Variant_SKU="SCARF-M",
            Variant_Price="21.00",
            Variant_Inventory_Qty="2",
        ),
        shopify_row(Handle="wool-scarf", Image_Src="https://cdn.example/2.jpg", Image_Position="2"),
        shopify_row(
            Handle="mug",
            Title="Mug",
            Published="FALSE",
            Option1_Name="Title",
            Option1_Value="Default Title",
            Variant_SKU="MUG-1",
            Variant_Price="8",
            Status="",
        ),
        shopify_row(
            Handle="mug-2",
            Title="Nameless",
            Option1_Name="Title",
            Option1_Value="Default Title",
            Variant_Price="3",
        ),
    ]
)


def test_a_shopify_export_becomes_one_product_per_variant_and_skips_image_rows() -> None:
    rows = list(read_shopify(io.StringIO(SHOPIFY_FILE), "EUR"))
    assert [row.row for row in rows] == [2, 3, 5, 6]  # row 4 only adds an image
    scarf_s, scarf_m, mug, nameless = rows
    assert scarf_s.payload is not None
    assert scarf_m.payload is not None
    assert mug.payload is not None
    assert scarf_s.payload["name"] == "Wool Scarf (S)"
    assert scarf_m.payload["name"] == "Wool Scarf (M)"
    assert scarf_m.payload["description"] == "Warm & soft.\n\n- merino"  # the first row's body
    assert scarf_m.payload["price"] == {"amount": "21.00", "currency": "EUR"}
    assert scarf_m.payload["category"] == "winter-apparel"
    assert scarf_m.payload["tags"] == ["wool", "gift"]
    assert scarf_m.payload["attributes"] == {"shopify_handle": "wool-scarf", "size": "M", "vendor": "Acme"}
    assert scarf_m.payload["stock"] == "2"
    assert mug.payload["name"] == "Mug"
    assert mug.payload["status"] == "draft"
    assert nameless.payload is None
    assert [(p.row, p.field) for p in nameless.problems] == [(6, "Variant SKU")]
    data, problems = validate(scarf_m)
    assert problems == []
    assert data is not None
    assert str(data.price.amount) == "21.00"


def test_html_becomes_text_and_never_keeps_markup() -> None:
    assert html_to_text('<p onclick="x()">Hi<br>there</p><style>p{}</style>') == "Hi\nthere"
    assert html_to_text("<img src=x onerror=alert(1)>&lt;b&gt;") == "<b>"  # an entity stays text
    assert html_to_text("plain") == "plain"


def test_shelf_csv_rows_name_the_file_column_of_each_problem() -> None:
    text = io.StringIO(
        "sku,name,price,currency,tags,attributes,stock\n"
        'OK-1,Lamp,12.50,EUR,brass|desk,"{""w"": 1.5}",3\n'
        "BAD-1,Lamp,12.505,EUR,,,\n"
        "BAD-2,Lamp,1,EUR,,[1],x\n"
        "\n"
        "BAD-3,Lamp\n"
    )
    rows = list(read_shelf_csv(text))
    assert [row.row for row in rows] == [2, 3, 4, 6]
    good, bad_price, bad_attributes, short = rows
    data, problems = validate(good)
    assert problems == []
    assert data is not None
    assert data.tags == ["brass", "desk"]
    assert str(data.attributes["w"]) == "1.5"
    assert data.stock == 3
    assert [(p.row, p.field) for p in validate(bad_price)[1]] == [(3, "price")]
    assert "EUR allows at most 2 decimal places" in validate(bad_price)[1][0].message
    assert [(p.row, p.field) for p in validate(bad_attributes)[1]] == [(4, "attributes")]
    assert [(p.row, p.field) for p in validate(short)[1]] == [(6, "row")]


def test_a_shelf_csv_without_its_columns_is_unusable() -> None:
    with pytest.raises(UnusableFile, match="missing: currency, price"):
        list(read_shelf_csv(io.StringIO("sku,name\nA,B\n")))
    with pytest.raises(UnusableFile, match="unknown CSV column"):
        list(read_shelf_csv(io.StringIO("sku,name,price,currency,colour\n")))


def test_jsonl_lines_are_api_products_and_bad_lines_are_reported() -> None:
    text = io.StringIO(
        '{"sku": "J-1", "name": "Jar", "price": {"amount": "2.00", "currency": "EUR"}, "id": "ignored"}\n'
        "not json\n"
        "[1]\n"
        '{"sku": "J-2", "name": "Jar", "price": {"amount": true, "currency": "EUR"}}\n'
    )
    rows = list(read_jsonl(text))
    assert validate(rows[0])[1] == []
    assert [(p.row, p.field) for p in validate(rows[1])[1]] == [(2, "line")]
    assert [(p.row, p.field) for p in validate(rows[2])[1]] == [(3, "line")]
    assert [(p.row, p.field) for p in validate(rows[3])[1]] == [(4, "price.amount")]


def test_tags_round_trip_through_a_cell() -> None:
    for tags in (["a", "b c"], ["with|pipe"], ["[odd"], []):
        buffer = io.StringIO()
        header = ["sku", "name", "price", "currency", "tags"]
        csv.writer(buffer).writerows([header, ["A", "B", "1", "EUR", tags_cell(tags)]])
        buffer.seek(0)
        row = next(read_shelf_csv(buffer))
        assert (row.payload or {}).get("tags", []) == tags


def test_the_format_is_told_by_name_and_first_line(tmp_path: Path) -> None:
    shopify = tmp_path / "products_export_1.csv"
    shopify.write_text(SHOPIFY_FILE)
    shelf = tmp_path / "mine.txt"
    shelf.write_text("sku,name,price,currency\n")
    lines = tmp_path / "x.jsonl"
    lines.write_text("{}\n")
    assert detect(shopify) == Format.SHOPIFY
    assert detect(shelf) == Format.SHELF_CSV
    assert detect(lines) == Format.JSONL
    assert detect(shopify, "shelf-csv") == Format.SHELF_CSV
    assert detect(tmp_path / "upload.tmp", name="a.jsonl") == Format.JSONL
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UnusableFile):
        detect(binary)
    with pytest.raises(UnusableFile, match="unknown format"):
        detect(shelf, "xlsx")
