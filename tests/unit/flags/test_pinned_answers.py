"""Pinned answers: literal bucket values and users' variants, taken from the engine before it was
made faster, so that any change to the hash, the salt or the order of evaluation (which would move
users from one variant to another) fails here."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from shelf.flags.evaluation import bucket, compile_flag, evaluate
from shelf.flags.schemas import FlagWrite


def compiled(definition: dict[str, Any]) -> Any:
    return compile_flag(FlagWrite.model_validate(definition))


@pytest.mark.parametrize(
    ("flag_key", "targeting_key", "salt", "expected"),
    [
        ("checkout", "alice", "", 0.45732364427278427),
        ("checkout", "alice", "variant", 0.5026633346208694),
        ("storefront.product-page-layout", "user-1", "", 0.3414664973603854),
        ("storefront.product-page-layout", "user-1", "variant", 0.5912407488307085),
        ("f", "user-0", "", 0.4629659256943799),
        ("f", "ünïcode-ключ", "", 0.5804692343452859),
    ],
)
def test_bucket_values_are_pinned(flag_key: str, targeting_key: str, salt: str, expected: float) -> None:
    assert bucket(flag_key, targeting_key, salt) == expected


def test_the_layout_experiments_users_keep_their_variants() -> None:
    layout = compiled(
        {
            "key": "storefront.product-page-layout",
            "type": "multivariate",
            "rollout": 50,
            "variants": [{"key": "classic", "weight": 50}, {"key": "gallery", "weight": 50}],
        }
    )
    answers = [evaluate(layout, layout.key, {"targetingKey": f"user-{i}"}) for i in range(10)]
    assert [(a.variant, a.reason.value) for a in answers] == [
        ("gallery", "SPLIT"),
        ("gallery", "SPLIT"),
        ("classic", "SPLIT"),
        ("gallery", "SPLIT"),
        ("classic", "DEFAULT"),
        ("classic", "SPLIT"),
        ("gallery", "SPLIT"),
        ("classic", "SPLIT"),
        ("gallery", "SPLIT"),
        ("classic", "SPLIT"),
    ]
    split = compiled(
        {
            "key": "split",
            "type": "multivariate",
            "rollout": 100,
            "variants": [{"key": "a", "weight": 20}, {"key": "b", "weight": 30}, {"key": "c", "weight": 50}],
        }
    )
    variants = [evaluate(split, "split", {"targetingKey": f"user-{i}"}).variant for i in range(12)]
    assert variants == ["a", "b", "c", "c", "c", "c", "a", "c", "a", "b", "c", "c"]


MIXED = [
    {"key": "rollout", "rollout": 37},
    {
        "key": "split",
        "type": "multivariate",
        "rollout": 60,
        "variants": [{"key": "a", "weight": 20}, {"key": "b", "weight": 30}, {"key": "c", "weight": 50}],
    },
    {
        "key": "rules",
        "type": "multivariate",
        "rollout": 20,
        "variants": [{"key": "x", "weight": 50}, {"key": "y", "weight": 50}],
        "rules": [
            {
                "conditions": [
                    {"attribute": "country", "op": "in", "value": ["NO", "SE", "DK"]},
                    {"attribute": "app_version", "op": "semver_gte", "value": "2.3.0"},
                ],
                "rollout": 50,
            },
            {"conditions": [{"attribute": "plan", "op": "eq", "value": "pro"}], "variant": "y"},
            {
                "conditions": [
                    {"attribute": "age", "op": "gte", "value": 18},
                    {"attribute": "signup", "op": "after", "value": "2026-01-01T00:00:00Z"},
                ],
                "rollout": 30,
            },
        ],
    },
]
COUNTRIES = ["NO", "SE", "FR", "DK", "DE"]
PLANS = ["free", "pro", "team"]
VERSIONS = ["2.2.9", "2.3.0", "2.4.1-rc.1", "3.0.0"]


def test_the_answers_of_5000_users_to_three_kinds_of_flag_are_pinned() -> None:
    flags = [compiled(definition) for definition in MIXED]
    digest = hashlib.sha256()
    for i in range(5_000):
        context = {
            "targetingKey": f"user-{i}",
            "country": COUNTRIES[i % 5],
            "plan": PLANS[i % 3],
            "app_version": VERSIONS[i % 4],
            "age": i % 40,
            "signup": "2026-06-01T00:00:00Z" if i % 2 else "2025-06-01T00:00:00Z",
        }
        for each in flags:
            answer = evaluate(each, each.key, context)
            digest.update(f"{answer.key}|{answer.value}|{answer.variant}|{answer.reason.value}\n".encode())
    assert digest.hexdigest() == "f59bb51cf59176e2624e932808c59e6c586d8324643c2f0f35a4b44febefc19f"
