"""Catalog domain errors."""

from __future__ import annotations

from shelf.platform.errors import Conflict, InvalidInput, NotFound


class ProductNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("no product with this id exists, or you may not see it")


class DuplicateSku(Conflict):
    def __init__(self, sku: str) -> None:
        super().__init__(f"a product with SKU '{sku}' already exists", sku=sku)


class IdempotencyKeyReused(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was already used with a different request body",
            [{"field": "Idempotency-Key", "message": "already used with a different body"}],
        )


class InvalidCursor(InvalidInput):
    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid cursor: {reason}", [{"field": "cursor", "message": reason}])
