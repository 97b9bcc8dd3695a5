"""The one interface every rate-limit store implements, and the token-bucket arithmetic they share.

A bucket holds up to ``capacity`` tokens and refills at ``refill_per_second``; a request spends
``cost`` tokens or is refused. Stores differ only in where the bucket lives; how a bucket's state
becomes a ``Decision`` (the rounding callers see in headers) is decided here, once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

# Refills are floating-point sums; without this slack, 20 s x 0.05 tokens/s could fall just short of 1.
EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Decision:
    """What a store answered for one request."""

    allowed: bool
    remaining: int  # whole tokens left after this request
    reset_seconds: int  # until the bucket is full again
    retry_after_seconds: int  # until this request would pass; 0 when allowed
    enforced: bool = True  # False when the store could not be asked and the request passed unchecked

    @classmethod
    def unenforced(cls, capacity: int) -> Decision:
        return cls(allowed=True, remaining=capacity, reset_seconds=0, retry_after_seconds=0, enforced=False)


class RateLimitStore(Protocol):
    async def take(self, key: str, capacity: int, refill_per_second: float, cost: int = 1) -> Decision:
        """Spend ``cost`` tokens from the bucket ``key`` if it holds them.

        A cost of 0 spends nothing and asks whether one more token is available.
        """
        ...

    async def clear(self, key: str) -> None:
        """Forget the bucket ``key``: its next request finds it full."""
        ...

    async def aclose(self) -> None: ...


class NullRateLimitStore:
    """Rate limiting switched off: everything passes, and no limit is claimed in headers."""

    async def take(self, key: str, capacity: int, refill_per_second: float, cost: int = 1) -> Decision:
        return Decision.unenforced(capacity)

    async def clear(self, key: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


def check_request(capacity: int, refill_per_second: float, cost: int) -> None:
    if capacity < 1 or refill_per_second <= 0:
        raise ValueError(
            f"a bucket needs capacity >= 1 and a positive refill, not {capacity}, {refill_per_second}"
        )
    if not 0 <= cost <= capacity:
        raise ValueError(f"a cost of {cost} can never be paid from a bucket of {capacity}")


def spend(tokens: float, cost: int) -> tuple[bool, float]:
    """``(allowed, tokens left)``. The Redis script mirrors this; keep the two in step."""
    if tokens + EPSILON >= max(cost, 1):
        return True, max(tokens - cost, 0.0)
    return False, tokens


def decide(allowed: bool, tokens: float, capacity: int, refill_per_second: float, cost: int) -> Decision:
    """Turn a bucket's state after ``spend`` into whole numbers a client can act on."""
    retry_after = 0
    if not allowed:
        # Retry-After must never be 0 for a refusal: a client would retry in a tight loop.
        retry_after = max(1, math.ceil((max(cost, 1) - tokens) / refill_per_second - EPSILON))
    return Decision(
        allowed=allowed,
        remaining=math.floor(tokens + EPSILON),
        reset_seconds=max(0, math.ceil((capacity - tokens) / refill_per_second - EPSILON)),
        retry_after_seconds=retry_after,
    )
