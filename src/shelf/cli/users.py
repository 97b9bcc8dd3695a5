"""``shelf users``: people who sign in to the admin console."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from shelf.app import Container
from shelf.cli.common import console, run_with_container
from shelf.identity.permissions import Role

app = typer.Typer(help="Manage users.", no_args_is_help=True)


@app.command()
def create(
    email: Annotated[str, typer.Option(help="Sign-in email address.")],
    role: Annotated[Role, typer.Option(help="admin, editor or viewer.")] = Role.VIEWER,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user (the password is prompted for unless --password-stdin is given)."""
    if role == Role.CLIENT:
        console.print("[red]error:[/] 'client' is for API keys; users are admin, editor or viewer")
        raise typer.Exit(2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work(container: Container) -> None:
        user = await container.identity.create_user(email, password, role)
        console.print(f"created {user.role} {user.email} ({user.id})")

    run_with_container(work)
