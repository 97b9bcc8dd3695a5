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


def bucket(flag_key: str, targeting_key: str, salt: str = "") -> float:
    """The user's place in [0, 1] for this flag (``salt`` gives an independent one)."""
    digest = hashlib.sha1(f"{flag_key}.{targeting_key}{salt}".encode(), usedforsecurity=False)
    return int(digest.hexdigest()[:15], 16) / LONG_SCALE


def in_rollout(rollout: int, flag_key: str, targeting_key: str) -> bool:
    return rollout >= 100 or (rollout > 0 and bucket(flag_key, targeting_key) < rollout / 100)


Match = Callable[[Mapping[str, Any]], bool]


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


def compile_condition(condition: Condition) -> Match:  # noqa: PLR0911 - one branch per operator
    name, op, expected = condition.attribute, condition.op, condition.value
    missing = object()

    def on_attribute(test: Callable[[Any], bool]) -> Match:
        def match(context: Mapping[str, Any]) -> bool:
            actual = context.get(name, missing)
            return actual is not missing and actual is not None and test(actual)

        return match

    if op in (Operator.EQ, Operator.NEQ):
        wanted = _normal(expected)
        if op is Operator.EQ:
            return on_attribute(lambda actual: _normal(actual) == wanted)
        return on_attribute(lambda actual: (n := _normal(actual)) is not None and n != wanted)
    if op in (Operator.IN, Operator.NOT_IN):
        members = frozenset(_normal(item) for item in expected) if isinstance(expected, list) else frozenset()
        if op is Operator.IN:
            return on_attribute(lambda actual: _normal(actual) in members)
        return on_attribute(lambda actual: (n := _normal(actual)) is not None and n not in members)
    if op is Operator.CONTAINS:
        return on_attribute(
            lambda actual: (
                (isinstance(actual, str) and isinstance(expected, str) and expected in actual)
                or (isinstance(actual, list) and expected in actual)
            )
        )
    if op is Operator.STARTS_WITH:
        prefix = str(expected)
        return on_attribute(lambda actual: isinstance(actual, str) and actual.startswith(prefix))
    if op in (Operator.GT, Operator.GTE, Operator.LT, Operator.LTE):
        limit = float(expected)  # type: ignore[arg-type]  # checked by the schema: a number
        compare: Callable[[float], bool] = {
            Operator.GT: lambda n: n > limit,
            Operator.GTE: lambda n: n >= limit,
            Operator.LT: lambda n: n < limit,
            Operator.LTE: lambda n: n <= limit,
        }[op]
        return on_attribute(lambda actual: (n := _number(actual)) is not None and compare(n))
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
        return on_attribute(
            lambda actual: isinstance(actual, str) and (v := parse_semver(actual)) is not None and test(v)
        )
    if op in (Operator.BEFORE, Operator.AFTER):
        parsed = parse_instant(expected)
        instant = parsed if parsed is not None else datetime.max.replace(tzinfo=UTC)  # checked by the schema
        if op is Operator.BEFORE:
            return on_attribute(lambda actual: (t := parse_instant(actual)) is not None and t < instant)
        return on_attribute(lambda actual: (t := parse_instant(actual)) is not None and t > instant)
    if op is Operator.REGEX:
        pattern = regex.compile(str(expected))

        def matches(actual: Any) -> bool:
            if not isinstance(actual, str) or len(actual) > MAX_REGEX_SUBJECT:
                return False
            try:
                return pattern.search(actual, timeout=REGEX_TIMEOUT_SECONDS) is not None
            except TimeoutError:
                return False

        return on_attribute(matches)
    raise AssertionError(f"unknown operator {op}")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class CompiledVariant:
    key: str
    upper: float  # the variant's cumulative weight, as a fraction: [previous upper, upper)
    payload: JsonValue


@dataclass(frozen=True, slots=True)
class CompiledRule:
    matches: Sequence[Match]
    rollout: int
    variant: str | None


@dataclass(frozen=True, slots=True)
class CompiledFlag:
    key: str
    type: FlagType
    enabled: bool
    rollout: int
    variants: tuple[CompiledVariant, ...]
    rules: tuple[CompiledRule, ...]
    payloads: Mapping[str, JsonValue]
    whole_variant: str | None  # the variant weighted 100 %, which needs no targeting key

    @property
    def boolean(self) -> bool:
        return self.type is FlagType.BOOLEAN


def compile_flag(flag: FlagWrite) -> CompiledFlag:
    upper = 0
    variants = []
    for variant in flag.variants:
        upper += variant.weight
        variants.append(CompiledVariant(variant.key, upper / 100, variant.payload))
    rules = tuple(
        CompiledRule(tuple(compile_condition(c) for c in rule.conditions), rule.rollout, rule.variant)
        for rule in flag.rules
    )
    return CompiledFlag(
        key=flag.key,
        type=flag.type,
        enabled=flag.enabled,
        rollout=flag.rollout,
        variants=tuple(variants),
        rules=rules,
        payloads={variant.key: variant.payload for variant in flag.variants},
        whole_variant=next((variant.key for variant in flag.variants if variant.weight == 100), None),
    )


def _off(flag: CompiledFlag, reason: Reason) -> Evaluation:
    if flag.boolean:
        return Evaluation(flag.key, False, OFF, reason)
    first = flag.variants[0]
    return Evaluation(flag.key, first.key, first.key, reason, payload=first.payload)


def _assign(flag: CompiledFlag, variant: str, reason: Reason) -> Evaluation:
    if flag.boolean:
        return Evaluation(flag.key, variant == ON, variant, reason, assigned=True)
    return Evaluation(flag.key, variant, variant, reason, assigned=True, payload=flag.payloads.get(variant))


def _split_needs_key(flag: CompiledFlag) -> bool:
    return not flag.boolean and flag.whole_variant is None


def split_variant(flag: CompiledFlag, targeting_key: str | None) -> str:
    """The variant of the weighted split for this user (a variant at 100 % needs no key)."""
    if flag.whole_variant is not None:
        return flag.whole_variant
    if targeting_key is None:  # pragma: no cover - callers ask for a key first
        raise ValueError("a split needs a targeting key")
    point = bucket(flag.key, targeting_key, VARIANT_SALT)
    for variant in flag.variants:
        if point < variant.upper:
            return variant.key
    return flag.variants[-1].key  # the point 1.0 itself


_KEY_MISSING = "this flag buckets users: send 'targetingKey' in the context"


def evaluate(flag: CompiledFlag | None, key: str, context: Any) -> Evaluation:  # noqa: PLR0911, PLR0912
    """The answer for ``context`` (an OpenFeature evaluation context: a JSON object)."""
    if flag is None:
        return failure(key, ErrorCode.FLAG_NOT_FOUND, f"no flag with the key '{key}'")
    if not isinstance(context, Mapping):
        return failure(key, ErrorCode.INVALID_CONTEXT, "the context must be a JSON object")
    targeting_key = context.get(TARGETING_KEY)
    if targeting_key is not None and (not isinstance(targeting_key, str) or not targeting_key):
        return failure(key, ErrorCode.INVALID_CONTEXT, "'targetingKey' must be a non-empty string")
    if not flag.enabled:
        return _off(flag, Reason.DISABLED)
    for rule in flag.rules:
        if not all(match(context) for match in rule.matches):
            continue
        if rule.rollout < 100:
            if targeting_key is None:
                return failure(key, ErrorCode.TARGETING_KEY_MISSING, _KEY_MISSING)
            if not in_rollout(rule.rollout, flag.key, targeting_key):
                continue
        if rule.variant is not None:
            return _assign(flag, rule.variant, Reason.TARGETING_MATCH)
        if flag.boolean:
            return _assign(flag, ON, Reason.TARGETING_MATCH)
        if targeting_key is None and _split_needs_key(flag):
            return failure(key, ErrorCode.TARGETING_KEY_MISSING, _KEY_MISSING)
        return _assign(flag, split_variant(flag, targeting_key), Reason.TARGETING_MATCH)
    # Nobody matched a rule: the flag's own rollout (and, for multivariate flags, its split).
    everyone_alike = not flag.rules and flag.rollout in (0, 100) and not _split_needs_key(flag)
    if flag.rollout == 0:
        return _off(flag, Reason.STATIC if everyone_alike else Reason.DEFAULT)
    if flag.rollout < 100 or _split_needs_key(flag):
        if targeting_key is None:
            return failure(key, ErrorCode.TARGETING_KEY_MISSING, _KEY_MISSING)
        if not in_rollout(flag.rollout, flag.key, targeting_key):
            return _off(flag, Reason.DEFAULT)
        variant = ON if flag.boolean else split_variant(flag, targeting_key)
        return _assign(flag, variant, Reason.SPLIT)
    variant = ON if flag.boolean else split_variant(flag, None)
    return _assign(flag, variant, Reason.STATIC if everyone_alike else Reason.DEFAULT)


def expect_type(evaluation: Evaluation, wanted: type) -> Evaluation:
    """``TYPE_MISMATCH`` when a caller asks a boolean question of a multivariate flag, or back."""
    if evaluation.failed or isinstance(evaluation.value, wanted):
        return evaluation
    kind = "boolean" if wanted is bool else "multivariate"
    return failure(evaluation.key, ErrorCode.TYPE_MISMATCH, f"'{evaluation.key}' is not a {kind} flag")
