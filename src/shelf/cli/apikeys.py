"""``shelf apikeys``: keys for programs. The secret is printed once, as the last line."""

from __future__ import annotations

from typing import Annotated

import typer

from shelf.app import Container
from shelf.cli.common import console, run_with_container
from shelf.identity.permissions import Role

app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


@app.command()
def create(
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'storefront' or 'ci'.")],
    role: Annotated[Role, typer.Option(help="admin, editor, viewer or client.")] = Role.CLIENT,
) -> None:
    """Create an API key and print its secret (shown only this once; only a hash is kept)."""

    async def work(container: Container) -> None:
        issued = await container.identity.create_api_key(name, role)
        console.print(
            f"created {issued.key.role} key '{issued.key.name}' ({issued.key.id}); "
            "store the secret below now, it will not be shown again:"
        )
        typer.echo(issued.secret)

    run_with_container(work)
