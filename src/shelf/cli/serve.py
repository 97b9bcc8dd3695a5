"""``shelf serve``: the HTTP server."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from shelf.cli.common import load_settings_or_exit


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API (and its reference at /docs)."""
    settings = load_settings_or_exit()  # fail fast on bad configuration, before forking workers
    uvicorn.run(
        "shelf.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        proxy_headers=True,
        timeout_graceful_shutdown=25,
        server_header=False,  # no need to tell the internet which server software answers
    )
