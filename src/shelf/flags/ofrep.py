"""The OpenFeature Remote Evaluation Protocol (OFREP, ``open-feature/protocol`` service/openapi.yaml),
so OpenFeature SDKs with their OFREP provider evaluate Shelf's flags unchanged.

- ``POST /ofrep/v1/evaluate/flags/{key}``: ``{"context": {...}}`` → 200 ``{key, value, reason,
  variant, metadata}``; 404 ``{key, errorCode: FLAG_NOT_FOUND, errorDetails}``; 400 ``{key,
  errorCode, errorDetails}`` for ``PARSE_ERROR``, ``TARGETING_KEY_MISSING``, ``INVALID_CONTEXT``.
- ``POST /ofrep/v1/evaluate/flags``: 200 ``{flags: [...]}`` with every flag (a flag that cannot be
  evaluated for this context is an item with its ``errorCode``) and an ``ETag``; 304 when
  ``If-None-Match`` names it; 400 ``{errorCode, errorDetails}`` when the request itself is bad.
- ``GET /ofrep/v1/configuration``: the name and capabilities.

Callers need ``FLAGS_EVALUATE``: any API key (``client`` keys included) or staff; a refusal is
Shelf's usual 401/403 problem. A multivariate flag's ``value`` is its variant's key (a string);
a variant's payload travels as JSON text in ``metadata.payload``.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request
from starlette.responses import Response

from shelf.flags.evaluation import ErrorCode, Evaluation
from shelf.flags.service import FlagsService, Unparsable
from shelf.gateway.auth import PrincipalDep
from shelf.gateway.http import parse_etags
from shelf.identity.permissions import Permission

router = APIRouter(prefix="/ofrep/v1", tags=["ofrep"])
JSON = "application/json"
POLLING_INTERVAL_MS = 30_000
CONFIGURATION = orjson.dumps(
    {
        "name": "Shelf",
        "capabilities": {
            "cacheInvalidation": {"polling": {"enabled": True, "minPollingIntervalMs": POLLING_INTERVAL_MS}},
            "flagEvaluation": {"supportedTypes": ["boolean", "string"]},
        },
    }
)
CONFIGURATION_ETAG = '"ofrep-configuration-1"'
_REQUEST_BODY = {
    "requestBody": {
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "properties": {"context": {"type": "object", "description": "The evaluation context"}},
                }
            }
        }
    }
}


async def _flags(request: Request) -> FlagsService:
    service: FlagsService = request.app.state.container.flags
    return service


FlagsDep = Annotated[FlagsService, Depends(_flags)]


async def context_of(request: Request) -> Any:
    """The request's ``context`` (``{}`` when there is none), or ``Unparsable``."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return Unparsable(f"the body is not valid JSON: {error}")
    if not isinstance(body, dict):
        return Unparsable('the body must be a JSON object such as {"context": {...}}')
    return body.get("context", {})


def success(evaluation: Evaluation) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if evaluation.payload is not None:
        metadata["payload"] = orjson.dumps(evaluation.payload).decode()
    return {
        "key": evaluation.key,
        "value": evaluation.value,
        "reason": evaluation.reason.value,
        "variant": evaluation.variant,
        "metadata": metadata,
    }


def failure(evaluation: Evaluation) -> dict[str, Any]:
    code = evaluation.error_code or ErrorCode.GENERAL
    return {"key": evaluation.key, "errorCode": code.value, "errorDetails": evaluation.error_message or ""}


class ItemEncoder:
    """Each answer's bulk item as JSON bytes, encoded once: the engine gives the same ``Evaluation``
    object to everyone who gets the same answer, so a bulk body is mostly joined, not encoded.

    Entries are keyed by the object's identity and hold the object, so an identity cannot be
    reused while its entry lives; failures (built per call) are encoded each time. At
    ``capacity`` entries everything is forgotten at once (definitions changed a lot since).
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._items: dict[int, tuple[Evaluation, bytes]] = {}

    def __call__(self, evaluation: Evaluation) -> bytes:
        if evaluation.error_code is not None:
            return orjson.dumps(failure(evaluation))
        entry = self._items.get(id(evaluation))
        if entry is not None and entry[0] is evaluation:
            return entry[1]
        encoded = orjson.dumps(success(evaluation))
        if len(self._items) >= self.capacity:
            self._items.clear()
        self._items[id(evaluation)] = (evaluation, encoded)
        return encoded

    def __len__(self) -> int:
        return len(self._items)

    def bulk(self, evaluations: list[Evaluation]) -> bytes:
        """``{"flags": [...]}``, byte for byte what ``orjson.dumps`` makes of the items."""
        return b'{"flags":[' + b",".join([self(each) for each in evaluations]) + b"]}"


_encode = ItemEncoder()


def _json(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type=JSON, headers=headers)


@router.post(
    "/evaluate/flags/{key}", openapi_extra=_REQUEST_BODY, summary="OFREP: evaluate one flag for a context"
)
async def evaluate_flag(key: str, request: Request, flags: FlagsDep, principal: PrincipalDep) -> Response:
    evaluation = await flags.ofrep_evaluate(principal, key, await context_of(request))
    if evaluation.error_code is ErrorCode.FLAG_NOT_FOUND:
        return _json(failure(evaluation), 404)
    if evaluation.failed:
        return _json(failure(evaluation), 400)
    return _json(success(evaluation))


@router.post(
    "/evaluate/flags", openapi_extra=_REQUEST_BODY, summary="OFREP: evaluate every flag for a context"
)
async def evaluate_flags(
    request: Request,
    flags: FlagsDep,
    principal: PrincipalDep,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    known = parse_etags(if_none_match)
    known = None if known is None else [tag.removeprefix("W/") for tag in known]
    bulk = await flags.ofrep_evaluate_all(principal, await context_of(request), known)
    if bulk.error is not None:
        error = failure(bulk.error)
        return _json({"errorCode": error["errorCode"], "errorDetails": error["errorDetails"]}, 400)
    headers = {"ETag": bulk.etag or "", "Cache-Control": "private, no-cache"}
    if bulk.evaluations is None:
        return Response(status_code=304, headers=headers)
    return Response(_encode.bulk(bulk.evaluations), media_type=JSON, headers=headers)


@router.get("/configuration", summary="OFREP: what this flag management system supports")
async def configuration(
    principal: PrincipalDep, if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None
) -> Response:
    principal.require(Permission.FLAGS_EVALUATE)
    headers = {"ETag": CONFIGURATION_ETAG}
    if CONFIGURATION_ETAG in (parse_etags(if_none_match) or []):
        return Response(status_code=304, headers=headers)
    return Response(CONFIGURATION, media_type=JSON, headers=headers)
