"""``workflow db upgrade``, ``workflow backup`` and ``workflow restore``: the commands that own the schema and
the whole database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workflow.cli.errors import errors_to_exit
from workflow.cli.progress import progress_bar
from workflow.cli.running import database, redacted
from workflow.clock import SystemClock
from workflow.config import Settings
from workflow.services.analytics import SETTLE
from workflow.store.analytics import fold
from workflow.store.backup import backup, restore
from workflow.store.documents import FileStore
from workflow.store.migrate import upgrade

app = typer.Typer(help="The database.", no_args_is_help=True)


@app.command("upgrade")
@errors_to_exit
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version, then fold the histories written since the
    last fold into the analytics counts (all of them the first time), so that no page request has to."""
    with database(current=False) as db:
        upgrade(db)
        typer.echo(f"database is up to date: {redacted(db.url)}")
        events = fold(db, now=SystemClock().now(), settle=SETTLE, day_of=Settings().days.day_of)
    typer.echo(f"analytics folded: {events} new event(s)")


@errors_to_exit
def backup_command(path: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write the backup.")]) -> None:
    """Write every table of the database to FILE (gzip'd JSON lines), as it stood at one moment, with every evidence
    file (each checked against its SHA-256)."""
    with database(current=False) as db, progress_bar(f"backing up to {path}", count=True) as progress:
        # (an older schema may be backed up, before an upgrade)
        summary = backup(db, path, progress=progress, documents=_documents())
    typer.echo(f"backup of {redacted(db.url)} (schema {summary.revision}) written to {path}:")
    _print_counts(summary.rows)


@errors_to_exit
def restore_command(path: Annotated[Path, typer.Argument(metavar="FILE", help="A file `workflow backup` wrote.")],
                    force: Annotated[bool, typer.Option("--force", help="Replace whatever the database holds.")]
                    = False) -> None:
    """Put a backup into the database (empty, unless --force), then bring its schema up to date."""
    with database(current=False) as db:
        with progress_bar(f"restoring {path}") as progress:
            summary = restore(db, path, force=force, progress=progress, documents=_documents())
        upgrade(db)
    typer.echo(f"restored {path} (schema {summary.revision}) into {redacted(db.url)}:")
    _print_counts(summary.rows)
    typer.echo("database is up to date")


def _documents() -> FileStore:
    """The configured store of evidence files (backed up and restored with the tables)."""
    return FileStore(Settings().documents_path)


def _print_counts(rows: dict[str, int]) -> None:
    for table, count in rows.items():
        typer.echo(f"  {table:<20} {count:>8}")
    typer.echo(f"  {'(all tables)':<20} {sum(rows.values()):>8}")
