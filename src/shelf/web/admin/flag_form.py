"""The flag form: what an editor typed, the definition it makes, and the schema's errors by field.

Values stay as typed (strings), so a refused form comes back as it was sent. Variants and rules are
JSON in textareas (their shape is nested: conditions, payloads); a text that is not JSON is an error
on its own field with the line and column, and ``flags.schemas.FlagWrite`` decides the rest. Its
errors (``variants.1.weight``, ``rules.0.conditions.2.value``, or the whole flag's "weights must sum
to 100") are put next to the field they are about, in plain words.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from shelf.flags.schemas import FlagRead, FlagType, FlagWrite
from shelf.web.admin.rendering import sentence

FIELD_LIMIT = 100_000  # characters kept of any one field; the schema bounds rules and variants itself
TYPES = [(kind.value, kind.value.capitalize()) for kind in FlagType]
# The form's fields, in the order it shows them, with their labels.
LABELS = {
    "key": "Key",
    "description": "Description",
    "type": "Type",
    "enabled": "Enabled",
    "rollout": "Rollout",
    "variants": "Variants",
    "rules": "Rules",
}
FLAG_FIELDS = tuple(LABELS)
PLAIN = {
    "key": "Use 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.",
    "type": "Choose boolean or multivariate.",
    "rollout": "Enter the rollout as a whole number from 0 to 100.",
}


@dataclass
class FlagForm:
    key: str = ""
    description: str = ""
    type: str = FlagType.BOOLEAN.value
    enabled: str = "1"  # a checkbox: "1" when ticked, "" when not
    rollout: str = "0"
    variants: str = ""
    rules: str = ""
    version: str = ""  # the version the form was loaded at (edits only)

    @classmethod
    def from_flag(cls, flag: FlagRead) -> FlagForm:
        dumped = flag.model_dump(mode="json")
        return cls(
            key=flag.key,
            description=flag.description,
            type=flag.type.value,
            enabled="1" if flag.enabled else "",
            rollout=str(flag.rollout),
            variants=_json_text([_without_empty_payload(item) for item in dumped["variants"]]),
            rules=_json_text(dumped["rules"]),
            version=str(flag.version),
        )

    @classmethod
    def from_form(cls, form: FormData) -> FlagForm:
        values = {}
        for item in fields(cls):
            raw = form.get(item.name)
            values[item.name] = raw[:FIELD_LIMIT] if isinstance(raw, str) else ""
        values["enabled"] = "1" if values["enabled"] else ""
        return cls(**values)

    def payload(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The flag as the service takes it, and the errors of what could not even be read."""
        errors: dict[str, str] = {}
        variants = _json_list(self.variants, "variants", errors)
        rules = _json_list(self.rules, "rules", errors)
        rollout: int | str = self.rollout.strip()
        if isinstance(rollout, str) and rollout.isdecimal() and len(rollout) < 4:
            rollout = int(rollout)
        payload = {
            "key": self.key.strip(),
            "description": self.description.replace("\r\n", "\n"),
            "type": self.type,
            "enabled": self.enabled == "1",
            "rollout": rollout,
            "variants": variants,
            "rules": rules,
        }
        return payload, errors

    @property
    def loaded_version(self) -> int | None:
        return int(self.version) if self.version.isdecimal() and len(self.version) < 10 else None

    def differences(self, latest: FlagForm) -> dict[str, str]:
        """The fields where ``latest`` (saved by someone else) differs from what is in this form."""
        mine, theirs = asdict(self), asdict(latest)
        shown = {"enabled": lambda value: "on" if value else "off"}
        return {
            name: shown.get(name, str)(theirs[name]) or "(empty)"
            for name in FLAG_FIELDS
            if name != "key" and _normal(name, mine[name]) != _normal(name, theirs[name])
        }


def _json_text(value: list[Any]) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) if value else ""


def _without_empty_payload(variant: dict[str, Any]) -> dict[str, Any]:
    return {key: item for key, item in variant.items() if key != "payload" or item is not None}


def _json_list(text: str, field: str, errors: dict[str, str]) -> Any:
    if not text.strip():
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as broken:
        errors[field] = f"This is not JSON: line {broken.lineno}, column {broken.colno}: {broken.msg}."
        return []
    if not isinstance(value, list):
        errors[field] = "Write a JSON list, in square brackets: [ ... ]."
        return []
    return value


def _normal(name: str, value: str) -> str:
    value = value.replace("\r\n", "\n").strip()
    if name in ("variants", "rules"):
        try:
            return json.dumps(json.loads(value or "[]"), sort_keys=True)
        except json.JSONDecodeError:
            return value
    return value


def _place(location: list[str]) -> str:
    """``["variants", "1", "weight"]`` → ``"Variant 2, weight"``; ``rules.0.conditions.2.value`` →
    ``"Rule 1, condition 3, value"``."""
    words = []
    index = 0
    while index < len(location):
        part = location[index]
        following = location[index + 1] if index + 1 < len(location) else None
        if following is not None and following.isdecimal():
            words.append(f"{part.removesuffix('s')} {int(following) + 1}")
            index += 2
        else:
            words.append(part)
            index += 1
    text = ", ".join(words)
    return text[:1].upper() + text[1:]


def field_errors(error: ValidationError) -> dict[str, str]:
    """The schema's errors by form field, in plain words; the first error of a field wins."""
    found: dict[str, str] = {}
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        message = str(item["msg"]).removeprefix("Value error, ")
        if not location:  # the whole flag: its variants, or a rule naming a variant it lacks
            name = "rules" if message.startswith("rule ") else "variants"
        else:
            name = location[0] if location[0] in LABELS else "key"
            if name in PLAIN:
                message = PLAIN[name]
            elif len(location) > 1:
                message = f"{_place(location)}: {message}"
        found.setdefault(name, sentence(message))
    return found


def schema_errors(payload: dict[str, Any], known: dict[str, str]) -> dict[str, str]:
    """The schema's errors of a form that cannot go to the service yet (``known`` are its own),
    so that one round trip shows every field that needs fixing."""
    try:
        FlagWrite.model_validate(payload)
    except ValidationError as invalid:
        return {name: message for name, message in field_errors(invalid).items() if name not in known}
    return {}


def in_form_order(errors: dict[str, str]) -> dict[str, str]:
    order = {name: place for place, name in enumerate(FLAG_FIELDS)}
    return dict(sorted(errors.items(), key=lambda item: order.get(item[0], len(order))))


PREVIEW_LIMIT = 10_000  # characters of a preview's context attributes


@dataclass
class PreviewForm:
    """The "evaluate for this context" form: a targeting key and the other attributes as JSON."""

    targeting_key: str = ""
    attributes: str = ""

    @classmethod
    def from_query(cls, query: Any) -> PreviewForm:
        return cls(
            targeting_key=str(query.get("targeting_key") or "")[:PREVIEW_LIMIT],
            attributes=str(query.get("attributes") or "")[:PREVIEW_LIMIT],
        )

    def context(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The OpenFeature evaluation context, and the errors that keep it from being one."""
        errors: dict[str, str] = {}
        attributes: Any = {}
        if self.attributes.strip():
            try:
                attributes = json.loads(self.attributes)
            except json.JSONDecodeError as broken:
                errors["attributes"] = (
                    f"This is not JSON: line {broken.lineno}, column {broken.colno}: {broken.msg}."
                )
                attributes = {}
        if not isinstance(attributes, dict):
            errors["attributes"] = 'Write a JSON object, in braces, such as {"country": "NO"}.'
            attributes = {}
        context = dict(attributes)
        if self.targeting_key.strip():
            context["targetingKey"] = self.targeting_key.strip()
        return context, errors
