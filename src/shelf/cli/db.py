"""``shelf db``: schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from shelf.cli.common import console, load_settings_or_exit
from shelf.platform import migrations

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@app.command()
def upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database up to REVISION (default: the latest)."""
    settings = load_settings_or_exit()
    migrations.upgrade(settings, revision)
    console.print(f"database at revision {migrations.current_revision(settings)}")


@app.command()
def downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or 'base'.")]) -> None:
    """Migrate the database down to REVISION."""
    settings = load_settings_or_exit()
    migrations.downgrade(settings, revision)
    console.print(f"database at revision {migrations.current_revision(settings) or 'base'}")


@app.command()
def current() -> None:
    """Print the revision the database is at."""
    revision = migrations.current_revision(load_settings_or_exit())
    typer.echo(revision or "base (empty database)")
