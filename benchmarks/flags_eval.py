"""Feature flags (issue 7): in-process evaluation time per flag, and bucketing shares over 100,000 keys.

- ``engine``: ``flags.evaluation.evaluate`` alone on a compiled flag (a boolean rollout, a
  multivariate split, a flag with three rules of two conditions each, one of them a regex);
- ``service``: ``FlagsService.is_enabled`` (the boolean flags) and ``FlagsService.variant`` (the
  split) as Shelf's own code calls them: the cache scope look-up, the snapshot, the engine, the
  metric, the last-evaluated mark and the exposure de-duplication (after the first call per user,
  no event), over an in-process ``MemoryCache``;
- ``share``: for rollouts of 1, 10, 25, 50 and 90 %, the share of 100,000 keys (``user-0`` ...)
  that gets the flag, and a 20/30/50 split's shares;
- ``baseline``, in the same run, to read the figures against on a shared machine: the loop
  ``sum(range(100))`` and one SHA-1 bucket as ADR 0014 defines it (``bucket``).

Each case runs ``--repeats`` times ``--iterations`` evaluations; the best and the median of the
repeats are printed, in CPU time of this process (the cost of an evaluation, however busy the
machine is) and in wall-clock time (which on a shared machine includes waiting for a core).

    .venv/bin/python benchmarks/flags_eval.py
    .venv/bin/python benchmarks/flags_eval.py --iterations 20000 --repeats 7

The OFREP bulk evaluation over HTTP is ``benchmarks/ofrep_bulk.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from shelf.flags.evaluation import bucket, compile_flag, evaluate
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


@dataclass(frozen=True)
class Timing:
    """µs per evaluation over the repeats: CPU time of this process (what the evaluation costs,
    whatever else the machine runs) and wall-clock time (what a caller waits), best and median."""

    cpu_best: float
    cpu_median: float
    wall_best: float
    wall_median: float


class _Repeats:
    def __init__(self, iterations: int) -> None:
        self.iterations = iterations
        self.cpu: list[float] = []
        self.wall: list[float] = []

    def __enter__(self) -> Self:
        self._cpu, self._wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu.append((time.process_time() - self._cpu) / self.iterations * 1e6)
        self.wall.append((time.perf_counter() - self._wall) / self.iterations * 1e6)

    def timing(self) -> Timing:
        return Timing(
            min(self.cpu), statistics.median(self.cpu), min(self.wall), statistics.median(self.wall)
        )


def engine(iterations: int, repeats: int) -> dict[str, Timing]:
    result = {}
    contexts = [{**CONTEXT, "targetingKey": f"user-{i % 1000}"} for i in range(1000)]
    for definition in FLAGS:
        compiled = compile_flag(FlagWrite.model_validate(definition))
        timer = _Repeats(iterations)
        for _ in range(repeats):
            with timer:
                for i in range(iterations):
                    evaluate(compiled, compiled.key, contexts[i % 1000])
        result[definition["key"]] = timer.timing()
    return result


async def service(iterations: int, repeats: int) -> dict[str, Timing]:
    """``is_enabled`` for the boolean flags and ``variant`` for the split, as Shelf's code asks."""
    flags = FlagsService(_Uow([_row(d) for d in FLAGS]), SystemClock(), cache=MemoryCache())  # type: ignore[arg-type]
    contexts = [{**CONTEXT, "targetingKey": f"user-{i % 1000}"} for i in range(1000)]
    result = {}
    for definition in FLAGS:
        key = definition["key"]
        ask = flags.variant if definition.get("type") == "multivariate" else flags.is_enabled
        for context in contexts:  # the first call per user emits (to the null emitter) once
            await ask(key, context)
        timer = _Repeats(iterations)
        for _ in range(repeats):
            with timer:
                for i in range(iterations):
                    await ask(key, contexts[i % 1000])
        result[key] = timer.timing()
    return result


def baseline(iterations: int, repeats: int) -> dict[str, Timing]:
    """Reference operations timed in the same run: how fast this machine is right now."""
    result = {}
    for name, operation in (("sum(range(100))", lambda: sum(range(100))), ("one bucket", _one_bucket)):
        timer = _Repeats(iterations)
        for _ in range(repeats):
            with timer:
                for _ in range(iterations):
                    operation()
        result[name] = timer.timing()
    return result


def _one_bucket() -> float:
    return bucket("rollout", "user-123")


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
    parser.add_argument("--iterations", type=int, default=50_000, help="evaluations per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("                              µs per evaluation: CPU best / median, wall best / median")
    rows = [
        ("baseline", baseline(args.iterations, args.repeats)),
        ("engine", engine(args.iterations, args.repeats)),
    ]
    rows.append(("service", asyncio.run(service(args.iterations, args.repeats))))
    for kind, timings in rows:
        for name, t in timings.items():
            print(
                f"{kind:8} {name:16} {t.cpu_best:6.2f} / {t.cpu_median:6.2f}    "
                f"{t.wall_best:6.2f} / {t.wall_median:6.2f}"
            )
    print(f"load average {os.getloadavg()[0]:.2f}")
    for name, share in shares().items():
        print(f"share    {name:14} {share:6.2f} % of 100,000 keys")


if __name__ == "__main__":
    main()
