"""The evaluation engine: deterministic bucketing, monotonic rollouts, shares within a point over
100,000 keys, variant assignment independent of the rollout, every operator, OpenFeature reasons."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shelf.flags.evaluation import (
    ErrorCode,
    Reason,
    bucket,
    compile_flag,
    evaluate,
    expect_type,
    in_rollout,
)
from shelf.flags.schemas import FlagWrite
from shelf.flags.semver import parse_semver

keys = st.text(min_size=1, max_size=40)
percent = st.integers(min_value=0, max_value=100)


def flag(**fields: Any) -> Any:
    return compile_flag(FlagWrite.model_validate({"key": "f", **fields}))


def multivariate(rollout: int = 100, weights: tuple[int, ...] = (50, 50), **fields: Any) -> Any:
    variants = [{"key": f"v{i}", "weight": w} for i, w in enumerate(weights)]
    return flag(type="multivariate", rollout=rollout, variants=variants, **fields)


def test_bucketing_is_posthogs_sha1_of_flag_dot_key() -> None:
    digest = hashlib.sha1(b"checkout.alice", usedforsecurity=False).hexdigest()
    assert bucket("checkout", "alice") == int(digest[:15], 16) / 0xFFFFFFFFFFFFFFF
    assert bucket("checkout", "alice", "variant") == int(
        hashlib.sha1(b"checkout.alicevariant", usedforsecurity=False).hexdigest()[:15], 16
    ) / float(0xFFFFFFFFFFFFFFF)
    # A fixed value, so that a change of the scheme (which would reshuffle every user) fails here.
    assert round(bucket("storefront.product-page-layout", "user-1"), 12) == round(
        int(
            hashlib.sha1(b"storefront.product-page-layout.user-1", usedforsecurity=False).hexdigest()[:15], 16
        )
        / 0xFFFFFFFFFFFFFFF,
        12,
    )


@given(flag_key=keys, targeting_key=keys)
def test_the_same_user_gets_the_same_answer_every_time(flag_key: str, targeting_key: str) -> None:
    assert 0 <= bucket(flag_key, targeting_key) <= 1
    assert bucket(flag_key, targeting_key) == bucket(flag_key, targeting_key)


@given(targeting_key=keys, low=percent, high=percent)
def test_raising_a_rollout_only_adds_users(targeting_key: str, low: int, high: int) -> None:
    low, high = min(low, high), max(low, high)
    if in_rollout(low, "f", targeting_key):
        assert in_rollout(high, "f", targeting_key)
    assert in_rollout(100, "f", targeting_key)
    assert not in_rollout(0, "f", targeting_key)


@given(targeting_key=keys, low=st.integers(1, 100), high=st.integers(1, 100))
@settings(max_examples=200)
def test_a_users_variant_does_not_change_with_the_rollout(targeting_key: str, low: int, high: int) -> None:
    context = {"targetingKey": targeting_key}
    at_low = evaluate(multivariate(rollout=low), "f", context)
    at_high = evaluate(multivariate(rollout=high), "f", context)
    if at_low.assigned and at_high.assigned:
        assert at_low.variant == at_high.variant


@pytest.mark.parametrize("rollout", [1, 37, 90])
def test_a_rollout_reaches_its_share_within_one_point_over_100000_keys(rollout: int) -> None:
    compiled = flag(rollout=rollout)
    on = sum(evaluate(compiled, "f", {"targetingKey": f"user-{i}"}).value is True for i in range(100_000))
    assert abs(on / 1_000 - rollout) <= 1


def test_variants_reach_their_weights_within_one_point_over_100000_keys() -> None:
    compiled = multivariate(weights=(20, 30, 50))
    counts: dict[str, int] = {}
    for i in range(100_000):
        variant = evaluate(compiled, "f", {"targetingKey": f"user-{i}"}).variant
        counts[str(variant)] = counts.get(str(variant), 0) + 1
    assert {key: round(count / 1_000) for key, count in counts.items()}.keys() == {"v0", "v1", "v2"}
    for key, weight in {"v0": 20, "v1": 30, "v2": 50}.items():
        assert abs(counts[key] / 1_000 - weight) <= 1


def test_reasons_as_openfeature_names_them() -> None:
    user = {"targetingKey": "u1"}
    assert evaluate(None, "gone", user).error_code is ErrorCode.FLAG_NOT_FOUND
    assert evaluate(None, "gone", user).reason is Reason.ERROR
    assert evaluate(flag(enabled=False, rollout=100), "f", user).reason is Reason.DISABLED
    assert evaluate(flag(enabled=False, rollout=100), "f", user).value is False
    assert (evaluate(flag(rollout=100), "f", {}).reason, evaluate(flag(rollout=100), "f", {}).value) == (
        Reason.STATIC,
        True,
    )
    assert evaluate(flag(rollout=0), "f", {}).reason is Reason.STATIC
    rule = [{"conditions": [{"attribute": "plan", "op": "eq", "value": "pro"}]}]
    assert evaluate(flag(rollout=0, rules=rule), "f", {"plan": "pro"}).reason is Reason.TARGETING_MATCH
    assert evaluate(flag(rollout=0, rules=rule), "f", {"plan": "free"}).reason is Reason.DEFAULT
    split = evaluate(multivariate(), "f", user)
    assert (split.reason, split.assigned) == (Reason.SPLIT, True)
    assert evaluate(multivariate(), "f", {}).error_code is ErrorCode.TARGETING_KEY_MISSING
    assert evaluate(flag(rollout=50), "f", {"targetingKey": ""}).error_code is ErrorCode.INVALID_CONTEXT
    assert evaluate(flag(rollout=50), "f", ["not", "a", "context"]).error_code is ErrorCode.INVALID_CONTEXT
    assert expect_type(split, bool).error_code is ErrorCode.TYPE_MISMATCH
    assert expect_type(evaluate(flag(rollout=100), "f", {}), str).error_code is ErrorCode.TYPE_MISMATCH
    # A multivariate flag outside its rollout: the first variant, not assigned, exposed as False.
    out = next(
        r
        for i in range(100)
        if not (r := evaluate(multivariate(rollout=10), "f", {"targetingKey": str(i)})).assigned
    )
    assert (out.reason, out.variant, out.exposure) == (Reason.DEFAULT, "v0", False)
    assert split.exposure == split.variant


def test_rules_are_tried_in_order_and_a_user_outside_a_rules_rollout_goes_on() -> None:
    rules = [
        {"conditions": [{"attribute": "plan", "op": "eq", "value": "pro"}], "rollout": 0, "variant": "v1"},
        {"conditions": [{"attribute": "plan", "op": "in", "value": ["pro", "team"]}], "variant": "v2"},
    ]
    compiled = multivariate(weights=(40, 30, 30), rollout=0, rules=rules)
    result = evaluate(compiled, "f", {"targetingKey": "u", "plan": "pro"})
    assert (result.variant, result.reason) == ("v2", Reason.TARGETING_MATCH)


def when(op: str, value: Any, attribute: str = "a") -> Any:
    return flag(rollout=0, rules=[{"conditions": [{"attribute": attribute, "op": op, "value": value}]}])


@pytest.mark.parametrize(
    ("op", "value", "matching", "not_matching"),
    [
        ("eq", "pro", ["pro"], ["Pro", 1, None]),
        ("eq", 1, [1, 1.0], [True, "1"]),
        ("eq", True, [True], [1, "true"]),
        ("neq", "pro", ["free", 3], ["pro", None]),
        ("in", ["NO", "SE", 7], ["NO", 7, 7.0], ["DK", "7", True]),
        ("not_in", ["NO", "SE"], ["DK", 3], ["NO", None]),
        ("contains", "wool", ["merino wool scarf", ["cotton", "wool"]], ["Wool", ["woolen"], 5]),
        ("starts_with", "beta-", ["beta-42"], ["alpha-beta-", 5]),
        ("gt", 18, [19, 18.5, "19"], [18, "18", "old", True]),
        ("gte", 18, [18, 30], [17.9]),
        ("lt", 1.5, [1, "1.4"], [1.5, 2]),
        ("lte", 1.5, [1.5], [1.51]),
        (
            "semver_gte",
            "2.3.0",
            ["2.3.0", "2.10.0", "v3.0.0", "2.3.1-rc.1"],
            ["2.3.0-rc.1", "2.2.99", "x", 3],
        ),
        ("semver_lt", "1.0.0", ["1.0.0-alpha", "0.9.9"], ["1.0.0", "1.0.0+build.5"]),
        ("semver_eq", "1.2.0", ["1.2.0", "1.2", "1.2.0+meta"], ["1.2.1"]),
        ("semver_gt", "1.0.0-alpha", ["1.0.0-alpha.1", "1.0.0-beta", "1.0.0"], ["1.0.0-alpha"]),
        ("semver_lte", "1.0.0-rc.10", ["1.0.0-rc.2", "1.0.0-rc.10"], ["1.0.0-rc.11", "1.0.0"]),
        (
            "before",
            "2026-12-24T00:00:00Z",
            ["2026-12-23T23:59:59Z", "2026-01-01"],
            ["2026-12-24T01:00:00+00:00"],
        ),
        ("after", "2026-12-24", ["2026-12-24T00:00:01Z"], ["2026-12-24T00:00:00Z", "tomorrow", 5]),
        (
            "regex",
            r"^[a-z]+@shelf\.example$",
            ["ada@shelf.example"],
            ["ada@shelf.example.com", 5, "x" * 2000],
        ),
    ],
)
def test_each_operator(op: str, value: Any, matching: list[Any], not_matching: list[Any]) -> None:
    compiled = when(op, value)
    for actual in matching:
        assert evaluate(compiled, "f", {"a": actual}).value is True, (op, value, actual)
    for actual in not_matching:
        assert evaluate(compiled, "f", {"a": actual}).value is False, (op, value, actual)
    assert evaluate(compiled, "f", {}).value is False  # a missing attribute never matches


def test_a_catastrophic_regex_gives_up_within_its_timeout_and_does_not_match() -> None:
    compiled = when("regex", r"^(a+)+$")
    result = evaluate(compiled, "f", {"a": "a" * 40 + "!"})  # exponential for a backtracking engine
    assert result.value is False


def test_the_targeting_key_is_an_attribute_too() -> None:
    compiled = when("in", ["qa-1", "qa-2"], attribute="targetingKey")
    assert evaluate(compiled, "f", {"targetingKey": "qa-2"}).value is True


@given(st.from_regex(r"v?(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})", fullmatch=True))
def test_semver_parses_every_release(version: str) -> None:
    key = parse_semver(version)
    assert key is not None
    assert key[:3] == tuple(int(part) for part in version.removeprefix("v").split("."))
