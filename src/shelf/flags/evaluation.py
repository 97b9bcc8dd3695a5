"""The evaluation engine: pure functions from a flag definition and a context to an answer.

No I/O and no clock: the same definition and context give the same ``Evaluation`` on every
instance and after every restart. ``compile_flag`` turns a validated ``FlagWrite`` into closures
once (when definitions are loaded), so an evaluation is a few dictionary look-ups and at most two
SHA-1 digests.

Bucketing (ADR 0014), as PostHog does it: ``bucket(flag, key)`` is the first 15 hex digits of
SHA-1 of ``"{flag}.{key}"`` divided by ``0xFFFFFFFFFFFFFFF``, a number in [0, 1]. A user is in a
rollout of ``p`` percent when that number is below ``p / 100`` (everyone at 100), so raising a
rollout only adds users. The variant of a multivariate flag is chosen from a second number, with
the salt ``variant`` appended (``"{flag}.{key}variant"``), against the variants' cumulative weights:
which variant a user gets does not depend on the rollout, and changing the rollout moves nobody
from one variant to another.

Reasons and error codes are OpenFeature's (specification, "Types": resolution reasons and error
codes). Rules are tried in order; a user matching a rule's conditions but outside its rollout goes
on to the next rule, then to the flag's own rollout. A condition on an attribute the context does
not have does not match, whatever its operator (``neq`` and ``not_in`` included).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import regex
from pydantic import JsonValue

from shelf.flags.schemas import (
    BOOLEAN_VARIANTS,
    Condition,
    FlagType,
    FlagWrite,
    Operator,
    parse_instant,
)
from shelf.flags.semver import parse_semver

LONG_SCALE = float(0xFFFFFFFFFFFFFFF)
VARIANT_SALT = "variant"
TARGETING_KEY = "targetingKey"
MAX_REGEX_SUBJECT = 1_024  # a longer attribute value does not match a regex condition
REGEX_TIMEOUT_SECONDS = 0.005  # a pattern that takes longer on one value does not match it
ON, OFF = BOOLEAN_VARIANTS


class Reason(enum.StrEnum):
    TARGETING_MATCH = "TARGETING_MATCH"
    SPLIT = "SPLIT"
    DISABLED = "DISABLED"
    DEFAULT = "DEFAULT"
    STATIC = "STATIC"
    ERROR = "ERROR"


class ErrorCode(enum.StrEnum):
    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    PARSE_ERROR = "PARSE_ERROR"
    TARGETING_KEY_MISSING = "TARGETING_KEY_MISSING"
    INVALID_CONTEXT = "INVALID_CONTEXT"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    GENERAL = "GENERAL"


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One answer. ``value`` is a bool (boolean flags) or the variant's key (multivariate);
    ``assigned`` says the user got a variant from a rule or the split, not a fallback."""

    key: str
    value: bool | str | None
    variant: str | None
    reason: Reason
    assigned: bool = False
    payload: JsonValue = None
    error_code: ErrorCode | None = None
    error_message: str | None = None

    @property
    def failed(self) -> bool:
        return self.error_code is not None

    @property
    def exposure(self) -> bool | str:
        """What ``$feature_flag_called`` reports as ``$feature_flag_response``: the variant a
        multivariate flag assigned (``False`` when it assigned none), a boolean flag's value."""
        if isinstance(self.value, bool):
            return self.value
        return self.variant if self.assigned and self.variant is not None else False


def failure(key: str, code: ErrorCode, message: str) -> Evaluation:
    return Evaluation(key, None, None, Reason.ERROR, error_code=code, error_message=message)


def _point(digest: bytes) -> float:
    """The first 60 bits of a SHA-1 digest (its first 15 hex digits) as a number in [0, 1]."""
    return (int.from_bytes(digest[:8], "big") >> 4) / LONG_SCALE


def bucket(flag_key: str, targeting_key: str, salt: str = "") -> float:
    """The user's place in [0, 1] for this flag (``salt`` gives an independent one)."""
    return _point(hashlib.sha1(f"{flag_key}.{targeting_key}{salt}".encode(), usedforsecurity=False).digest())


def in_rollout(rollout: int, flag_key: str, targeting_key: str) -> bool:
    return rollout >= 100 or (rollout > 0 and bucket(flag_key, targeting_key) < rollout / 100)


Match = Callable[[Mapping[str, Any]], bool]
# Attribute values repeat from one evaluation to the next (the same app versions, the same users
# polling): their parsed forms are kept, so a condition parses each distinct value once.
_semver = functools.lru_cache(maxsize=4_096)(parse_semver)
_instant = functools.lru_cache(maxsize=4_096)(parse_instant)
REGEX_MEMO = 4_096  # distinct subjects whose regex answer a condition keeps


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and len(value) <= 64:
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _normal(value: Any) -> tuple[str, Any] | None:
    """A scalar with its kind, so that ``True`` never equals ``1`` and ``1`` equals ``1.0``."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value)
    return None


def _on_attribute(name: str, test: Callable[[Any], bool]) -> Match:
    """A condition on ``name``: never true when the context lacks it (or has it as ``null``)."""

    def match(context: Mapping[str, Any]) -> bool:
        actual = context.get(name)
        return actual is not None and test(actual)

    return match


def _regex_test(pattern: regex.Pattern[str]) -> Callable[[Any], bool]:
    """A bounded search (subject length, timeout); each distinct subject is searched once, so a
    value that timed out is not searched again either."""
    answers: dict[str, bool] = {}

    def search(actual: str) -> bool:
        try:
            return pattern.search(actual, timeout=REGEX_TIMEOUT_SECONDS) is not None
        except TimeoutError:
            return False

    def test(actual: Any) -> bool:
        if not isinstance(actual, str) or len(actual) > MAX_REGEX_SUBJECT:
            return False
        answer = answers.get(actual)
        if answer is None:
            if len(answers) >= REGEX_MEMO:
                answers.clear()
            answer = answers[actual] = search(actual)
        return answer

    return test


def compile_condition(condition: Condition) -> Match:  # noqa: PLR0911 - one branch per operator
    name, op, expected = condition.attribute, condition.op, condition.value

    if op is Operator.EQ and isinstance(expected, str):  # the common case, without the tuple

        def equals(context: Mapping[str, Any]) -> bool:
            actual = context.get(name)
            return isinstance(actual, str) and actual == expected

        return equals
    if op in (Operator.EQ, Operator.NEQ):
        wanted = _normal(expected)
        if op is Operator.EQ:
            return _on_attribute(name, lambda actual: _normal(actual) == wanted)
        return _on_attribute(name, lambda actual: (n := _normal(actual)) is not None and n != wanted)
    if op in (Operator.IN, Operator.NOT_IN):
        members = frozenset(_normal(item) for item in expected) if isinstance(expected, list) else frozenset()
        if op is Operator.IN:
            return _on_attribute(name, lambda actual: _normal(actual) in members)
        return _on_attribute(name, lambda actual: (n := _normal(actual)) is not None and n not in members)
    if op is Operator.CONTAINS:
        return _on_attribute(
            name,
            lambda actual: (
                (isinstance(actual, str) and isinstance(expected, str) and expected in actual)
                or (isinstance(actual, list) and expected in actual)
            ),
        )
    if op is Operator.STARTS_WITH:
        prefix = str(expected)
        return _on_attribute(name, lambda actual: isinstance(actual, str) and actual.startswith(prefix))
    if op in (Operator.GT, Operator.GTE, Operator.LT, Operator.LTE):
        limit = float(expected)  # type: ignore[arg-type]  # checked by the schema: a number
        compare: Callable[[float], bool] = {
            Operator.GT: lambda n: n > limit,
            Operator.GTE: lambda n: n >= limit,
            Operator.LT: lambda n: n < limit,
            Operator.LTE: lambda n: n <= limit,
        }[op]
        return _on_attribute(name, lambda actual: (n := _number(actual)) is not None and compare(n))
    if op.value.startswith("semver_"):
        version = parse_semver(str(expected))
        relation = op.value.removeprefix("semver_")
        tests: dict[str, Callable[[Any], bool]] = {
            "eq": lambda v: v == version,
            "gt": lambda v: v > version,
            "gte": lambda v: v >= version,
            "lt": lambda v: v < version,
            "lte": lambda v: v <= version,
        }
        test = tests[relation]
        return _on_attribute(
            name, lambda actual: isinstance(actual, str) and (v := _semver(actual)) is not None and test(v)
        )
    if op in (Operator.BEFORE, Operator.AFTER):
        parsed = parse_instant(expected)
        instant = parsed if parsed is not None else datetime.max.replace(tzinfo=UTC)  # checked by the schema
        if op is Operator.BEFORE:
            return _on_attribute(
                name,
                lambda actual: (
                    isinstance(actual, str) and (t := _instant(actual)) is not None and t < instant
                ),
            )
        return _on_attribute(
            name,
            lambda actual: isinstance(actual, str) and (t := _instant(actual)) is not None and t > instant,
        )
    if op is Operator.REGEX:
        return _on_attribute(name, _regex_test(regex.compile(str(expected))))
    raise AssertionError(f"unknown operator {op}")  # pragma: no cover


def _every(matches: Sequence[Match]) -> Match:
    """One test for a rule's conditions, all of which must hold (tried in order, stopping early)."""
    if len(matches) == 1:
        return matches[0]
    if len(matches) == 2:  # the most common rule after a single condition
        first, second = matches
        return lambda context: first(context) and second(context)

    def every(context: Mapping[str, Any]) -> bool:
        return all(match(context) for match in matches)

    return every


# A weighted split: each variant's cumulative weight as a fraction (the upper end of its share
# [previous upper, upper)) with the answer it gives, in the variants' order.
Split = tuple[tuple[float, Evaluation], ...]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    match: Match  # every condition of the rule
    rollout: int
    threshold: float  # rollout / 100: a user whose bucket is below it is in
    answer: Evaluation | None  # the same for everyone it matches; None: the flag's split decides


@dataclass(frozen=True, slots=True)
class CompiledFlag:
    """A definition made ready to evaluate: every answer that does not depend on the user is built
    once here, so an evaluation returns one of them (no object is created, nothing is looked up)."""

    key: str
    type: FlagType
    enabled: bool
    rollout: int
    rules: tuple[CompiledRule, ...]
    prefix: bytes  # f"{key}." encoded: what every bucket's digest starts with
    disabled: Evaluation
    fallback: Evaluation | None  # after the rules, when nobody is bucketed (rollout 0, or 100 for all)
    outside: Evaluation  # after the rules, for a user outside the flag's rollout
    split: Split  # after the rules, for a user inside it (reason SPLIT)
    targeted: Split  # for a rule without a variant of its own (reason TARGETING_MATCH)
    threshold: float  # rollout / 100

    @property
    def boolean(self) -> bool:
        return self.type is FlagType.BOOLEAN


def compile_flag(flag: FlagWrite) -> CompiledFlag:
    boolean = flag.type is FlagType.BOOLEAN
    payloads = {variant.key: variant.payload for variant in flag.variants}
    whole = next((variant.key for variant in flag.variants if variant.weight == 100), None)
    needs_key = not boolean and whole is None  # a split that buckets users

    def assign(variant: str, reason: Reason) -> Evaluation:
        if boolean:
            return Evaluation(flag.key, variant == ON, variant, reason, assigned=True)
        return Evaluation(flag.key, variant, variant, reason, assigned=True, payload=payloads.get(variant))

    def off(reason: Reason) -> Evaluation:
        if boolean:
            return Evaluation(flag.key, False, OFF, reason)
        first = flag.variants[0]
        return Evaluation(flag.key, first.key, first.key, reason, payload=first.payload)

    def split(reason: Reason) -> Split:
        if boolean:
            return ((1.0, assign(ON, reason)),)
        if whole is not None:  # a variant at 100 % needs no targeting key
            return ((1.0, assign(whole, reason)),)
        upper, shares = 0, []
        for variant in flag.variants:
            upper += variant.weight
            shares.append((upper / 100, assign(variant.key, reason)))
        return tuple(shares)

    targeted = split(Reason.TARGETING_MATCH)
    rules = []
    for rule in flag.rules:
        answer = None
        if rule.variant is not None:
            answer = assign(rule.variant, Reason.TARGETING_MATCH)
        elif not needs_key:
            answer = targeted[0][1]
        match = _every(tuple(compile_condition(condition) for condition in rule.conditions))
        rules.append(CompiledRule(match, rule.rollout, rule.rollout / 100, answer))
    everyone_alike = not flag.rules and flag.rollout in (0, 100) and not needs_key
    fallback = None
    if flag.rollout == 0:
        fallback = off(Reason.STATIC if everyone_alike else Reason.DEFAULT)
    elif flag.rollout == 100 and not needs_key:  # everyone
        fallback = split(Reason.STATIC if everyone_alike else Reason.DEFAULT)[0][1]
    return CompiledFlag(
        key=flag.key,
        type=flag.type,
        enabled=flag.enabled,
        rollout=flag.rollout,
        rules=tuple(rules),
        prefix=f"{flag.key}.".encode(),
        disabled=off(Reason.DISABLED),
        fallback=fallback,
        outside=off(Reason.DEFAULT),
        split=split(Reason.SPLIT),
        targeted=targeted,
        threshold=flag.rollout / 100,
    )


_KEY_MISSING = "this flag buckets users: send 'targetingKey' in the context"
_VARIANT_SALT = VARIANT_SALT.encode()


def _choose(flag: CompiledFlag, split: Split, key: bytes) -> Evaluation:
    """The variant of the weighted split for this user (``key``: the encoded targeting key)."""
    if len(split) == 1:
        return split[0][1]
    point = _point(hashlib.sha1(flag.prefix + key + _VARIANT_SALT, usedforsecurity=False).digest())
    for upper, answer in split:
        if point < upper:
            return answer
    return split[-1][1]  # the point 1.0 itself


def evaluate(flag: CompiledFlag | None, key: str, context: Any) -> Evaluation:  # noqa: PLR0911, PLR0912
    """The answer for ``context`` (an OpenFeature evaluation context: a JSON object)."""
    if flag is None:
        return failure(key, ErrorCode.FLAG_NOT_FOUND, f"no flag with the key '{key}'")
    if type(context) is not dict and not isinstance(context, Mapping):
        return failure(key, ErrorCode.INVALID_CONTEXT, "the context must be a JSON object")
    targeting_key = context.get(TARGETING_KEY)
    if targeting_key is not None and (not isinstance(targeting_key, str) or not targeting_key):
        return failure(key, ErrorCode.INVALID_CONTEXT, "'targetingKey' must be a non-empty string")
    if not flag.enabled:
        return flag.disabled
    encoded = None  # the targeting key's bytes, once a bucket needs them
    for rule in flag.rules:
        if not rule.match(context):
            continue
        if rule.rollout < 100:
            if targeting_key is None:
                return failure(key, ErrorCode.TARGETING_KEY_MISSING, _KEY_MISSING)
            if rule.rollout == 0:
                continue
            encoded = encoded or targeting_key.encode()
            digest = hashlib.sha1(flag.prefix + encoded, usedforsecurity=False).digest()
            if _point(digest) >= rule.threshold:
                continue  # outside this rule's rollout: on to the next rule
        if rule.answer is not None:
            return rule.answer
        if targeting_key is None:
            return failure(key, ErrorCode.TARGETING_KEY_MISSING, _KEY_MISSING)
        return _choose(flag, flag.targeted, encoded or targeting_key.encode())
    # Nobody matched a rule: the flag's own rollout (and, for multivariate flags, its split).
    if flag.fallback is not None:
        return flag.fallback
    if targeting_key is None:
        return failure(key, ErrorCode.TARGETING_KEY_MISSING, _KEY_MISSING)
    encoded = encoded or targeting_key.encode()
    if flag.rollout < 100:
        digest = hashlib.sha1(flag.prefix + encoded, usedforsecurity=False).digest()
        if _point(digest) >= flag.threshold:
            return flag.outside
    return _choose(flag, flag.split, encoded)


def expect_type(evaluation: Evaluation, wanted: type) -> Evaluation:
    """``TYPE_MISMATCH`` when a caller asks a boolean question of a multivariate flag, or back."""
    if evaluation.failed or isinstance(evaluation.value, wanted):
        return evaluation
    kind = "boolean" if wanted is bool else "multivariate"
    return failure(evaluation.key, ErrorCode.TYPE_MISMATCH, f"'{evaluation.key}' is not a {kind} flag")
