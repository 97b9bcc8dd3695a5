"""Why a cart refused a change, in words a shopper can act on (422)."""

from __future__ import annotations

from shelf.platform.errors import InvalidInput


class CartRefused(InvalidInput):
    def __init__(self, message: str, field: str = "quantity") -> None:
        super().__init__(message, [{"field": field, "message": message}])
