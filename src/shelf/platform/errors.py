"""Domain errors. Raised below the HTTP layer; ``gateway.problems`` maps each to a status once."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a client may see. ``detail`` is safe to show to the caller."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class Unauthenticated(DomainError):
    pass


class Forbidden(DomainError):
    pass


class PreconditionRequired(DomainError):
    pass


class PreconditionFailed(DomainError):
    pass


class TooManyRequests(DomainError):
    """Slow down: ``retry_after`` says for how many seconds (429 with ``Retry-After``)."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)


class ServiceUnavailable(DomainError):
    """Not now, but soon: ``retry_after`` seconds (503 with ``Retry-After``), e.g. a full buffer."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)


class InvalidInput(DomainError):
    """A semantically invalid request; ``errors`` lists each bad field."""

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []
