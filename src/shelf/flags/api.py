"""REST routes of flag definitions. Each one parses, calls one service function, shapes the response.

Viewers read, editors write (``FLAGS_READ`` / ``FLAGS_WRITE``); a change is a JSON merge patch at
the version ``If-Match`` names, as for products. Evaluation is OFREP's (``flags.ofrep``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from starlette.responses import Response

from shelf.flags.schemas import FlagList, FlagRead, FlagWrite
from shelf.flags.service import FlagsService, etag_for
from shelf.gateway.auth import PrincipalDep
from shelf.gateway.http import MERGE_PATCH_TYPES, JSONResponse, parse_etags, read_json

router = APIRouter(prefix="/api/v1/flags", tags=["flags"])
IfMatch = Annotated[str | None, Header(alias="If-Match")]


async def _flags(request: Request) -> FlagsService:
    service: FlagsService = request.app.state.container.flags
    return service


FlagsDep = Annotated[FlagsService, Depends(_flags)]


def _response(flag: FlagRead, status_code: int = 200, **headers: str) -> Response:
    return JSONResponse(
        flag.model_dump(mode="json"),
        status_code=status_code,
        headers={"ETag": etag_for(flag.version), **headers},
    )


@router.post(
    "",
    status_code=201,
    response_model=FlagRead,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": FlagWrite.model_json_schema()}},
        }
    },
    summary="Create a flag",
)
async def create_flag(request: Request, flags: FlagsDep, principal: PrincipalDep) -> Response:
    principal.require_authenticated()
    created = await flags.create_flag(principal, await read_json(request))
    return _response(created, 201, Location=f"{router.prefix}/{created.key}")


@router.get("", response_model=FlagList, summary="List every flag, by key, with its stale mark")
async def list_flags(flags: FlagsDep, principal: PrincipalDep) -> Response:
    return JSONResponse((await flags.list_flags(principal)).model_dump(mode="json"))


@router.get("/{key}", response_model=FlagRead, summary="Read a flag")
async def get_flag(key: str, flags: FlagsDep, principal: PrincipalDep) -> Response:
    return _response(await flags.get_flag(principal, key))


@router.patch(
    "/{key}",
    response_model=FlagRead,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/merge-patch+json": {"schema": {"type": "object"}}},
        }
    },
    summary="Change a flag (JSON merge patch; needs If-Match)",
)
async def update_flag(
    key: str, request: Request, flags: FlagsDep, principal: PrincipalDep, if_match: IfMatch = None
) -> Response:
    principal.require_authenticated()
    patch = await read_json(request, MERGE_PATCH_TYPES)
    return _response(await flags.update_flag(principal, key, patch, parse_etags(if_match)))


@router.delete("/{key}", status_code=204, summary="Delete a flag (needs If-Match)")
async def delete_flag(
    key: str, flags: FlagsDep, principal: PrincipalDep, if_match: IfMatch = None
) -> Response:
    await flags.delete_flag(principal, key, parse_etags(if_match))
    return Response(status_code=204)
