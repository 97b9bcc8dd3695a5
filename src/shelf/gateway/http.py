"""HTTP helpers shared by the routes: exact JSON bodies in and out, ETags and HTTP caching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

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


# A catalog read depends on who asks (staff see drafts), so every cache, shared or not, must key
# it on the credentials it was asked with.
VARY_ON_CREDENTIALS = "Authorization, Cookie"
# Staff representations may show drafts: no shared cache may keep them, and a browser that keeps
# one must revalidate it (cheap: a 304 carries no body) before each use.
PRIVATE_CACHE_CONTROL = "private, no-cache"


class Cacheable(Protocol):
    """A representation as it is sent (``catalog.service.Representation`` is one)."""

    @property
    def json(self) -> bytes: ...
    @property
    def etag(self) -> str: ...
    @property
    def public(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """``Cache-Control`` of cacheable reads: short-lived in shared caches when public, else private.

    A shared cache (a CDN, nginx's proxy cache) may serve a public read for ``max_age_seconds``
    after it fetched it, and for ``stale_while_revalidate_seconds`` more while it revalidates in the
    background; that is how long a write can take to reach clients behind such a cache. Shelf's own
    cache is invalidated at once and does not depend on these numbers.
    """

    max_age_seconds: int = 5
    stale_while_revalidate_seconds: int = 30

    def cache_control(self, public: bool) -> str:
        if not public:
            return PRIVATE_CACHE_CONTROL
        return (
            f"public, max-age={self.max_age_seconds}, "
            f"stale-while-revalidate={self.stale_while_revalidate_seconds}"
        )


def representation_response(
    representation: Cacheable, if_none_match: str | None, policy: CachePolicy
) -> Response:
    """200 with the body, or 304 when ``If-None-Match`` matches; both carry the caching headers.

    The route and the gateway's fast path both answer with this, so their headers cannot drift.
    """
    headers = {
        "ETag": representation.etag,
        "Cache-Control": policy.cache_control(representation.public),
        "Vary": VARY_ON_CREDENTIALS,
    }
    candidates = parse_etags(if_none_match)
    if candidates is not None and weakly_matches(representation.etag, candidates):
        return Response(status_code=304, headers=headers)  # RFC 9110 15.4.5: the same caching headers
    return Response(representation.json, media_type=JSONResponse.media_type, headers=headers)
