"""What experiments need to know about flags: a flag's variants and their weights, by key.

Experiments do not import the flags feature. The composition root passes a ``FlagVariantsLookup``:
``FlagServiceLookup`` adapts anything with ``async definition(key)`` returning a flag's stored
definition (the flags service), so an experiment runs on the flags editors manage; ``NoFlags`` (no
flags wired) knows no flag, so nothing can be started.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

MULTIVARIATE = "multivariate"  # the flag type whose variants an experiment compares


@dataclass(frozen=True)
class FlagVariant:
    key: str
    weight: float  # the share of people the flag assigns this variant, in percent


class FlagVariantsLookup(Protocol):
    async def variants(self, key: str) -> list[FlagVariant] | None:
        """The flag's variants in their declared order (none for a flag that is not multivariate);
        None when no flag has this key."""
        ...


class NoFlags:
    async def variants(self, key: str) -> list[FlagVariant] | None:
        return None


class VariantDefinition(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def weight(self) -> float: ...


class FlagDefinition(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def variants(self) -> Sequence[VariantDefinition]: ...


class DefinesFlags(Protocol):
    async def definition(self, key: str) -> FlagDefinition | None: ...


class FlagServiceLookup:
    """A ``FlagVariantsLookup`` over the flags service: its stored definitions, read when asked
    (an experiment is created, started or analysed), so a change to the flag counts at once. A
    boolean flag has no variants of its own (its answers are ``true``/``false``): none."""

    def __init__(self, flags: DefinesFlags) -> None:
        self._flags = flags

    async def variants(self, key: str) -> list[FlagVariant] | None:
        found = await self._flags.definition(key)
        if found is None:
            return None
        if found.type != MULTIVARIATE:
            return []
        return [FlagVariant(variant.key, float(variant.weight)) for variant in found.variants]
