"""Throttling of sign-in attempts: failures count per account and per client IP.

A blocked caller gets a 429 before the password is even checked, so guessing stays slow whatever
the password; a successful sign-in clears the account's count (not the IP's).
"""

from __future__ import annotations

from shelf.monitoring import metrics
from shelf.platform.errors import TooManyRequests
from shelf.platform.ratelimit import RateLimiter, RatePolicy


class LoginThrottle:
    def __init__(self, limiter: RateLimiter, *, per_account: RatePolicy, per_ip: RatePolicy) -> None:
        self._limiter = limiter
        self._per_account = per_account
        self._per_ip = per_ip

    async def check(self, email: str, client_ip: str) -> None:
        for key, policy in ((_account(email), self._per_account), (client_ip, self._per_ip)):
            decision = await self._limiter.check(key, policy)
            if not decision.allowed:
                metrics.RATE_LIMIT_REJECTIONS.labels(policy.name).inc()
                raise TooManyRequests(
                    "too many failed sign-in attempts; wait before trying again",
                    retry_after=decision.retry_after_seconds,
                )

    async def failed(self, email: str, client_ip: str) -> None:
        await self._limiter.hit(_account(email), self._per_account)
        await self._limiter.hit(client_ip, self._per_ip)

    async def succeeded(self, email: str) -> None:
        await self._limiter.clear(_account(email), self._per_account)


def _account(email: str) -> str:
    return email.strip().lower()
