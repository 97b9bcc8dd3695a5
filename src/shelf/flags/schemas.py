"""API shapes of flags: what editors send (``FlagWrite``), what everyone reads (``FlagRead``).

Every rule of a valid flag is checked here, once, so the evaluation engine never meets a bad one:
the key's pattern, weights that sum to 100, a rule's fixed variant that exists, and each
condition's value of the type its operator needs (a list for ``in``, a number for ``gt``, a
semantic version for ``semver_*``, an ISO 8601 time for ``before``/``after``, a bounded regular
expression that compiles for ``regex``).
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from typing import Annotated, Any

import regex
from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator

from shelf.flags.semver import parse_semver

KEY_PATTERN = r"[a-z0-9][a-z0-9._-]{0,63}"
KEY = re.compile(KEY_PATTERN)
VARIANT_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
MAX_DESCRIPTION = 1_000
MAX_VARIANTS = 20
MAX_RULES = 50
MAX_CONDITIONS = 20
MAX_LIST_VALUES = 500
MAX_STRING_VALUE = 500
MAX_PATTERN = 200  # characters of a regex condition's pattern
BOOLEAN_VARIANTS = ("on", "off")  # the two variants of a boolean flag (value true and false)

FlagKey = Annotated[str, StringConstraints(pattern=rf"^{KEY_PATTERN}$")]
VariantKey = Annotated[str, StringConstraints(pattern=rf"^{VARIANT_PATTERN}$")]
Attribute = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Percent = Annotated[int, Field(ge=0, le=100)]


class FlagType(enum.StrEnum):
    BOOLEAN = "boolean"
    MULTIVARIATE = "multivariate"


class Operator(enum.StrEnum):
    EQ = "eq"
    NEQ = "neq"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    SEMVER_EQ = "semver_eq"
    SEMVER_GT = "semver_gt"
    SEMVER_GTE = "semver_gte"
    SEMVER_LT = "semver_lt"
    SEMVER_LTE = "semver_lte"
    BEFORE = "before"
    AFTER = "after"
    REGEX = "regex"


NUMERIC = frozenset({Operator.GT, Operator.GTE, Operator.LT, Operator.LTE})
SEMVER = frozenset(
    {Operator.SEMVER_EQ, Operator.SEMVER_GT, Operator.SEMVER_GTE, Operator.SEMVER_LT, Operator.SEMVER_LTE}
)
DATES = frozenset({Operator.BEFORE, Operator.AFTER})
LISTS = frozenset({Operator.IN, Operator.NOT_IN})
STRINGS = frozenset({Operator.CONTAINS, Operator.STARTS_WITH, Operator.REGEX})


def _scalar(value: Any) -> bool:
    return (isinstance(value, str) and len(value) <= MAX_STRING_VALUE) or isinstance(
        value, bool | int | float
    )


def parse_instant(value: Any) -> datetime | None:
    """An ISO 8601 date or time as an aware UTC datetime (a naive one is taken as UTC), or None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class Condition(BaseModel):
    """``attribute`` of the evaluation context, compared with ``value`` by ``op``."""

    model_config = ConfigDict(extra="forbid")

    attribute: Attribute
    op: Operator
    value: JsonValue

    @model_validator(mode="after")
    def _value_fits_the_operator(self) -> Condition:  # noqa: PLR0912 - one branch per operator
        op, value = self.op, self.value
        if op in LISTS:
            if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST_VALUES:
                raise ValueError(f"'{op}' needs a list of 1 to {MAX_LIST_VALUES} values")
            if not all(_scalar(item) for item in value):
                raise ValueError(f"'{op}' compares strings, numbers or booleans")
        elif op in NUMERIC:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"'{op}' needs a number")
        elif op in SEMVER:
            if not isinstance(value, str) or parse_semver(value) is None:
                raise ValueError(f"'{op}' needs a semantic version such as 1.4.0")
        elif op in DATES:
            if parse_instant(value) is None:
                raise ValueError(f"'{op}' needs an ISO 8601 date or time such as 2026-12-24T00:00:00Z")
        elif op is Operator.REGEX:
            if not isinstance(value, str) or not 1 <= len(value) <= MAX_PATTERN:
                raise ValueError(f"'regex' needs a pattern of 1 to {MAX_PATTERN} characters")
            try:
                regex.compile(value)
            except regex.error as error:
                raise ValueError(f"'regex' pattern does not compile: {error}") from None
        elif op in STRINGS:
            if not isinstance(value, str) or not 1 <= len(value) <= MAX_STRING_VALUE:
                raise ValueError(f"'{op}' needs a string of 1 to {MAX_STRING_VALUE} characters")
        elif not _scalar(value):  # eq, neq
            raise ValueError(f"'{op}' compares with a string, a number or a boolean")
        return self


class Rule(BaseModel):
    """Users whose context matches every condition get ``variant`` (or the flag's split), for
    ``rollout`` percent of them; the others go on to the next rule."""

    model_config = ConfigDict(extra="forbid")

    conditions: Annotated[list[Condition], Field(min_length=1, max_length=MAX_CONDITIONS)]
    rollout: Percent = 100
    variant: VariantKey | None = None


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: VariantKey
    weight: Percent
    payload: JsonValue = None


class FlagWrite(BaseModel):
    """A whole flag, as a client sends it to create one and as a merge patch results in."""

    model_config = ConfigDict(extra="forbid")

    key: FlagKey
    description: Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION, strip_whitespace=True)] = ""
    type: FlagType = FlagType.BOOLEAN
    enabled: bool = True
    rollout: Percent = 0
    variants: Annotated[list[Variant], Field(max_length=MAX_VARIANTS)] = Field(default_factory=list)
    rules: Annotated[list[Rule], Field(max_length=MAX_RULES)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> FlagWrite:
        if self.type is FlagType.BOOLEAN:
            if self.variants:
                raise ValueError("a boolean flag has no variants of its own: its variants are 'on' and 'off'")
            allowed: tuple[str, ...] = BOOLEAN_VARIANTS
        else:
            if len(self.variants) < 2:
                raise ValueError("a multivariate flag needs at least 2 variants")
            keys = [variant.key for variant in self.variants]
            if len(set(keys)) != len(keys):
                raise ValueError("variant keys must be unique")
            if sum(variant.weight for variant in self.variants) != 100:
                raise ValueError("variant weights must sum to 100")
            allowed = tuple(keys)
        for index, rule in enumerate(self.rules):
            if rule.variant is not None and rule.variant not in allowed:
                raise ValueError(
                    f"rule {index + 1} names variant '{rule.variant}', not one of {list(allowed)}"
                )
        return self

    @property
    def fully_rolled_out(self) -> bool:
        """One answer for everyone (no rules, 100 %, one variant at 100 % if multivariate): nothing
        is left to decide, so the flag can become code."""
        whole = self.type is FlagType.BOOLEAN or any(variant.weight == 100 for variant in self.variants)
        return self.enabled and self.rollout == 100 and not self.rules and whole


class FlagRead(BaseModel):
    key: str
    description: str
    type: FlagType
    enabled: bool
    rollout: int
    variants: list[Variant]
    rules: list[Rule]
    version: int
    created_at: datetime
    updated_at: datetime
    updated_by: str
    last_evaluated_at: datetime | None
    stale: bool
    stale_reason: str | None = Field(
        description="'not_evaluated' (no evaluation for 30 days) or 'fully_rolled_out' "
        "(one answer for everyone for 30 days)"
    )


class FlagList(BaseModel):
    items: list[FlagRead]
