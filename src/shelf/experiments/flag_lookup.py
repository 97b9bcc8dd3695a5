"""What experiments need to know about flags: a flag's variants and their weights, by key.

Experiments do not import the flags feature. The composition root passes a ``FlagVariantsLookup``;
``NoFlags`` (no flags wired) knows no flag, so nothing can be started; ``StaticFlags`` holds fixed
definitions (tests, and a demo without the flags service).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FlagVariant:
    key: str
    weight: float  # the share of people the flag assigns this variant, in percent


class FlagVariantsLookup(Protocol):
    async def variants(self, key: str) -> list[FlagVariant] | None:
        """The flag's variants in their declared order; None when no flag has this key."""
        ...


class NoFlags:
    async def variants(self, key: str) -> list[FlagVariant] | None:
        return None


class StaticFlags:
    def __init__(self, flags: Mapping[str, Sequence[tuple[str, float]]] | None = None) -> None:
        self.flags: dict[str, list[FlagVariant]] = {
            key: [FlagVariant(variant, weight) for variant, weight in variants]
            for key, variants in (flags or {}).items()
        }

    async def variants(self, key: str) -> list[FlagVariant] | None:
        found = self.flags.get(key)
        return list(found) if found is not None else None
