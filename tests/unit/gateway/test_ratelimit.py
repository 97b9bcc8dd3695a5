"""Rate-limit policies: parsing the settings, choosing a route group, naming the caller."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from shelf.gateway.ratelimit import RoutePolicies, caller_of, rate_limit_headers
from shelf.identity.permissions import ANONYMOUS, Principal, Role
from shelf.platform.ratelimit import Decision, RatePolicy
from shelf.settings import Settings


@pytest.mark.parametrize(
    ("rate", "quota", "window"),
    [("10/second", 10, 1), ("120/minute", 120, 60), ("5/hour", 5, 3600), ("1000/day", 1000, 86400)],
)
def test_rates_parse_into_a_quota_per_window(rate: str, quota: int, window: int) -> None:
    policy = RatePolicy.parse("reads", rate)
    assert (policy.quota, policy.window_seconds) == (quota, window)
    assert policy.refill_per_second == pytest.approx(quota / window)


@pytest.mark.parametrize(
    "rate", ["0/minute", "120", "120/fortnight", "ten/minute", "-1/second", "1.5/second", ""]
)
def test_nonsense_rates_are_refused_by_the_parser_and_by_the_settings(rate: str) -> None:
    with pytest.raises(ValueError, match=r"rate|quota"):
        RatePolicy.parse("reads", rate)
    with pytest.raises(ValidationError, match="rate_limit_writes"):
        Settings(rate_limit_writes=rate)


def test_policy_names_must_fit_in_a_header() -> None:
    with pytest.raises(ValueError, match="name"):
        RatePolicy(name='bad"name', quota=1, window_seconds=1)


def test_the_defaults_are_valid_policies() -> None:
    policies = RoutePolicies.from_settings(Settings())
    assert (
        policies.auth.quota < policies.writes.quota < policies.anonymous.quota < policies.authenticated.quota
    )
    for rate in (Settings().rate_limit_failed_logins_per_account, Settings().rate_limit_failed_logins_per_ip):
        RatePolicy.parse("failed-logins", rate)


@pytest.fixture
def policies() -> RoutePolicies:
    return RoutePolicies.from_settings(
        Settings(
            rate_limit_anonymous="1/second",
            rate_limit_authenticated="2/second",
            rate_limit_writes="3/second",
            rate_limit_auth="4/second",
        )
    )


@pytest.mark.parametrize(
    ("method", "path", "authenticated", "group"),
    [
        ("GET", "/api/v1/products", False, "anonymous"),
        ("HEAD", "/api/v1/products", False, "anonymous"),
        ("GET", "/api/v1/products", True, "authenticated"),
        ("POST", "/api/v1/products", True, "writes"),
        ("PATCH", "/api/v1/products/1", False, "writes"),
        ("PUT", "/api/v1/products/1", True, "writes"),
        ("DELETE", "/api/v1/products/1", True, "writes"),
        ("POST", "/api/v1/auth/token", False, "auth"),
        ("GET", "/api/v1/auth/me", True, "auth"),
        ("GET", "/api/v1/authors", False, "anonymous"),  # only the auth/ folder is the sign-in group
    ],
)
def test_each_request_falls_in_exactly_one_group(
    policies: RoutePolicies, method: str, path: str, authenticated: bool, group: str
) -> None:
    assert policies.for_request(method, path, authenticated=authenticated).name == group


def test_authenticated_callers_are_keyed_by_principal_and_others_by_address() -> None:
    key_id = uuid.uuid4()
    principal = Principal(kind="api_key", id=key_id, role=Role.VIEWER, name="ci")
    signed_in = {"type": "http", "client": ("1.2.3.4", 50000), "state": {"principal": principal}}
    assert caller_of(signed_in) == (f"api_key:{key_id}", True)
    anonymous = {"type": "http", "client": ("1.2.3.4", 50000), "state": {"principal": ANONYMOUS}}
    assert caller_of(anonymous) == ("ip:1.2.3.4", False)
    assert caller_of({"type": "http", "client": ("5.6.7.8", 1)}) == ("ip:5.6.7.8", False)
    assert caller_of({"type": "http", "client": None}) == ("ip:unknown", False)


def test_headers_follow_the_structured_field_form_of_the_ietf_draft() -> None:
    policy = RatePolicy.parse("writes", "60/minute")
    decision = Decision(allowed=True, remaining=41, reset_seconds=19, retry_after_seconds=0)
    assert rate_limit_headers(policy, decision) == {
        "RateLimit-Policy": '"writes";q=60;w=60',
        "RateLimit": '"writes";r=41;t=19',
    }
