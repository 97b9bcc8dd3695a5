"""The bulk body's items are encoded once per answer and joined: the bytes must be exactly what
encoding the whole list gives, for successes, payloads and failures alike, and an encoder that is
full forgets and starts again rather than answering from a stale entry."""

from __future__ import annotations

from typing import Any

import orjson

from shelf.flags.evaluation import Evaluation, compile_flag, evaluate
from shelf.flags.ofrep import ItemEncoder, failure, success
from shelf.flags.schemas import FlagWrite

DEFINITIONS: list[dict[str, Any]] = [
    {"key": "banner", "rollout": 40},
    {
        "key": "layout",
        "type": "multivariate",
        "rollout": 70,
        "variants": [{"key": "control", "weight": 50}, {"key": "gallery", "weight": 50, "payload": {"c": 3}}],
    },
    {"key": "off", "enabled": False},
]


def _plain(evaluations: list[Evaluation]) -> bytes:
    return orjson.dumps({"flags": [failure(e) if e.failed else success(e) for e in evaluations]})


def test_a_joined_bulk_body_is_byte_for_byte_the_plain_encoding() -> None:
    flags = [compile_flag(FlagWrite.model_validate(d)) for d in DEFINITIONS]
    encode = ItemEncoder()
    for user in range(200):
        context: dict[str, Any] = {"targetingKey": f"user-{user}"}
        answers = [evaluate(flag, flag.key, context) for flag in flags]
        answers.append(evaluate(None, "gone", context))  # a failure among the items
        assert encode.bulk(answers) == _plain(answers)
    assert encode.bulk([evaluate(flags[1], "layout", {})]) == _plain([evaluate(flags[1], "layout", {})])


def test_a_full_encoder_forgets_and_still_answers_right() -> None:
    encode = ItemEncoder(capacity=2)
    answers = [Evaluation(f"f{i}", True, "on", evaluate(None, "x", {}).reason) for i in range(5)]
    for _ in range(3):
        for answer in answers:
            assert encode(answer) == orjson.dumps(success(answer))
    assert len(encode) <= 2
