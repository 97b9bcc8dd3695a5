"""The import pipeline: rows in, batches of upserts out, each batch one transaction.

A batch (``batch_size`` rows, 2,000 by default) is validated row by row with the API's rules, then
compared with what is stored under its SKUs: new products are inserted (version 1), changed ones
updated (version + 1, ``updated_at`` now), identical ones left alone, so a second run of the same
file writes nothing and reports "0 created, 0 updated, N unchanged". The batch's products, its
tag index rows, one audit entry summarising it, the job's counts and its refused rows commit
together or not at all: a crash leaves whole batches, and running the file again finishes the job.
The catalog's cache forgets the batch's products (and every cached page) once, after the commit.

Memory is constant in the file's size except for one 64-bit hash per SKU seen (about 40 bytes each
in a Python set), which catches a SKU that appears twice: the second row is refused, so the file
has one meaning and a re-run is a no-op.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from shelf.audit.service import record
from shelf.identity.permissions import Permission, Principal
from shelf.platform.clock import Clock
from shelf.platform.ids import new_id
from shelf.platform.jsonutil import dumps
from shelf.transfer.formats import RowProblem, SourceRow
from shelf.transfer.repository import PRODUCT_FIELDS
from shelf.transfer.validation import checked
from shelf.uow import UnitOfWork, UnitOfWorkFactory

DEFAULT_BATCH = 2_000
KEPT_PROBLEMS = 100  # shown in a summary; the full list goes to the error report


@dataclass
class ImportSummary:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # rows refused (a row with three bad fields counts once)
    problems: list[RowProblem] = field(default_factory=list)  # the first KEPT_PROBLEMS

    @property
    def landed(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(frozen=True)
class BatchDone:
    """What a batch changed: passed to ``on_batch`` after its commit (and to the job's row before)."""

    summary: ImportSummary
    problems: list[RowProblem]  # this batch's


ProblemSink = Callable[[list[RowProblem]], Awaitable[None]]
JobHook = Callable[[UnitOfWork, BatchDone], Awaitable[None]]
Forget = Callable[[list[uuid.UUID]], Awaitable[None]]


def _batches(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _same(stored: dict[str, Any], new: dict[str, Any]) -> bool:
    for name in PRODUCT_FIELDS:
        if name in ("tags", "attributes"):
            # Compared as JSON text: True and 1, or 1.5 and 1.50, are different attribute values.
            if dumps(stored[name]) != dumps(new[name]):
                return False
        elif stored[name] != new[name]:
            return False
    return True


@dataclass(frozen=True)
class _Run:
    id: uuid.UUID  # the audit entries of one run share it
    source: str


class Importer:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, forget: Forget, *, batch_size: int = DEFAULT_BATCH
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._forget = forget
        self._batch_size = batch_size

    async def run(
        self,
        principal: Principal,
        rows: Iterable[SourceRow],
        *,
        dry_run: bool = False,
        source: str = "file",
        on_problems: ProblemSink | None = None,
        in_batch: JobHook | None = None,
        on_batch: Callable[[BatchDone], Awaitable[None]] | None = None,
    ) -> ImportSummary:
        """Import ``rows``; ``source`` names the file or job in the audit log."""
        principal.require(Permission.CATALOG_WRITE)
        summary = ImportSummary()
        seen: set[int] = set()
        run = _Run(new_id(), source)
        for batch in _batches(rows, self._batch_size):
            problems, valid = self._validate(batch, seen)
            summary.rows += len(batch)
            summary.rejected += len({problem.row for problem in problems})
            written = await self._write(
                principal,
                valid=valid,
                problems=problems,
                summary=summary,
                dry_run=dry_run,
                run=run,
                in_batch=in_batch,
            )
            room = KEPT_PROBLEMS - len(summary.problems)
            if room > 0:
                summary.problems.extend(problems[:room])
            if written:
                await self._forget(written)
            if on_problems is not None and problems:
                await on_problems(problems)
            if on_batch is not None:
                await on_batch(BatchDone(summary, problems))
        return summary

    def _validate(
        self, batch: list[SourceRow], seen: set[int]
    ) -> tuple[list[RowProblem], list[tuple[int, dict[str, Any]]]]:
        problems: list[RowProblem] = []
        valid: list[tuple[int, dict[str, Any]]] = []
        for source in batch:
            columns, found = checked(source)
            if columns is None:
                problems.extend(found)
                continue
            sku = columns["sku"]
            key = hash(sku)
            if key in seen:
                column = source.columns.get("sku", "sku")
                problems.append(
                    RowProblem(source.row, column, f"'{sku}' appears earlier in the file; each SKU once")
                )
                continue
            seen.add(key)
            valid.append((source.row, columns))
        return problems, valid

    async def _write(
        self,
        principal: Principal,
        *,
        valid: list[tuple[int, dict[str, Any]]],
        problems: list[RowProblem],
        summary: ImportSummary,
        dry_run: bool,
        run: _Run,
        in_batch: JobHook | None,
    ) -> list[uuid.UUID]:
        """One batch in one transaction; the ids of the products it created or changed."""
        async with self._uow() as uow:
            stored = await uow.transfer.existing([columns["sku"] for _, columns in valid])
            now = self._clock.now()
            upserts: list[dict[str, Any]] = []
            new_tags: dict[uuid.UUID, list[str]] = {}
            changed_tags: dict[uuid.UUID, list[str]] = {}
            created: list[str] = []
            updated: list[str] = []
            for _row, columns in valid:
                current = stored.get(columns["sku"])
                if current is None:
                    product_id = new_id()
                    upserts.append(
                        columns | {"id": product_id, "created_at": now, "updated_at": now, "version": 1}
                    )
                    new_tags[product_id] = columns["tags"]
                    created.append(columns["sku"])
                elif not _same(current, columns):
                    upserts.append(
                        columns
                        | {
                            "id": current["id"],
                            "created_at": current["created_at"],
                            "updated_at": now,
                            "version": current["version"] + 1,
                        }
                    )
                    if current["tags"] != columns["tags"]:
                        changed_tags[current["id"]] = columns["tags"]
                    updated.append(columns["sku"])
            summary.created += len(created)
            summary.updated += len(updated)
            summary.unchanged += len(valid) - len(created) - len(updated)
            if dry_run:
                return []  # leaving the block rolls back; nothing was written anyway
            await uow.transfer.upsert(upserts)
            await uow.transfer.set_tags(new_tags, replace=False)
            await uow.transfer.set_tags(changed_tags, replace=True)
            if upserts:
                record(
                    uow.audit,
                    self._clock,
                    principal,
                    "product.import",
                    entity=("import", run.id),
                    after={
                        "file": run.source,
                        "created": created,
                        "updated": updated,
                        "rows": len(valid) + len({problem.row for problem in problems}),
                    },
                )
            if in_batch is not None:
                await in_batch(uow, BatchDone(summary, problems))
            await uow.commit()
            return [row["id"] for row in upserts]
