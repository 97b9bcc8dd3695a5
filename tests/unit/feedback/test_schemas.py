"""Validation of feedback, with properties over every rating, length and variant bound."""

from __future__ import annotations

import string
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shelf.feedback.schemas import (
    MAX_TEXT,
    MAX_VARIANTS,
    AppFeedbackSubmission,
    FeedbackQuery,
    FeedbackSubmission,
    bounded_variants,
    clean_text,
    user_agent_of,
)
from shelf.feedback.service import average_of, weekly_trend

# Text people type: letters, digits, punctuation, spaces, line breaks, a few non-ASCII letters.
typed = st.text(
    alphabet=st.sampled_from(string.ascii_letters + string.digits + " .,!?'\n\téüß€"), max_size=2500
)
flag_keys = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}", fullmatch=True)


def fields(error: ValidationError) -> set[str]:
    return {".".join(str(part) for part in item["loc"]) for item in error.errors()}


@given(st.integers(min_value=-1000, max_value=1000))
def test_a_rating_is_accepted_exactly_from_1_to_5(rating: int) -> None:
    if 1 <= rating <= 5:
        assert FeedbackSubmission.model_validate({"rating": rating}).rating == rating
    else:
        with pytest.raises(ValidationError) as refused:
            FeedbackSubmission.model_validate({"rating": rating})
        assert fields(refused.value) == {"rating"}


@pytest.mark.parametrize("rating", [True, False, 4.0, 4.5, "4", None, [4], {"value": 4}])
def test_a_rating_is_a_json_integer_nothing_else(rating: object) -> None:
    with pytest.raises(ValidationError):
        FeedbackSubmission.model_validate({"rating": rating})


@given(typed)
def test_text_is_trimmed_counted_once_per_line_break_and_bounded(raw: str) -> None:
    sent = raw.replace("\n", "\r\n")  # as a browser posts a textarea
    expected = clean_text(raw)
    if len(expected) <= MAX_TEXT:
        assert FeedbackSubmission.model_validate({"rating": 3, "text": sent}).text == expected
        assert expected == expected.strip()
        assert "\r" not in expected
    else:
        with pytest.raises(ValidationError) as refused:
            FeedbackSubmission.model_validate({"rating": 3, "text": sent})
        assert fields(refused.value) == {"text"}


@given(st.characters(min_codepoint=0, max_codepoint=0x9F).filter(lambda c: c < " " or c >= "\x7f"))
def test_control_characters_other_than_line_breaks_and_tabs_are_refused(control: str) -> None:
    text = f"before{control}after"
    if control in "\n\t\r":
        assert FeedbackSubmission.model_validate({"rating": 3, "text": text}).text == text.replace("\r", "\n")
        return
    with pytest.raises(ValidationError):
        FeedbackSubmission.model_validate({"rating": 3, "text": text})


@pytest.mark.parametrize(
    ("email", "kept"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada.Lovelace+shop@mail.example.co.uk ", "Ada.Lovelace+shop@mail.example.co.uk"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_an_email_is_optional(email: str | None, kept: str | None) -> None:
    assert FeedbackSubmission.model_validate({"rating": 3, "email": email}).email == kept


@pytest.mark.parametrize(
    "email", ["ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@-x.com", "a@b@c.com", 5]
)
def test_a_malformed_email_is_refused(email: object) -> None:
    with pytest.raises(ValidationError) as refused:
        FeedbackSubmission.model_validate({"rating": 3, "email": email})
    assert fields(refused.value) == {"email"}


def test_an_email_is_at_most_254_characters() -> None:
    local = "a" * 64
    domain = ".".join(["b" * 60] * 4) + ".com"
    with pytest.raises(ValidationError):
        FeedbackSubmission.model_validate({"rating": 3, "email": f"{local}@{domain}"})


@pytest.mark.parametrize("page", ["/", "/products?q=scarf", "/products/1/scarf#reviews", " /cart "])
def test_a_page_is_a_path_on_the_site(page: str) -> None:
    assert FeedbackSubmission.model_validate({"rating": 3, "page": page}).page == page.strip()


@pytest.mark.parametrize(
    "page", ["products", "https://evil.example/", "//evil.example/x", "/\\evil", "/a\x00b", "/" + "p" * 512]
)
def test_anything_else_is_not_a_page(page: str) -> None:
    with pytest.raises(ValidationError) as refused:
        FeedbackSubmission.model_validate({"rating": 3, "page": page})
    assert fields(refused.value) == {"page"}


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        FeedbackSubmission.model_validate({"rating": 3, "stars": 5})
    assert fields(refused.value) == {"stars"}


@given(st.dictionaries(flag_keys, st.text(min_size=1, max_size=100).filter(str.isprintable), max_size=60))
def test_variants_an_app_sends_are_accepted_within_their_bounds(variants: dict[str, str]) -> None:
    body = {"rating": 3, "distinct_id": "u", "variants": variants}
    if len(variants) <= MAX_VARIANTS:
        assert AppFeedbackSubmission.model_validate(body).variants == variants
    else:
        with pytest.raises(ValidationError):
            AppFeedbackSubmission.model_validate(body)


@pytest.mark.parametrize(
    "variants",
    [
        {"": "on"},
        {"-flag": "on"},
        {"a b": "on"},
        {"k" * 101: "on"},
        {"k": ""},
        {"k": "v" * 101},
        {"k": 1},
        [],
    ],
)
def test_malformed_variants_are_refused(variants: object) -> None:
    with pytest.raises(ValidationError) as refused:
        AppFeedbackSubmission.model_validate({"rating": 3, "distinct_id": "u", "variants": variants})
    assert fields(refused.value) == {"variants"}


@given(st.dictionaries(st.text(max_size=120), st.one_of(st.text(max_size=120), st.integers()), max_size=80))
def test_a_providers_variants_are_bounded_whatever_it_says(found: dict[str, object]) -> None:
    kept = bounded_variants(found)
    assert len(kept) <= MAX_VARIANTS
    assert all(found[key] == value for key, value in kept.items())
    AppFeedbackSubmission.model_validate({"rating": 3, "distinct_id": "u", "variants": kept})


@given(st.text(max_size=1000))
def test_a_user_agent_is_printable_and_at_most_256_characters(raw: str) -> None:
    kept = user_agent_of(raw)
    assert kept is None or (0 < len(kept) <= 256 and all(ord(c) >= 32 and c != "\x7f" for c in kept))


@given(st.dictionaries(st.integers(1, 5), st.integers(0, 10_000)))
def test_the_average_is_exact_to_two_places(counts: dict[int, int]) -> None:
    average = average_of(counts)
    total = sum(counts.values())
    if not total:
        assert average is None
        return
    assert average is not None
    exact = sum(r * n for r, n in counts.items()) / total
    assert abs(float(average) - exact) <= 0.005 + 1e-12
    assert len(average.split(".")[1]) == 2


def test_the_average_rounds_half_up() -> None:
    assert average_of({5: 1, 4: 1, 3: 1, 2: 1, 1: 4}) == "2.25"  # 18 / 8
    assert average_of({5: 1, 4: 2}) == "4.33"
    assert average_of({5: 2, 4: 1}) == "4.67"
    assert average_of({1: 1, 2: 7}) == "1.88"  # 15 / 8 = 1.875


def test_the_weekly_trend_folds_days_into_iso_weeks_and_keeps_empty_ones() -> None:
    today = date(2026, 12, 3)  # a Thursday; its week starts on Monday 30 November
    daily = [
        (date(2026, 11, 30), 5, 2),
        (date(2026, 12, 3), 1, 1),
        (date(2026, 11, 22), 4, 3),
        (date(2026, 1, 1), 5, 9),
    ]
    weeks = weekly_trend(daily, weeks=3, today=today)
    assert [(w.week_start, w.count, w.average) for w in weeks] == [
        (date(2026, 11, 16), 3, "4.00"),  # Sunday 22 November belongs to the week of the 16th
        (date(2026, 11, 23), 0, None),
        (date(2026, 11, 30), 3, "3.67"),
    ]
    assert all(w.week_start.weekday() == 0 for w in weeks)
    assert weeks[-1].week_start + timedelta(days=6) >= today


def test_query_filters_must_agree() -> None:
    for params in ({"rating": 3, "rating_max": 4}, {"rating_min": 5, "rating_max": 1}, {"limit": 0}):
        with pytest.raises(ValidationError):
            FeedbackQuery.model_validate(params)
    assert FeedbackQuery.model_validate({"q": "   "}).q is None
    naive = FeedbackQuery.model_validate({"since": "2026-01-01T00:00:00"})
    assert naive.since is not None
    assert naive.since.utcoffset() == timedelta(0)
