"""API shapes of imports: a job as clients poll it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from shelf.transfer.models import ImportJob, JobStatus

IMPORTS_PATH = "/api/v1/imports"


class ImportJobRead(BaseModel):
    id: uuid.UUID
    status: JobStatus
    filename: str
    format: str
    dry_run: bool
    rows: int  # rows read so far (every row of the file once the job has succeeded)
    created: int
    updated: int
    unchanged: int
    rejected: int
    bytes_read: int
    bytes_total: int
    progress: float  # 0 to 1, by bytes read
    problem: str | None  # why a failed job failed
    started_by: str
    created_at: datetime
    finished_at: datetime | None
    errors_url: str  # the error report (CSV: row, field, message)

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    @classmethod
    def from_job(cls, job: ImportJob) -> ImportJobRead:
        done = job.status == JobStatus.SUCCEEDED
        progress = 1.0 if done else (job.bytes_read / job.bytes_total if job.bytes_total else 0.0)
        return cls(
            id=job.id,
            status=JobStatus(job.status),
            filename=job.filename,
            format=job.format,
            dry_run=job.dry_run,
            rows=job.rows,
            created=job.created,
            updated=job.updated,
            unchanged=job.unchanged,
            rejected=job.rejected,
            bytes_read=job.bytes_read,
            bytes_total=job.bytes_total,
            progress=round(min(progress, 1.0), 4),
            problem=job.problem,
            started_by=job.actor_name,
            created_at=job.created_at,
            finished_at=job.finished_at,
            errors_url=f"{IMPORTS_PATH}/{job.id}/errors.csv",
        )
