"""Flag domain errors."""

from __future__ import annotations

from shelf.platform.errors import Conflict, NotFound


class FlagNotFound(NotFound):
    def __init__(self, key: str) -> None:
        super().__init__(f"no flag with the key '{key}'")


class DuplicateFlagKey(Conflict):
    def __init__(self, key: str) -> None:
        super().__init__(f"a flag with the key '{key}' already exists", key=key)
