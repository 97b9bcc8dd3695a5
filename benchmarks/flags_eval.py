"""Feature flags (issue 7): in-process evaluation time per flag, and bucketing shares over 100,000 keys.

- ``engine``: ``flags.evaluation.evaluate`` alone on a compiled flag (a boolean rollout, a
  multivariate split, a flag with three rules of two conditions each, one of them a regex);
- ``service``: ``FlagsService.evaluate`` as Shelf's own code calls it (``is_enabled`` and
  ``variant`` are this plus a type check): the cache scope look-up, the snapshot, the engine, the
  last-evaluated mark and the exposure de-duplication (after the first call per user, no event),
  over an in-process ``MemoryCache``;
- ``share``: for rollouts of 1, 10, 25, 50 and 90 %, the share of 100,000 keys (``user-0`` ...)
  that gets the flag, and a 20/30/50 split's shares.

    .venv/bin/python benchmarks/flags_eval.py
    .venv/bin/python benchmarks/flags_eval.py --iterations 200000

The OFREP bulk benchmark with wrk (50 flags, one worker) is not written yet (ADR 0014).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from shelf.flags.evaluation import compile_flag, evaluate
from shelf.flags.models import Flag
from shelf.flags.schemas import FlagWrite
from shelf.flags.service import FlagsService
from shelf.platform.cache import MemoryCache
from shelf.platform.clock import SystemClock
from shelf.platform.ids import new_id

FLAGS: list[dict[str, Any]] = [
    {"key": "rollout", "rollout": 37},
    {
        "key": "split",
        "type": "multivariate",
        "rollout": 100,
        "variants": [{"key": "a", "weight": 20}, {"key": "b", "weight": 30}, {"key": "c", "weight": 50}],
    },
    {
        "key": "rules",
        "rollout": 20,
        "rules": [
            {
                "conditions": [
                    {"attribute": "country", "op": "in", "value": ["NO", "SE", "DK"]},
                    {"attribute": "app_version", "op": "semver_gte", "value": "2.3.0"},
                ]
            },
            {
                "conditions": [
                    {"attribute": "email", "op": "regex", "value": r"@shelf\.example$"},
                    {"attribute": "plan", "op": "eq", "value": "pro"},
                ]
            },
            {
                "conditions": [
                    {"attribute": "age", "op": "gte", "value": 18},
                    {"attribute": "signup", "op": "after", "value": "2026-01-01T00:00:00Z"},
                ],
                "rollout": 50,
            },
        ],
    },
]
CONTEXT = {"country": "FR", "app_version": "2.4.1", "email": "ada@example.com", "plan": "pro", "age": 30}


class _Flags:
    def __init__(self, rows: list[Flag]) -> None:
        self.rows = rows

    async def all(self) -> Sequence[Flag]:
        return self.rows

    async def mark_evaluated(self, keys: Any, at: Any) -> None:
        return None


class _Uow:
    def __init__(self, rows: list[Flag]) -> None:
        self.flags = _Flags(rows)

    def __call__(self) -> Self:
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        return None

    async def commit(self) -> None:
        return None


def _row(definition: dict[str, Any]) -> Flag:
    data = FlagWrite.model_validate(definition).model_dump(mode="json")
    return Flag(
        id=new_id(),
        **{k: data[k] for k in ("key", "description", "type", "enabled", "rollout")},
        variants=data["variants"],
        rules=data["rules"],
    )


def engine(iterations: int) -> dict[str, float]:
    result = {}
    for definition in FLAGS:
        compiled = compile_flag(FlagWrite.model_validate(definition))
        contexts = [{**CONTEXT, "targetingKey": f"user-{i % 1000}"} for i in range(1000)]
        start = time.perf_counter()
        for i in range(iterations):
            evaluate(compiled, compiled.key, contexts[i % 1000])
        result[definition["key"]] = (time.perf_counter() - start) / iterations * 1e6
    return result


async def service(iterations: int) -> dict[str, float]:
    flags = FlagsService(_Uow([_row(d) for d in FLAGS]), SystemClock(), cache=MemoryCache())  # type: ignore[arg-type]
    contexts = [{**CONTEXT, "targetingKey": f"user-{i % 1000}"} for i in range(1000)]
    result = {}
    for definition in FLAGS:
        key = definition["key"]
        for context in contexts:  # the first call per user emits (to the null emitter) once
            await flags.evaluate(key, context)
        start = time.perf_counter()
        for i in range(iterations):
            await flags.evaluate(key, contexts[i % 1000])
        result[key] = (time.perf_counter() - start) / iterations * 1e6
    return result


def shares(keys: int = 100_000) -> dict[str, float]:
    result = {}
    for rollout in (1, 10, 25, 50, 90):
        compiled = compile_flag(FlagWrite.model_validate({"key": "share", "rollout": rollout}))
        on = sum(
            evaluate(compiled, "share", {"targetingKey": f"user-{i}"}).value is True for i in range(keys)
        )
        result[f"rollout {rollout}%"] = 100 * on / keys
    split = compile_flag(FlagWrite.model_validate(FLAGS[1]))
    counts: dict[str, int] = {}
    for i in range(keys):
        variant = str(evaluate(split, "split", {"targetingKey": f"user-{i}"}).variant)
        counts[variant] = counts.get(variant, 0) + 1
    for variant, count in sorted(counts.items()):
        result[f"split {variant}"] = 100 * count / keys
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=100_000)
    args = parser.parse_args()
    for name, micros in engine(args.iterations).items():
        print(f"engine   {name:8} {micros:6.2f} µs/evaluation")
    for name, micros in asyncio.run(service(args.iterations)).items():
        print(f"service  {name:8} {micros:6.2f} µs/evaluation")
    for name, share in shares().items():
        print(f"share    {name:14} {share:6.2f} % of 100,000 keys")


if __name__ == "__main__":
    main()
