"""``shelf feedback``: upkeep of feedback's personal data (for a daily cron job or a Kubernetes CronJob)."""

from __future__ import annotations

import typer

from shelf.app import Container
from shelf.cli.common import console, run_with_container

app = typer.Typer(help="Feedback upkeep.", no_args_is_help=True)


@app.command("erase-emails")
def erase_emails() -> None:
    """Erase the emails of feedback older than SHELF_FEEDBACK_EMAIL_RETENTION_DAYS now.

    Submissions erase them too (at most once an hour per process), and reads never show them,
    so this is for shops that receive little feedback and want the database itself clean on time.
    """

    async def work(container: Container) -> None:
        erased = await container.feedback.erase_expired_emails()
        days = container.settings.feedback_email_retention_days
        console.print(f"erased {erased} email(s) of feedback older than {days} days")
        typer.echo(erased)

    run_with_container(work)
