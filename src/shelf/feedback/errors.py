"""Feedback domain errors."""

from __future__ import annotations

from shelf.platform.errors import InvalidInput, NotFound


class FeedbackNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("no feedback with this id exists")


class UnknownProduct(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "the feedback names a product that does not exist",
            [{"field": "product_id", "in": "body", "message": "no product with this id exists"}],
        )


class InvalidFeedbackCursor(InvalidInput):
    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid cursor: {reason}", [{"field": "cursor", "in": "query", "message": reason}])
