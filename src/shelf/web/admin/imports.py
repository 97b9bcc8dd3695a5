"""The console's import and export page: ``/admin/imports`` uploads a file (Shelf CSV, JSONL or a
Shopify export) and starts an import job; ``/admin/imports/{id}`` shows its progress (a small
script polls the job's JSON; without JavaScript the page refreshes itself), the final counts, the
first refused rows and a link to the full error report.

The upload is ``multipart/form-data``; its form puts the hidden ``csrf_token`` field first, which
is where the gateway looks for it in a multipart body (``gateway.auth``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import HTMLResponse, Response

from shelf.identity.permissions import Permission, Principal
from shelf.platform.errors import InvalidInput, NotFound
from shelf.transfer.schemas import ImportJobRead
from shelf.transfer.service import TransferService
from shelf.transfer.uploads import save_upload
from shelf.web.admin.guard import AdminRoute, requires
from shelf.web.admin.rendering import render, see_other

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)
Importer = Annotated[Principal, Depends(requires(Permission.CATALOG_WRITE))]
PAGE = "/admin/imports"
FORMATS = {"": "Tell from the file", "shelf-csv": "Shelf CSV", "jsonl": "JSONL", "shopify": "Shopify export"}
SHOWN_PROBLEMS = 50


def _service(request: Request) -> TransferService:
    service: TransferService = request.app.state.container.transfer
    return service


ServiceDep = Annotated[TransferService, Depends(_service)]


@router.get(PAGE)
async def upload_form(request: Request, principal: Importer) -> Response:
    return render(request, "admin/imports/form.html", {"formats": FORMATS, "error": None})


@router.post(PAGE)
async def start(  # noqa: PLR0917 - FastAPI passes the form fields as parameters
    request: Request,
    principal: Importer,
    service: ServiceDep,
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str, Form()] = "",  # checked by the gateway (gateway.auth)
    file_format: Annotated[str, Form(alias="format")] = "",
) -> Response:
    if file_format not in FORMATS:
        file_format = ""
    upload = await save_upload(file)
    try:
        job = await service.start_import(
            principal, upload, filename=file.filename or "upload", file_format=file_format or None
        )
    except InvalidInput as refused:
        context = {"formats": FORMATS, "error": refused.detail}
        return render(request, "admin/imports/form.html", context, status_code=422)
    return see_other(f"{PAGE}/{job.id}")


@router.get(PAGE + "/{job_id}")
async def job_page(request: Request, job_id: str, principal: Importer, service: ServiceDep) -> Response:
    try:
        wanted = uuid.UUID(job_id)
    except ValueError:
        raise NotFound("no import job with this id exists") from None
    job = ImportJobRead.from_job(await service.job(principal, wanted))
    problems = await service.first_problems(principal, wanted, SHOWN_PROBLEMS) if job.finished else []
    return render(request, "admin/imports/job.html", {"job": job, "problems": problems})
