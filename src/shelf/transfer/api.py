"""REST routes of bulk import and export. Each one parses, calls one service function, shapes the
response.

``POST /api/v1/imports`` takes a multipart upload (``file``; optional ``format``, ``dry_run``,
``currency``), answers ``202 Accepted`` with the job and its ``Location`` at once, and imports in
the background; ``GET /api/v1/imports/{id}`` is the job's progress and counts, ``.../errors.csv``
its error report. ``GET /api/v1/exports?format=csv|jsonl`` streams the whole catalog.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.responses import Response, StreamingResponse

from shelf.gateway.auth import PrincipalDep
from shelf.gateway.http import JSONResponse
from shelf.transfer.export import MEDIA_TYPES
from shelf.transfer.formats import Format
from shelf.transfer.schemas import IMPORTS_PATH, ImportJobRead
from shelf.transfer.service import TransferService
from shelf.transfer.uploads import save_upload

router = APIRouter(prefix="/api/v1", tags=["import and export"])
EXPORT_FORMAT_OF = {"csv": Format.SHELF_CSV, "jsonl": Format.JSONL}


async def _transfer(request: Request) -> TransferService:
    service: TransferService = request.app.state.container.transfer
    return service


TransferDep = Annotated[TransferService, Depends(_transfer)]


@router.post("/imports", status_code=202, response_model=ImportJobRead, summary="Import a file (a job)")
async def start_import(  # noqa: PLR0917 - FastAPI passes the form fields as parameters
    transfer: TransferDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="Shelf CSV, JSONL or a Shopify product export")],
    file_format: Annotated[Literal["shelf-csv", "jsonl", "shopify"] | None, Form(alias="format")] = None,
    dry_run: Annotated[bool, Form()] = False,
    currency: Annotated[str, Form(pattern=r"^[A-Z]{3}$")] = "USD",
) -> Response:
    principal.require_authenticated()
    upload = await save_upload(file)
    job = await transfer.start_import(
        principal,
        upload,
        filename=file.filename or "upload",
        file_format=file_format,
        dry_run=dry_run,
        currency=currency,
    )
    body = ImportJobRead.from_job(job)
    return JSONResponse(
        body.model_dump(mode="json"), status_code=202, headers={"Location": f"{IMPORTS_PATH}/{job.id}"}
    )


@router.get("/imports/{job_id}", response_model=ImportJobRead, summary="An import job's progress and counts")
async def get_import(job_id: uuid.UUID, transfer: TransferDep, principal: PrincipalDep) -> Response:
    job = await transfer.job(principal, job_id)
    body = ImportJobRead.from_job(job).model_dump(mode="json")
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get(
    "/imports/{job_id}/errors.csv",
    response_class=StreamingResponse,
    summary="An import job's error report (CSV: row, field, message)",
)
async def import_errors(job_id: uuid.UUID, transfer: TransferDep, principal: PrincipalDep) -> Response:
    report = await transfer.error_report(principal, job_id)
    return StreamingResponse(
        report,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="import-{job_id}-errors.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/exports", response_class=StreamingResponse, summary="Export every product (streamed)")
async def export_products(
    transfer: TransferDep,
    principal: PrincipalDep,
    export_format: Annotated[Literal["csv", "jsonl"], Query(alias="format")] = "csv",
) -> Response:
    chosen = EXPORT_FORMAT_OF[export_format]
    chunks = transfer.export(principal, chosen)
    return StreamingResponse(
        chunks,
        media_type=MEDIA_TYPES[chosen],
        headers={
            "Content-Disposition": f'attachment; filename="shelf-products.{export_format}"',
            "Cache-Control": "no-store",
        },
    )
