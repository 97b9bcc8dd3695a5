"""HTTP helpers shared by the routes: exact JSON bodies in and out, and ETag header parsing."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from shelf.gateway.problems import MalformedBody, UnsupportedMediaType
from shelf.platform.jsonutil import dumps, loads

JSON_TYPES = ("application/json",)
MERGE_PATCH_TYPES = ("application/merge-patch+json", "application/json")


class JSONResponse(Response):
    """JSON rendered by ``jsonutil``, so ``Decimal`` values leave as exact numbers."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content).encode()


async def read_json(request: Request, accepted: tuple[str, ...] = JSON_TYPES) -> Any:
    """The request body parsed as JSON, with non-integer numbers as ``Decimal`` (never float)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in accepted:
        raise UnsupportedMediaType(
            f"send the body as {' or '.join(accepted)}, not {media_type or 'no content type'}"
        )
    raw = await request.body()
    try:
        return loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedBody(f"the body is not valid JSON: {error}") from None


def parse_etags(header: str | None) -> list[str] | None:
    """``If-Match`` / ``If-None-Match`` as a list of entity tags; ``None`` when absent."""
    if header is None:
        return None
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def weakly_matches(etag: str, candidates: list[str]) -> bool:
    """Weak comparison, as ``If-None-Match`` uses it (RFC 9110 13.1.2)."""
    bare = etag.removeprefix("W/")
    return any(c == "*" or c.removeprefix("W/") == bare for c in candidates)
