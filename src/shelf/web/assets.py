"""First-party static assets (CSS, JavaScript, icons), served by Shelf itself from the package.

No build step and no CDN: the files under ``web/static/`` are shipped as package data and served
at ``/static/``. Each URL a page links to carries the file's content hash (``?v=<hash>``), so
a browser may keep it for a year (``immutable``); a new release changes the hash and therefore the
URL. A request without the current hash (an old page, a hand-typed URL) must revalidate
(``no-cache``), which costs a 304 thanks to the ETag Starlette adds.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


class StaticAssets:
    """The asset manifest: each file's content hash, read once when the app is built."""

    def __init__(self, directory: Path = STATIC_DIR, prefix: str = STATIC_PREFIX) -> None:
        self.directory = directory
        self.prefix = prefix
        self.versions = {
            path.relative_to(directory).as_posix(): _digest(path)
            for path in sorted(directory.rglob("*"))
            if path.is_file()
        }

    def url(self, name: str) -> str:
        """The cache-busting URL of ``name`` (``css/shelf.css``); an unknown name is a bug, not a 404."""
        try:
            version = self.versions[name]
        except KeyError:
            raise LookupError(f"no static asset named {name!r} in {self.directory}") from None
        return f"{self.prefix}/{name}?v={version}"

    def files(self) -> StaticFiles:
        return CachedStaticFiles(directory=self.directory, versions=self.versions)


class CachedStaticFiles(StaticFiles):
    def __init__(self, *, directory: Path, versions: dict[str, str]) -> None:
        super().__init__(directory=directory)
        self.versions = versions

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        name = Path(full_path).resolve().relative_to(Path(str(self.directory)).resolve()).as_posix()
        requested = QueryParams(scope.get("query_string", b"").decode("latin-1")).get("v")
        current = self.versions.get(name)
        fresh = current is not None and requested == current
        response.headers["Cache-Control"] = IMMUTABLE if fresh else REVALIDATE
        return response
