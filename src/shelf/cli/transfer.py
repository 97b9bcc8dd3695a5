"""``shelf import`` and ``shelf export``: the catalog in and out of files.

Exit codes of ``shelf import``: 0 when every row landed (created, updated or unchanged), 1 when
some rows were refused (the good ones still landed; ``--errors-out`` writes the full report),
2 when the file cannot be used at all (nothing was imported).
"""

from __future__ import annotations

import asyncio
import csv
import sys
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from shelf.app import Container, build_container
from shelf.cli.common import console, load_settings_or_exit
from shelf.platform.errors import DomainError
from shelf.transfer.formats import Format, RowProblem, UnusableFile
from shelf.transfer.importer import ImportSummary
from shelf.transfer.service import CLI_OPERATOR, ERROR_REPORT_COLUMNS

EXIT_REJECTED = 1
EXIT_UNUSABLE = 2
SHOWN_PROBLEMS = 10
EXPORT_FORMATS = {"csv": Format.SHELF_CSV, "jsonl": Format.JSONL}


def import_(
    file: Annotated[Path, typer.Argument(help="The file: Shelf CSV, JSONL or a Shopify product export.")],
    file_format: Annotated[
        Format | None, typer.Option("--format", help="Override the format the name and header suggest.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and count; write nothing.")] = False,
    errors_out: Annotated[
        Path | None,
        typer.Option("--errors-out", help="Write every refused row here (CSV: row, field, message)."),
    ] = None,
    currency: Annotated[
        str, typer.Option(help="Currency of a Shopify export's prices (its file names none).")
    ] = "USD",
) -> None:
    """Import products, upserting by SKU: a second run of the same file changes nothing.

    Exit code 0: every row landed; 1: some rows were refused (the others landed); 2: unusable file.
    """
    settings = load_settings_or_exit()

    async def work(container: Container, report: IO[str] | None) -> ImportSummary:
        writer = csv.writer(report, lineterminator="\n") if report else None
        if writer is not None:
            writer.writerow(ERROR_REPORT_COLUMNS)

        async def write_problems(problems: list[RowProblem]) -> None:
            if writer is not None:
                writer.writerows((p.row, p.field, p.message) for p in problems)

        columns = (
            TextColumn("dry run" if dry_run else "importing"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("import", total=file.stat().st_size if file.is_file() else None, rows=0)

            async def advance(read: int, total: int, summary: ImportSummary) -> None:
                progress.update(task, completed=read, total=total, rows=summary.rows)

            summary = await container.transfer.import_file(
                CLI_OPERATOR,
                file,
                file_format=file_format,
                dry_run=dry_run,
                currency=currency,
                on_problems=write_problems,
                on_progress=advance,
            )
            progress.update(task, completed=file.stat().st_size)
        return summary

    async def runner() -> ImportSummary:
        container = build_container(settings)
        try:
            if errors_out is None:
                return await work(container, None)
            with errors_out.open("w", encoding="utf-8", newline="") as report:
                return await work(container, report)
        finally:
            await container.aclose()

    try:
        summary = asyncio.run(runner())
    except UnusableFile as error:
        console.print(f"[red]unusable file:[/] {error.detail}; nothing was imported")
        raise typer.Exit(EXIT_UNUSABLE) from None
    except DomainError as error:
        console.print(f"[red]error:[/] {error.detail}")
        raise typer.Exit(EXIT_UNUSABLE) from None
    _print_summary(summary, dry_run=dry_run, errors_out=errors_out)
    if summary.rejected:
        raise typer.Exit(EXIT_REJECTED)


def _print_summary(summary: ImportSummary, *, dry_run: bool, errors_out: Path | None) -> None:
    table = Table(title="dry run: nothing was written" if dry_run else "import")
    for name in ("rows", "created", "updated", "unchanged", "rejected"):
        table.add_column(name, justify="right")
    table.add_row(
        *(
            f"{value:,}"
            for value in (summary.rows, summary.created, summary.updated, summary.unchanged, summary.rejected)
        )
    )
    console.print(table)
    if summary.problems:
        problems = Table(title="refused rows" + (f" (all in {errors_out})" if errors_out else ""))
        for name in ERROR_REPORT_COLUMNS:
            problems.add_column(name)
        for problem in summary.problems[:SHOWN_PROBLEMS]:
            problems.add_row(str(problem.row), problem.field, problem.message)
        console.print(problems)
    # One plain, stable line for scripts (and tests) to read.
    console.print(
        f"{summary.created} created, {summary.updated} updated, {summary.unchanged} unchanged, "
        f"{summary.rejected} rejected",
        highlight=False,
    )


def export(
    export_format: Annotated[str, typer.Option("--format", help="csv (Shelf CSV) or jsonl.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Export every product, in a file ``shelf import`` reads back to "0 changed"."""
    chosen = EXPORT_FORMATS.get(export_format)
    if chosen is None:
        console.print("[red]error:[/] --format must be csv or jsonl")
        raise typer.Exit(EXIT_UNUSABLE)
    settings = load_settings_or_exit()

    async def write(target: IO[str]) -> None:
        container = build_container(settings)
        try:
            async for chunk in container.transfer.export(CLI_OPERATOR, chosen):
                target.write(chunk)
        finally:
            await container.aclose()

    if output is None:
        asyncio.run(write(sys.stdout))
        sys.stdout.flush()
    else:
        with output.open("w", encoding="utf-8", newline="") as target:
            asyncio.run(write(target))
    console.print(f"exported the catalog as {export_format}" + (f" to {output}" if output else ""))
