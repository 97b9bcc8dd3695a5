"""The real OpenFeature Python SDK, with its OFREP provider, evaluates Shelf's flags against a running
``shelf serve``: the done-when of issue 7's flags half, with nothing adapted on the SDK's side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from openfeature import api as openfeature
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from tests.databases import database
from tests.process import running_server, shelf

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture
async def url(tmp_path: Path) -> AsyncIterator[str]:
    async with database("postgresql", tmp_path) as database_url:
        assert shelf("db", "upgrade", database_url=database_url).returncode == 0
        yield database_url


def _key(url: str, role: str) -> str:
    created = shelf("apikeys", "create", "--name", f"of-{role}", "--role", role, database_url=url)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


async def test_the_openfeature_sdk_evaluates_shelfs_flags_over_ofrep(url: str) -> None:
    editor, app = _key(url, "editor"), _key(url, "client")
    with running_server(url) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            staff = {"Authorization": f"Bearer {editor}"}
            for flag in (
                {"key": "new-search", "rollout": 100},
                {
                    "key": "checkout.layout",
                    "type": "multivariate",
                    "rollout": 100,
                    "variants": [{"key": "control", "weight": 50}, {"key": "one-page", "weight": 50}],
                    "rules": [
                        {
                            "conditions": [{"attribute": "app_version", "op": "semver_lt", "value": "2.0.0"}],
                            "variant": "control",
                        }
                    ],
                },
            ):
                assert (await http.post("/api/v1/flags", json=flag, headers=staff)).status_code == 201
            # A client key may evaluate but not manage.
            refused = await http.post(
                "/api/v1/flags", json={"key": "x"}, headers={"Authorization": f"Bearer {app}"}
            )
            assert refused.status_code == 403

        provider = OFREPProvider(base_url, headers_factory=lambda: {"Authorization": f"Bearer {app}"})
        openfeature.set_provider(provider)
        client = openfeature.get_client()

        def evaluate_all() -> None:
            search = client.get_boolean_details("new-search", False, EvaluationContext("user-1"))
            assert (search.value, search.reason, search.variant) == (True, Reason.STATIC, "on")

            old_app = EvaluationContext("user-1", {"app_version": "1.9.3"})
            layout = client.get_string_details("checkout.layout", "fallback", old_app)
            assert (layout.value, layout.reason) == ("control", Reason.TARGETING_MATCH)

            split = client.get_string_details("checkout.layout", "fallback", EvaluationContext("user-7"))
            assert split.reason == Reason.SPLIT
            assert split.value in ("control", "one-page")
            again = client.get_string_details("checkout.layout", "fallback", EvaluationContext("user-7"))
            assert again.value == split.value  # the same user, the same answer

            missing = client.get_boolean_details("no-such-flag", False, EvaluationContext("user-1"))
            assert (missing.value, missing.error_code) == (False, ErrorCode.FLAG_NOT_FOUND)
            no_key = client.get_string_details("checkout.layout", "fallback", EvaluationContext())
            assert (no_key.value, no_key.error_code) == ("fallback", ErrorCode.TARGETING_KEY_MISSING)
            wrong_type = client.get_boolean_details("checkout.layout", False, EvaluationContext("user-7"))
            assert (wrong_type.value, wrong_type.error_code) == (False, ErrorCode.TYPE_MISMATCH)

        await asyncio.to_thread(evaluate_all)  # the SDK and its provider are synchronous
        await asyncio.to_thread(openfeature.shutdown)
