"""Rate limiting: token buckets behind one interface, in memory or in Redis (chosen by settings).

Callers use ``RateLimiter`` with a ``RatePolicy``; the stores are details chosen by
``rate_limit_store(settings)`` in the composition root.
"""

from shelf.platform.ratelimit.limiter import RateLimiter, RatePolicy, rate_limit_store
from shelf.platform.ratelimit.store import Decision, RateLimitStore

__all__ = ["Decision", "RateLimitStore", "RateLimiter", "RatePolicy", "rate_limit_store"]
