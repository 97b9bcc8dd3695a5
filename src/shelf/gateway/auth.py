"""Authentication: ``Authorization: Bearer <api key>`` resolves to a ``Principal``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shelf.identity.permissions import ANONYMOUS, Principal
from shelf.identity.service import IdentityService
from shelf.platform.errors import Unauthenticated


def _identity(request: Request) -> IdentityService:
    service: IdentityService = request.app.state.container.identity
    return service


async def current_principal(
    request: Request, identity: Annotated[IdentityService, Depends(_identity)]
) -> Principal:
    header = request.headers.get("authorization")
    if header is None:
        return ANONYMOUS
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthenticated("use 'Authorization: Bearer <api key>'")
    return await identity.authenticate_api_key(credentials.strip())


PrincipalDep = Annotated[Principal, Depends(current_principal)]
