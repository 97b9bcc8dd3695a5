"""Uploads to temporary files, copied in chunks so a large file never sits in memory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from starlette.datastructures import UploadFile

CHUNK = 1 << 20


async def save_upload(upload: UploadFile) -> Path:
    """The upload as a file of its own, which the import job deletes when it ends."""
    handle, name = tempfile.mkstemp(prefix="shelf-import-", suffix=".upload")
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as target:
            while chunk := await upload.read(CHUNK):
                target.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)  # noqa: ASYNC240 - a local unlink, microseconds
        raise
    finally:
        await upload.close()
    return path
