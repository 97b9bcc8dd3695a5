"""The ``shelf`` command line: one module per command group."""

from __future__ import annotations

import typer

from shelf.cli import apikeys, db, feedback, seed, serve, transfer, users

app = typer.Typer(
    name="shelf",
    help="Shelf: a self-hosted product catalog platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.add_typer(db.app, name="db")
app.command("seed")(seed.seed)
app.add_typer(users.app, name="users")
app.add_typer(apikeys.app, name="apikeys")
app.add_typer(feedback.app, name="feedback")
app.command("import")(transfer.import_)
app.command("export")(transfer.export)


def main() -> None:
    app()
