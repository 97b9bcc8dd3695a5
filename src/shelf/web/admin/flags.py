"""The console's feature flags.

- ``GET /admin/flags``: every flag (key, type, on or off, rollout or variants, rules, last
  evaluated, a stale mark), for staff; editors also get a "New flag" button.
- ``GET /admin/flags/new`` and ``POST`` to it: ``FlagsService.create_flag``.
- ``GET /admin/flags/{key}``: the form for editors, the definition read-only for viewers, and for
  both an "evaluate for this context" form (a GET of the same page with ``targeting_key`` and
  ``attributes``, so it works without JavaScript; ``admin.js`` updates the answer as one types).
  ``POST`` saves the whole flag with ``replace_flag`` at the version the form was loaded at: if
  someone saved first, nothing is overwritten and the form shows both versions.
- ``POST /admin/flags/{key}/delete`` asks for confirmation, then deletes at the version seen.

A refused form comes back with the schema's errors next to each field (422), or 409 for a key that
is taken and an edit conflict.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, Response

from shelf.flags.errors import DuplicateFlagKey, FlagNotFound
from shelf.flags.evaluation import Evaluation
from shelf.flags.schemas import FlagRead
from shelf.flags.service import FlagsService, etag_for
from shelf.identity.permissions import Permission, Principal
from shelf.platform.errors import PreconditionFailed
from shelf.web.admin.flag_form import (
    LABELS,
    TYPES,
    FlagForm,
    PreviewForm,
    field_errors,
    in_form_order,
    schema_errors,
)
from shelf.web.admin.guard import AdminRoute, requires
from shelf.web.admin.rendering import render, see_other, sentence
from shelf.web.pages import principal_of

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)
FlagReader = Annotated[Principal, Depends(requires(Permission.FLAGS_READ))]
FlagEditor = Annotated[Principal, Depends(requires(Permission.FLAGS_WRITE))]
HOME = "/admin/flags"
TEMPLATE = "admin/flags/form.html"


def _service(request: Request) -> FlagsService:
    service: FlagsService = request.app.state.container.flags
    return service


FlagsDep = Annotated[FlagsService, Depends(_service)]


@router.get(HOME)
async def flags_list(request: Request, principal: FlagReader, flags: FlagsDep) -> Response:
    found = await flags.list_flags(principal)
    notice = "Flag deleted." if request.query_params.get("deleted") == "1" else None
    return render(
        request,
        "admin/flags/list.html",
        {"items": found.items, "may_write": principal.can(Permission.FLAGS_WRITE), "notice": notice},
    )


def _page(
    request: Request,
    form: FlagForm,
    *,
    flag: FlagRead | None = None,
    errors: dict[str, str] | None = None,
    conflict: dict[str, Any] | None = None,
    message: str | None = None,
    notice: str | None = None,
    preview: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The form; ``flag`` is the stored flag when editing one (``None`` for a new one)."""
    return render(
        request,
        TEMPLATE,
        {
            "form": form,
            "flag": flag,
            "errors": errors or {},
            "summary": {
                name: f"{LABELS.get(name, 'Form')}: {text}"
                for name, text in in_form_order(errors or {}).items()
            },
            "conflict": conflict,
            "message": message,
            "notice": notice,
            "types": TYPES,
            "preview": preview or {"form": PreviewForm(), "errors": {}, "result": None},
            "can_audit": principal_of(request).can(Permission.AUDIT_READ),
        },
        status_code=status_code,
    )


@router.get(HOME + "/new")
async def new_flag(request: Request, _principal: FlagEditor) -> Response:
    return _page(request, FlagForm())


@router.post(HOME + "/new")
async def create_flag(request: Request, principal: FlagEditor, flags: FlagsDep) -> Response:
    form = FlagForm.from_form(await request.form())
    payload, errors = form.payload()
    if errors:
        return _page(request, form, errors=errors | schema_errors(payload, errors), status_code=422)
    try:
        created = await flags.create_flag(principal, payload)
    except ValidationError as invalid:
        return _page(request, form, errors=field_errors(invalid), status_code=422)
    except DuplicateFlagKey as taken:
        return _page(request, form, errors={"key": sentence(taken.detail)}, status_code=409)
    return see_other(f"{HOME}/{created.key}?created=1")


async def _preview(request: Request, principal: Principal, flags: FlagsService, key: str) -> dict[str, Any]:
    """The "evaluate for this context" form as the query gives it, with the answer once asked."""
    form = PreviewForm.from_query(request.query_params)
    asked = "targeting_key" in request.query_params or "attributes" in request.query_params
    context, errors = form.context()
    result: Evaluation | None = None
    if asked and not errors:
        result = await flags.preview(principal, key, context)
    return {"form": form, "errors": errors, "result": result}


@router.get(HOME + "/{key}")
async def flag_page(request: Request, key: str, principal: FlagReader, flags: FlagsDep) -> Response:
    flag = await flags.get_flag(principal, key)
    preview = await _preview(request, principal, flags, key)
    status_code = 422 if preview["errors"] else 200
    notices = {"created": "Flag created.", "saved": "Saved."}
    notice = next((words for name, words in notices.items() if request.query_params.get(name) == "1"), None)
    if not principal.can(Permission.FLAGS_WRITE):
        context = {"flag": flag, "form": FlagForm.from_flag(flag), "notice": notice, "preview": preview}
        return render(request, "admin/flags/view.html", context, status_code=status_code)
    form = FlagForm.from_flag(flag)
    return _page(request, form, flag=flag, notice=notice, preview=preview, status_code=status_code)


@router.post(HOME + "/{key}")
async def save_flag(request: Request, key: str, principal: FlagEditor, flags: FlagsDep) -> Response:
    form = FlagForm.from_form(await request.form())
    form.key = key
    payload, errors = form.payload()
    seen = form.loaded_version
    try:
        stored = await flags.get_flag(principal, key)
        if errors:
            all_errors = errors | schema_errors(payload, errors)
            return _page(request, form, flag=stored, errors=all_errors, status_code=422)
        await flags.replace_flag(principal, key, payload, [etag_for(seen)] if seen is not None else [])
    except ValidationError as invalid:
        return _page(request, form, flag=stored, errors=field_errors(invalid), status_code=422)
    except PreconditionFailed:
        return await _conflict(request, form, principal, flags, key)
    except FlagNotFound:
        return _deleted_meanwhile(request, form)
    return see_other(f"{HOME}/{key}?saved=1")


async def _conflict(
    request: Request, form: FlagForm, principal: Principal, flags: FlagsService, key: str
) -> Response:
    """Someone saved first: keep what was typed, show theirs beside it, and load their version."""
    try:
        latest = await flags.get_flag(principal, key)
    except FlagNotFound:
        return _deleted_meanwhile(request, form)
    theirs = FlagForm.from_flag(latest)
    conflict = {"differences": form.differences(theirs), "version": latest.version, "at": latest.updated_at}
    form.version = theirs.version  # saving again now is a deliberate choice to replace theirs
    return _page(request, form, flag=latest, conflict=conflict, status_code=409)


def _deleted_meanwhile(request: Request, form: FlagForm) -> Response:
    form.version = ""
    message = (
        "Someone deleted this flag while you were editing it. Your values are kept below: "
        "create it again with them, or leave this page to let it go."
    )
    return _page(request, form, message=message, status_code=404)


@router.post(HOME + "/{key}/delete")
async def delete_flag(request: Request, key: str, principal: FlagEditor, flags: FlagsDep) -> Response:
    form = await request.form()
    version = str(form.get("version") or "")
    flag = await flags.get_flag(principal, key)
    context: dict[str, Any] = {"flag": flag, "version": version, "changed": False}
    if form.get("confirm") != "yes":
        return render(request, "admin/flags/delete.html", context)
    seen = [etag_for(int(version))] if version.isdecimal() and len(version) < 10 else []
    try:
        await flags.delete_flag(principal, key, seen)
    except PreconditionFailed:
        context["version"] = str(flag.version)
        context["changed"] = True
        return render(request, "admin/flags/delete.html", context, status_code=409)
    return see_other(f"{HOME}?deleted=1")
