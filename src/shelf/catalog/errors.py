"""Catalog domain errors."""

from __future__ import annotations

from shelf.platform.errors import Conflict, InvalidInput, NotFound, PreconditionFailed


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


class SelectionChanged(PreconditionFailed):
    """A change to several products refused as a whole: some changed or went since they were read."""

    def __init__(self, changed: list[str], missing: int) -> None:
        parts = []
        if changed:
            parts.append(f"{len(changed)} changed since you read them ({', '.join(changed)})")
        if missing:
            parts.append(f"{missing} no longer exist")
        super().__init__(
            f"nothing was changed: of the products you chose, {' and '.join(parts)}; "
            "reload them and choose again"
        )
        self.changed = changed
        self.missing = missing
