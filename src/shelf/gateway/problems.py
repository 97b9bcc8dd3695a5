"""RFC 9457 problem details: every error leaves Shelf as ``application/problem+json``.

Domain errors are mapped to HTTP statuses here, in one table, and nowhere else.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, cast

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shelf.gateway.context import request_id_var
from shelf.platform import errors
from shelf.platform.jsonutil import dumps

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger(__name__)

STATUS_OF: list[tuple[type[errors.DomainError], int]] = [
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.PreconditionRequired, 428),
    (errors.PreconditionFailed, 412),
    (errors.InvalidInput, 422),
    (errors.TooManyRequests, 429),
    (errors.ServiceUnavailable, 503),
]


class MalformedBody(errors.DomainError):
    """The body is not parseable JSON (400)."""


class UnsupportedMediaType(errors.DomainError):
    """The body is not in a media type the route accepts (415)."""


STATUS_OF += [(MalformedBody, 400), (UnsupportedMediaType, 415)]


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "request_id": request_id_var.get(),
        **extra,
    }
    return Response(dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_errors(error: ValidationError | RequestValidationError) -> list[dict[str, str]]:
    """One entry per bad field: where it is (``price.amount``) and what is wrong, in plain words."""
    result = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        where = "body"
        if location and location[0] in ("body", "query", "path", "header"):
            where, location = location[0], location[1:]
        message = str(item["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        result.append({"field": ".".join(location) or where, "in": where, "message": message})
    return result


def _domain_error(_request: Request, exc: Exception) -> Response:
    exc = cast(errors.DomainError, exc)
    status = next(code for kind, code in STATUS_OF if isinstance(exc, kind))
    headers = {"WWW-Authenticate": 'Bearer realm="shelf"'} if status == 401 else None
    if isinstance(exc, errors.TooManyRequests | errors.ServiceUnavailable):
        headers = {"Retry-After": str(exc.retry_after)}
    extra: dict[str, Any] = {k: v for k, v in exc.extra.items() if isinstance(v, str | int)}
    if isinstance(exc, errors.InvalidInput):
        extra["errors"] = exc.errors
    return problem(status, exc.detail, headers=headers, **extra)


def _validation_error(_request: Request, exc: Exception) -> Response:
    exc = cast(ValidationError | RequestValidationError, exc)
    return problem(
        422,
        "the request has invalid fields; see 'errors'",
        title="Validation failed",
        errors=field_errors(exc),
    )


def _http_error(_request: Request, exc: Exception) -> Response:
    exc = cast(StarletteHTTPException, exc)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem(exc.status_code, detail, headers=dict(exc.headers or {}))


def _unexpected_error(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled_error", exc_info=exc)
    return problem(500, "an unexpected error occurred; it has been logged with this request id")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, _domain_error)
    app.add_exception_handler(ValidationError, _validation_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
