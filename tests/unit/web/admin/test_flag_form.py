"""The flag form: typed text to the definition the service takes, and the schema's errors back to
the field they are about, in words an editor reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shelf.flags.schemas import FlagRead, FlagWrite
from shelf.web.admin.flag_form import FlagForm, PreviewForm, field_errors, schema_errors

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def errors_of(payload: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ValidationError) as refused:
        FlagWrite.model_validate(payload)
    return field_errors(refused.value)


def test_a_stored_flag_reads_back_into_the_same_definition() -> None:
    definition = FlagWrite.model_validate(
        {
            "key": "layout",
            "description": "Which layout",
            "type": "multivariate",
            "enabled": False,
            "rollout": 40,
            "variants": [{"key": "a", "weight": 50, "payload": {"x": 1}}, {"key": "b", "weight": 50}],
            "rules": [{"conditions": [{"attribute": "plan", "op": "in", "value": ["pro"]}], "variant": "b"}],
        }
    )
    stored = FlagRead(
        **definition.model_dump(),
        version=3,
        created_at=NOW,
        updated_at=NOW,
        updated_by="someone",
        last_evaluated_at=None,
        stale=False,
        stale_reason=None,
    )
    form = FlagForm.from_flag(stored)
    assert (form.enabled, form.rollout, form.version) == ("", "40", "3")
    assert form.variants.count('"payload"') == 1  # a's, none for b
    payload, errors = form.payload()
    assert errors == {}
    assert FlagWrite.model_validate(payload) == definition


def test_text_that_is_not_a_json_list_is_an_error_of_its_own_field() -> None:
    form = FlagForm(key="k", type="multivariate", variants='[{"key": "a",', rules='{"conditions": []}')
    payload, errors = form.payload()
    assert errors["variants"].startswith("This is not JSON: line 1, column 14:")
    assert errors["rules"] == "Write a JSON list, in square brackets: [ ... ]."
    assert schema_errors(payload, errors) == {}  # the variants' own error is not repeated


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"key": "Bad Key"}, "key", "Use 1 to 64 lower-case letters"),
        ({"key": "k", "rollout": 101}, "rollout", "Enter the rollout as a whole number from 0 to 100."),
        ({"key": "k", "rollout": "ten"}, "rollout", "Enter the rollout as a whole number from 0 to 100."),
        ({"key": "k", "type": "percent"}, "type", "Choose boolean or multivariate."),
        (
            {"key": "k", "variants": [{"key": "a", "weight": 100}]},
            "variants",
            "A boolean flag has no variants",
        ),
        (
            {
                "key": "k",
                "type": "multivariate",
                "variants": [{"key": "a", "weight": 60}, {"key": "b", "weight": 50}],
            },
            "variants",
            "Variant weights must sum to 100.",
        ),
        (
            {
                "key": "k",
                "type": "multivariate",
                "variants": [{"key": "a", "weight": 50}, {"key": "b", "weight": 500}],
            },
            "variants",
            "Variant 2, weight: Input should be less than or equal to 100.",
        ),
        (
            {"key": "k", "rules": [{"conditions": [{"attribute": "age", "op": "gt", "value": "old"}]}]},
            "rules",
            "Rule 1, condition 1: 'gt' needs a number.",
        ),
        (
            {
                "key": "k",
                "rules": [{"conditions": [{"attribute": "a", "op": "eq", "value": 1}], "variant": "x"}],
            },
            "rules",
            "Rule 1 names variant 'x', not one of ['on', 'off'].",
        ),
    ],
)
def test_each_schema_error_lands_on_its_field(payload: dict[str, object], field: str, message: str) -> None:
    found = errors_of(payload)
    assert list(found) == [field]
    assert found[field].startswith(message)


def test_differences_name_the_fields_someone_else_changed() -> None:
    mine = FlagForm(key="k", rollout="20", variants="", rules='[{"conditions": []}]')
    theirs = FlagForm(key="k", rollout="30", enabled="", rules='[ {"conditions":[]} ]')
    assert mine.differences(theirs) == {"rollout": "30", "enabled": "off"}  # the same JSON is the same


def test_the_preview_context_is_the_attributes_with_the_targeting_key() -> None:
    form = PreviewForm(targeting_key=" user-1 ", attributes='{"country": "NO", "targetingKey": "x"}')
    assert form.context() == ({"country": "NO", "targetingKey": "user-1"}, {})
    assert PreviewForm().context() == ({}, {})
    assert "attributes" in PreviewForm(attributes="[1]").context()[1]
    assert PreviewForm(attributes="{").context()[1]["attributes"].startswith("This is not JSON")
