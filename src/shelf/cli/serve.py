"""``shelf serve``: the HTTP server."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from shelf.cli.common import load_settings_or_exit
from shelf.monitoring.logging import configure_logging
from shelf.monitoring.metrics import MULTIPROCESS_DIR_VARIABLE


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API (and its reference at /docs)."""
    settings = load_settings_or_exit()  # fail fast on bad configuration, before forking workers
    configure_logging(settings.log_format, settings.log_level)  # uvicorn's lines too (log_config=None)
    with _shared_metrics(workers):
        uvicorn.run(
            "shelf.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level,
            log_config=None,  # Shelf's logging renders uvicorn's records (JSON with SHELF_LOG_FORMAT=json)
            access_log=False,  # replaced by Shelf's own "request" line, which has the ids and the route
            proxy_headers=True,
            timeout_graceful_shutdown=25,
            server_header=False,  # no need to tell the internet which server software answers
        )


@contextmanager
def _shared_metrics(workers: int) -> Iterator[None]:
    """With several workers, one directory where they all write their metrics (see monitoring/metrics).

    Workers are separate processes and a scrape reaches one of them; prometheus-client's
    multiprocess mode lets that one report every worker's values. The directory must start empty:
    a fresh one is made and removed afterwards, or one named by ``PROMETHEUS_MULTIPROC_DIR`` is
    emptied of earlier runs' files first.
    """
    given = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield
        return
    if workers == 1:
        yield
        return
    directory = tempfile.mkdtemp(prefix="shelf-metrics-")
    os.environ[MULTIPROCESS_DIR_VARIABLE] = directory  # inherited by the workers uvicorn starts
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_DIR_VARIABLE, None)
        shutil.rmtree(directory, ignore_errors=True)
