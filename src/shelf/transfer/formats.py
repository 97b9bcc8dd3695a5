"""Streaming readers of the files Shelf imports and the one shape they all produce.

Each reader turns a file into ``SourceRow``s one at a time, never holding the file: a row is the
product as the REST API would receive it (``ProductCreate``'s fields), its position in the file
(what a person looks up: a CSV's data rows start at row 2, under the header; a JSONL file counts
lines from 1), and any problem found before validation. Validation itself is the API's
(``transfer.validation``), so a file and a request obey the same rules.

Shelf's own CSV has one column per field (``SHELF_CSV_COLUMNS``): ``price`` and ``currency`` for
the price, ``tags`` separated by ``|`` (or a JSON array, when a tag holds a ``|``), ``attributes``
as a JSON object. JSONL is one API product object per line (``ProductRead`` lines work too: read-only
fields are ignored). Shopify's product export is read by ``transfer.shopify``.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from shelf.platform.errors import InvalidInput
from shelf.platform.jsonutil import loads

SHELF_CSV_COLUMNS = (
    "sku",
    "name",
    "description",
    "price",
    "currency",
    "status",
    "category",
    "stock",
    "tags",
    "attributes",
)
REQUIRED_CSV_COLUMNS = frozenset({"sku", "name", "price", "currency"})
TAG_SEPARATOR = "|"
MAX_LINE_BYTES = 1024 * 1024  # a JSONL line or CSV field larger than this is not a product
csv.field_size_limit(MAX_LINE_BYTES)


class Format(enum.StrEnum):
    SHELF_CSV = "shelf-csv"
    JSONL = "jsonl"
    SHOPIFY = "shopify"


class UnusableFile(InvalidInput):
    """The file as a whole cannot be read (wrong format, no header, not UTF-8): nothing is imported."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, [{"field": "file", "message": detail}])


@dataclass(frozen=True)
class RowProblem:
    row: int
    field: str
    message: str


@dataclass
class SourceRow:
    row: int
    payload: dict[str, Any] | None  # None when the row could not be read into a product
    problems: list[RowProblem] = field(default_factory=list)
    # Where a validation error's location is found in the file: "price.amount" is column "price".
    columns: dict[str, str] = field(default_factory=dict)


def open_text(path: Path) -> IO[str]:
    """The file as UTF-8 text (a byte-order mark is skipped), with universal newlines off for csv."""
    return open(path, encoding="utf-8-sig", newline="")


def detect(path: Path, override: Format | str | None = None, *, name: str | None = None) -> Format:
    """The format ``override`` names, or what the extension (of ``name``, an upload's original
    file name, or else of ``path``) and the first line say."""
    if override:
        try:
            return Format(override)
        except ValueError:
            names = ", ".join(f.value for f in Format)
            raise UnusableFile(f"unknown format '{override}': choose one of {names}") from None
    suffix = Path(name or path.name).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return Format.JSONL
    try:
        with open_text(path) as text:
            first = text.readline(MAX_LINE_BYTES)
    except UnicodeDecodeError:
        raise UnusableFile("the file is not UTF-8 text") from None
    if first.lstrip().startswith("{"):
        return Format.JSONL
    header = {name.strip() for name in next(csv.reader([first]), [])}
    if {"Handle", "Title"} <= header and ("Variant SKU" in header or "Variant Price" in header):
        return Format.SHOPIFY
    if suffix == ".csv" or "sku" in header:
        return Format.SHELF_CSV
    raise UnusableFile(
        "cannot tell the file's format from its name or first line: pass --format shelf-csv, jsonl or shopify"
    )


class ByteCounter(io.RawIOBase):
    """A binary file that counts what was read, for progress in bytes while text streams through."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


def counted_text(path: Path) -> tuple[IO[str], ByteCounter]:
    counter = ByteCounter(open(path, "rb"))  # noqa: SIM115 - closed with the text wrapper
    reader = io.TextIOWrapper(io.BufferedReader(counter, 1 << 16), encoding="utf-8-sig", newline="")
    return reader, counter


def _decoding(rows: Iterator[SourceRow]) -> Iterator[SourceRow]:
    try:
        yield from rows
    except UnicodeDecodeError:
        raise UnusableFile("the file is not UTF-8 text") from None
    except csv.Error as error:
        raise UnusableFile(f"the file is not readable CSV: {error}") from None


def read_shelf_csv(text: IO[str]) -> Iterator[SourceRow]:
    return _decoding(_shelf_csv_rows(text))


def _shelf_csv_rows(text: IO[str]) -> Iterator[SourceRow]:
    reader = csv.reader(text)
    header = [name.strip() for name in next(reader, [])]
    missing = REQUIRED_CSV_COLUMNS - set(header)
    if not header or missing:
        raise UnusableFile(
            "the CSV header must name the columns "
            + ", ".join(SHELF_CSV_COLUMNS)
            + (f" (missing: {', '.join(sorted(missing))})" if header else "")
        )
    unknown = [name for name in header if name not in SHELF_CSV_COLUMNS]
    if unknown:
        raise UnusableFile(
            f"unknown CSV column(s): {', '.join(unknown)}; Shelf's columns are {', '.join(SHELF_CSV_COLUMNS)}"
        )
    width = len(header)
    for index, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line is not a product
        if len(cells) != width:
            yield SourceRow(
                index, None, [RowProblem(index, "row", f"has {len(cells)} cells; the header has {width}")]
            )
            continue
        yield shelf_csv_payload(index, dict(zip(header, cells, strict=True)))


CSV_COLUMN_OF = {"price.amount": "price", "price.currency": "currency", "price": "price"}


def shelf_csv_payload(index: int, cells: dict[str, str]) -> SourceRow:
    problems: list[RowProblem] = []
    payload: dict[str, Any] = {
        "sku": cells.get("sku", "").strip(),
        "name": cells.get("name", ""),
        "price": {"amount": cells.get("price", "").strip(), "currency": cells.get("currency", "").strip()},
    }
    if cells.get("description"):
        payload["description"] = cells["description"]
    for name in ("status", "category"):
        if cells.get(name, "").strip():
            payload[name] = cells[name].strip()
    stock = cells.get("stock", "").strip()
    if stock:
        payload["stock"] = stock  # pydantic parses "12" and refuses "twelve" with the API's message
    tags = cells.get("tags", "").strip()
    if tags:
        payload["tags"] = _tags(tags, index, problems)
    attributes = cells.get("attributes", "").strip()
    if attributes:
        try:
            parsed = loads(attributes)
        except ValueError:
            message = 'must be a JSON object such as {"colour": "red"}'
            problems.append(RowProblem(index, "attributes", message))
        else:
            if isinstance(parsed, dict):
                payload["attributes"] = parsed
            else:
                problems.append(RowProblem(index, "attributes", "must be a JSON object"))
    return SourceRow(index, None if problems else payload, problems, CSV_COLUMN_OF)


def _tags(cell: str, index: int, problems: list[RowProblem]) -> list[Any]:
    if cell.startswith("["):
        try:
            parsed = json.loads(cell)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return parsed
        problems.append(RowProblem(index, "tags", "must be tags separated by '|' or a JSON array"))
        return []
    return [tag.strip() for tag in cell.split(TAG_SEPARATOR) if tag.strip()]


def read_jsonl(text: IO[str]) -> Iterator[SourceRow]:
    return _decoding(_jsonl_rows(text))


def _jsonl_rows(text: IO[str]) -> Iterator[SourceRow]:
    for index, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            parsed = loads(line)
        except ValueError as error:
            yield SourceRow(index, None, [RowProblem(index, "line", f"is not valid JSON ({error})")])
            continue
        if not isinstance(parsed, dict):
            yield SourceRow(index, None, [RowProblem(index, "line", "must be a JSON object (one product)")])
            continue
        yield SourceRow(index, parsed)


def tags_cell(tags: list[str]) -> str:
    """``tags`` as Shelf's CSV writes them: joined by ``|`` unless a tag needs the JSON form."""
    needs_json = any(TAG_SEPARATOR in tag for tag in tags) or (tags and tags[0].startswith("["))
    if needs_json:
        return json.dumps(tags, ensure_ascii=False)
    return TAG_SEPARATOR.join(tags)
