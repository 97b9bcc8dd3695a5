"""Token-bucket arithmetic of the in-process store, on a clock the tests move by hand."""

from __future__ import annotations

import pytest

from shelf.platform.ratelimit.memory import MemoryRateLimitStore
from shelf.platform.ratelimit.store import NullRateLimitStore

PER_MINUTE_3 = (3, 3 / 60)  # capacity, refill per second: one token every 20 seconds


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def store(clock: FakeMonotonic) -> MemoryRateLimitStore:
    return MemoryRateLimitStore(max_keys=100, clock=clock)


async def test_a_full_bucket_allows_a_burst_up_to_its_capacity_then_refuses(
    store: MemoryRateLimitStore,
) -> None:
    decisions = [await store.take("k", *PER_MINUTE_3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert [d.reset_seconds for d in decisions] == [20, 40, 60, 60]
    assert [d.retry_after_seconds for d in decisions] == [0, 0, 0, 20]
    assert all(d.enforced for d in decisions)


async def test_tokens_come_back_at_the_refill_rate(store: MemoryRateLimitStore, clock: FakeMonotonic) -> None:
    for _ in range(3):
        await store.take("k", *PER_MINUTE_3)
    clock.advance(15)
    early = await store.take("k", *PER_MINUTE_3)
    assert not early.allowed
    assert early.retry_after_seconds == 5
    clock.advance(5)
    on_time = await store.take("k", *PER_MINUTE_3)
    assert on_time.allowed
    assert on_time.remaining == 0
    assert not (await store.take("k", *PER_MINUTE_3)).allowed


async def test_refusals_spend_nothing_and_refills_stop_at_capacity(
    store: MemoryRateLimitStore, clock: FakeMonotonic
) -> None:
    for _ in range(3):
        await store.take("k", *PER_MINUTE_3)
    for _ in range(10):  # hammering while empty must not push the retry time further out
        clock.advance(1)
        await store.take("k", *PER_MINUTE_3)
    assert (await store.take("k", *PER_MINUTE_3)).retry_after_seconds == 10
    clock.advance(3600)
    after_an_hour = await store.take("k", *PER_MINUTE_3)
    assert after_an_hour.remaining == 2  # a full bucket of 3, minus this request


async def test_a_retry_after_is_never_zero(store: MemoryRateLimitStore, clock: FakeMonotonic) -> None:
    for _ in range(3):
        await store.take("k", *PER_MINUTE_3)
    clock.advance(19.9)
    nearly = await store.take("k", *PER_MINUTE_3)
    assert not nearly.allowed
    assert nearly.retry_after_seconds == 1


async def test_a_cost_above_one_spends_that_many_tokens(
    store: MemoryRateLimitStore, clock: FakeMonotonic
) -> None:
    capacity, refill = 10, 1.0
    first = await store.take("k", capacity, refill, cost=4)
    second = await store.take("k", capacity, refill, cost=4)
    assert (first.remaining, second.remaining) == (6, 2)
    refused = await store.take("k", capacity, refill, cost=4)
    assert not refused.allowed
    assert refused.remaining == 2
    assert refused.retry_after_seconds == 2  # two more tokens at one per second
    assert (await store.take("k", capacity, refill, cost=2)).allowed  # smaller costs still fit
    clock.advance(4)
    assert (await store.take("k", capacity, refill, cost=4)).allowed


async def test_a_cost_of_zero_asks_without_spending(store: MemoryRateLimitStore) -> None:
    assert (await store.take("k", *PER_MINUTE_3, cost=0)).remaining == 3
    for _ in range(3):
        await store.take("k", *PER_MINUTE_3)
    peek = await store.take("k", *PER_MINUTE_3, cost=0)
    assert not peek.allowed
    assert peek.retry_after_seconds == 20


@pytest.mark.parametrize(
    ("capacity", "refill", "cost"), [(3, 1.0, 4), (3, 1.0, -1), (0, 1.0, 1), (3, 0.0, 1)]
)
async def test_impossible_requests_are_programming_errors(
    store: MemoryRateLimitStore, capacity: int, refill: float, cost: int
) -> None:
    with pytest.raises(ValueError, match="bucket"):
        await store.take("k", capacity, refill, cost)


async def test_keys_have_separate_buckets_and_clear_refills_one(store: MemoryRateLimitStore) -> None:
    for _ in range(3):
        await store.take("a", *PER_MINUTE_3)
    assert (await store.take("b", *PER_MINUTE_3)).allowed
    assert not (await store.take("a", *PER_MINUTE_3)).allowed
    await store.clear("a")
    assert (await store.take("a", *PER_MINUTE_3)).remaining == 2


async def test_buckets_that_refilled_are_forgotten_but_draining_ones_are_kept(clock: FakeMonotonic) -> None:
    store = MemoryRateLimitStore(max_keys=100, clock=clock)
    for key in ("idle-1", "idle-2"):
        await store.take(key, *PER_MINUTE_3)
    clock.advance(30)  # both refilled 10 seconds ago
    for _ in range(3):
        await store.take("busy", *PER_MINUTE_3)
    await store.take("newcomer", *PER_MINUTE_3)
    assert len(store) == 2  # busy and newcomer
    clock.advance(10)  # busy is still short of tokens, so it must not be forgotten
    await store.take("another", *PER_MINUTE_3)
    assert len(store) == 3
    assert not (await store.take("busy", *PER_MINUTE_3)).allowed


async def test_the_number_of_buckets_never_exceeds_the_bound(clock: FakeMonotonic) -> None:
    store = MemoryRateLimitStore(max_keys=50, clock=clock)
    for caller in range(1000):  # a flood of distinct addresses, none of them idle
        await store.take(f"ip:{caller}", *PER_MINUTE_3)
        assert len(store) <= 50
    assert len(store) == 50
    # The most recent callers are the ones kept.
    assert (await store.take("ip:999", *PER_MINUTE_3)).remaining == 1


async def test_the_null_store_claims_no_limit() -> None:
    decision = await NullRateLimitStore().take("k", 3, 0.05)
    assert decision.allowed
    assert not decision.enforced
