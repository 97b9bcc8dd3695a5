"""What every command shares: settings, a container, clean error output."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from shelf.app import Container, build_container
from shelf.platform.errors import DomainError
from shelf.settings import Settings

T = TypeVar("T")
console = Console(stderr=True)


def load_settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for item in error.errors():
            console.print(f"[red]configuration error:[/] {item['msg']}")
        raise typer.Exit(2) from None


def run_with_container(work: Callable[[Container], Awaitable[T]]) -> T:
    """Run ``work`` with a container, turning domain errors into a message and exit code 1."""
    settings = load_settings_or_exit()

    async def runner() -> T:
        container = build_container(settings)
        try:
            return await work(container)
        finally:
            await container.aclose()

    try:
        return asyncio.run(runner())
    except DomainError as error:
        console.print(f"[red]error:[/] {error.detail}")
        raise typer.Exit(1) from None
