"""Which flag variants a storefront visitor had when they sent feedback.

Feedback does not evaluate flags itself: it asks a ``FlagVariants`` provider, chosen by the
composition root. ``NoFlagVariants`` (no flags wired) reports none; ``FlagServiceVariants``
adapts anything with ``async variants_for(context) -> dict[str, str]`` (the flags service), asking
with the OpenFeature evaluation context ``{"targetingKey": distinct_id}`` that the flags use to
bucket the same visitor the same way. Apps send the variants they evaluated themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class FlagVariants(Protocol):
    async def for_visitor(self, distinct_id: str) -> dict[str, str]:
        """Flag key to variant for this visitor, now."""
        ...


class NoFlagVariants:
    async def for_visitor(self, distinct_id: str) -> dict[str, str]:
        return {}


class EvaluatesVariants(Protocol):
    async def variants_for(self, context: Mapping[str, Any]) -> dict[str, str]: ...


class FlagServiceVariants:
    """A ``FlagVariants`` over the flags service (``flags.variants_for(context)``)."""

    def __init__(self, flags: EvaluatesVariants) -> None:
        self._flags = flags

    async def for_visitor(self, distinct_id: str) -> dict[str, str]:
        return await self._flags.variants_for({"targetingKey": distinct_id})
