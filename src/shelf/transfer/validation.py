"""Each row checked with the REST API's own rules: ``ProductCreate``, nothing looser or stricter."""

from __future__ import annotations

from pydantic import ValidationError

from shelf.catalog.schemas import ProductCreate
from shelf.gateway.problems import field_errors
from shelf.transfer.formats import RowProblem, SourceRow


def validate(source: SourceRow) -> tuple[ProductCreate | None, list[RowProblem]]:
    """The row as a product, or the problems that stop it, each naming the file's column."""
    if source.payload is None:
        return None, source.problems
    try:
        return ProductCreate.model_validate(source.payload), []
    except ValidationError as error:
        return None, [
            RowProblem(source.row, column_of(item["field"], source.columns), item["message"])
            for item in field_errors(error)
        ]


def column_of(location: str, columns: dict[str, str]) -> str:
    """``price.amount`` → ``price`` (Shelf CSV) or ``Variant Price`` (Shopify); ``tags.3`` → ``tags``."""
    if location in columns:
        return columns[location]
    head = location.split(".", 1)[0]
    return columns.get(head, head if columns else location)
