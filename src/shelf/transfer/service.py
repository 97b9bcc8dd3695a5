"""Import and export use cases: from a file on the command line, or as a job started by an upload.

A job runs in a background task the service owns (``aclose`` stops them; a job stopped that way is
marked failed, and running the same file again finishes it: batches already committed come back
"unchanged"). The upload is a temporary file the job deletes when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shelf.identity.permissions import Permission, Principal, Role
from shelf.platform.clock import Clock
from shelf.platform.errors import InvalidInput, NotFound
from shelf.platform.ids import new_id
from shelf.transfer.export import EXPORT_FORMATS, export_chunks
from shelf.transfer.formats import (
    Format,
    RowProblem,
    SourceRow,
    UnusableFile,
    counted_text,
    detect,
    read_jsonl,
    read_shelf_csv,
)
from shelf.transfer.importer import BatchDone, Importer, ImportSummary, ProblemSink
from shelf.transfer.models import ImportJob, JobStatus
from shelf.transfer.shopify import read_shopify
from shelf.uow import UnitOfWork, UnitOfWorkFactory

log = structlog.get_logger(__name__)

# The command line runs with the database's own credentials: it acts as an admin, audited as such.
CLI_OPERATOR = Principal(kind="cli", role=Role.ADMIN, name="shelf command line")
ERROR_REPORT_COLUMNS = ("row", "field", "message")
Progress = Callable[[int, int, ImportSummary], Awaitable[None]]  # bytes read, bytes in all, so far


class ImportJobNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("no import job with this id exists")


def rows_of(
    path: Path, file_format: Format, currency: str
) -> tuple[Iterator[SourceRow], Callable[[], int], Callable[[], None]]:
    """The file's rows, a function telling how many bytes were read so far, and a closer."""
    text, counter = counted_text(path)
    if file_format == Format.SHOPIFY:
        rows = read_shopify(text, currency)
    elif file_format == Format.JSONL:
        rows = read_jsonl(text)
    else:
        rows = read_shelf_csv(text)
    return rows, lambda: counter.count, text.close


class TransferService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        forget: Callable[[list[uuid.UUID]], Awaitable[None]],
        *,
        batch_size: int = 2_000,
    ) -> None:
        self._uow = uow
        self._sessions = sessions
        self._clock = clock
        self._importer = Importer(uow, clock, forget, batch_size=batch_size)
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}

    async def import_file(
        self,
        principal: Principal,
        path: Path,
        *,
        file_format: Format | str | None = None,
        dry_run: bool = False,
        currency: str = "USD",
        on_problems: ProblemSink | None = None,
        on_progress: Progress | None = None,
        in_batch: Callable[[UnitOfWork, BatchDone, int], Awaitable[None]] | None = None,
        after_batch: Callable[[BatchDone, int], Awaitable[None]] | None = None,
    ) -> ImportSummary:
        """Import the file at ``path``; ``UnusableFile`` when it cannot be read at all.

        ``in_batch`` runs inside each batch's transaction (not for a dry run, which writes
        nothing), ``after_batch`` and ``on_progress`` after it, with the bytes read so far.
        """
        principal.require(Permission.CATALOG_WRITE)
        if not path.is_file():  # noqa: ASYNC240 - local file metadata, microseconds
            raise UnusableFile(f"no file at {path}")
        chosen = detect(path, file_format)
        total = path.stat().st_size  # noqa: ASYNC240 - as above
        rows, bytes_read, close = rows_of(path, chosen, currency)

        async def progress(done: BatchDone) -> None:
            if after_batch is not None:
                await after_batch(done, bytes_read())
            if on_progress is not None:
                await on_progress(bytes_read(), total, done.summary)

        async def hook(uow: UnitOfWork, done: BatchDone) -> None:
            if in_batch is not None:
                await in_batch(uow, done, bytes_read())

        try:
            return await self._importer.run(
                principal,
                rows,
                dry_run=dry_run,
                source=path.name,
                on_problems=on_problems,
                in_batch=hook,
                on_batch=progress,
            )
        finally:
            close()

    def export(self, principal: Principal, export_format: Format | str) -> AsyncIterator[str]:
        """Every product (drafts and archived too: staff who read the catalog may export it)."""
        principal.require(Permission.CATALOG_READ_ALL)
        try:
            chosen = Format(export_format)
        except ValueError:
            chosen = None
        if chosen not in EXPORT_FORMATS or chosen is None:
            raise InvalidInput(
                f"'{export_format}' is not an export format",
                [{"field": "format", "message": "must be csv or jsonl"}],
            )
        return export_chunks(self._sessions, chosen)

    # Jobs --------------------------------------------------------------------------------------

    async def start_import(
        self,
        principal: Principal,
        upload: Path,
        *,
        filename: str,
        file_format: str | None = None,
        dry_run: bool = False,
        currency: str = "USD",
    ) -> ImportJob:
        """Queue the import of ``upload`` (a temporary file the job deletes) and start it."""
        try:
            principal.require(Permission.CATALOG_WRITE)
            chosen = detect(upload, file_format or None, name=filename)
        except Exception:
            upload.unlink(missing_ok=True)  # noqa: ASYNC240 - a local unlink, microseconds
            raise
        now = self._clock.now()
        job = ImportJob(
            id=new_id(),
            filename=Path(filename).name[:255] or "upload",
            format=chosen.value,
            status=JobStatus.QUEUED.value,
            actor_id=principal.id,
            actor_name=principal.name,
            bytes_total=upload.stat().st_size,  # noqa: ASYNC240 - local file metadata
            bytes_read=0,
            rows=0,
            created=0,
            updated=0,
            unchanged=0,
            rejected=0,
            dry_run=dry_run,
            problem=None,
            created_at=now,
            updated_at=now,
            finished_at=None,
        )
        async with self._uow() as uow:
            uow.transfer.add_job(job)
            await uow.commit()
        task = asyncio.create_task(self._run_job(principal, job.id, upload, chosen, dry_run, currency))
        self._tasks[job.id] = task
        task.add_done_callback(lambda _done: self._tasks.pop(job.id, None))
        return job

    async def _run_job(  # noqa: PLR0917 - one call site, in start_import
        self,
        principal: Principal,
        job_id: uuid.UUID,
        upload: Path,
        chosen: Format,
        dry_run: bool,
        currency: str,
    ) -> None:
        sequence = 0

        async def in_batch(uow: UnitOfWork, done: BatchDone, bytes_read: int) -> None:
            nonlocal sequence
            rejections = []
            for problem in done.problems:
                sequence += 1
                rejections.append(
                    {
                        "job_id": job_id,
                        "seq": sequence,
                        "row": problem.row,
                        "field": problem.field[:64],
                        "message": problem.message[:500],
                    }
                )
            await uow.transfer.add_rejections(rejections)
            await uow.transfer.update_job(
                job_id, **_counts(done.summary), bytes_read=bytes_read, updated_at=self._clock.now()
            )

        async def after_dry_batch(done: BatchDone, bytes_read: int) -> None:
            async with self._uow() as uow:  # a dry run's batches commit nothing: record it alone
                await in_batch(uow, done, bytes_read)
                await uow.commit()

        status, problem = JobStatus.SUCCEEDED, None
        try:
            await self._set_job(job_id, status=JobStatus.RUNNING.value)
            summary = await self.import_file(
                principal,
                upload,
                file_format=chosen,
                dry_run=dry_run,
                currency=currency,
                in_batch=None if dry_run else in_batch,
                after_batch=after_dry_batch if dry_run else None,
            )
            size = upload.stat().st_size  # noqa: ASYNC240 - local file metadata
            await self._set_job(job_id, **_counts(summary), bytes_read=size)
        except UnusableFile as error:
            status, problem = JobStatus.FAILED, error.detail
        except asyncio.CancelledError:
            status = JobStatus.FAILED
            problem = "the server stopped during the import; upload the file again to finish it"
            raise
        except Exception:
            log.exception("import job failed", job_id=str(job_id))
            status = JobStatus.FAILED
            problem = "the import stopped on an unexpected error; what was imported so far stays"
        finally:
            upload.unlink(missing_ok=True)  # noqa: ASYNC240 - a local unlink, microseconds
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    self._set_job(job_id, status=status.value, problem=problem, finished_at=self._clock.now())
                )

    async def _set_job(self, job_id: uuid.UUID, **values: object) -> None:
        async with self._uow() as uow:
            await uow.transfer.update_job(job_id, updated_at=self._clock.now(), **values)
            await uow.commit()

    async def job(self, principal: Principal, job_id: uuid.UUID) -> ImportJob:
        principal.require(Permission.CATALOG_WRITE)
        async with self._uow() as uow:
            job = await uow.transfer.job(job_id)
        if job is None:
            raise ImportJobNotFound
        return job

    async def error_report(self, principal: Principal, job_id: uuid.UUID) -> AsyncIterator[str]:
        """The job's refused rows as CSV (row, field, message), streamed in pages."""
        await self.job(principal, job_id)
        return self._error_pages(job_id)

    async def _error_pages(self, job_id: uuid.UUID) -> AsyncIterator[str]:
        yield ",".join(ERROR_REPORT_COLUMNS) + "\n"
        after = 0
        while True:
            async with self._uow() as uow:
                page = await uow.transfer.rejections(job_id, after, 1_000)
            if not page:
                return
            yield problems_csv([RowProblem(item.row, item.field, item.message) for item in page])
            after = page[-1].seq

    async def first_problems(self, principal: Principal, job_id: uuid.UUID, limit: int) -> list[RowProblem]:
        """The first ``limit`` refused rows of the job, for its page."""
        await self.job(principal, job_id)
        async with self._uow() as uow:
            page = await uow.transfer.rejections(job_id, 0, limit)
        return [RowProblem(item.row, item.field, item.message) for item in page]

    async def wait(self, job_id: uuid.UUID) -> None:
        """Until the job's task ends (for tests and the command line)."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.wait([task])

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


def _counts(summary: ImportSummary) -> dict[str, int]:
    return {
        "rows": summary.rows,
        "created": summary.created,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "rejected": summary.rejected,
    }


def problems_csv(problems: list[RowProblem]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows((problem.row, problem.field, problem.message) for problem in problems)
    return buffer.getvalue()
