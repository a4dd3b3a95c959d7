"""``workflow audit verify``: walk each credential's hash chain and name the first broken link, and each decision,
checklist or data row the chain does not account for."""

from __future__ import annotations

from typing import Annotated

import typer

from workflow.cli.errors import errors_to_exit
from workflow.cli.progress import progress_bar
from workflow.cli.running import database
from workflow.store.database import Database

app = typer.Typer(help="The tamper-evident history: check each credential's hash chain.", no_args_is_help=True)


@app.command("verify")
@errors_to_exit
def audit_verify(credential: Annotated[list[int] | None, typer.Option(
        "--credential", help="Only this credential (repeat for more); default: all.")] = None) -> None:
    """Check every event's hash and link, each credential's head, and that the chain accounts for every decision,
    checklist entry, evidence file and data; exit 1 naming each first broken link, each row that is inserted,
    edited or deleted, and each evidence file altered or removed on disk."""
    from workflow.config import Settings
    from workflow.services.audit import verify_database
    from workflow.store.documents import FileStore

    documents = FileStore(Settings().documents_path)
    with database() as db:
        total = len(set(credential)) if credential is not None else lambda: _credentials(db)
        with progress_bar("verifying credentials", total) as progress:
            report = verify_database(db, credential, progress=progress, documents=documents)
    if report.ok:
        typer.echo(f"ok: {report.credentials} credentials, {report.events} events verified")
        return
    for cid in report.missing:
        typer.echo(f"error: there is no credential #{cid}", err=True)
    for finding in report.findings:
        typer.echo(str(finding))
    if not report.findings:
        raise typer.Exit(1)
    typer.echo(f"broken: {len({f.credential_id for f in report.findings})} of {report.credentials} credentials "
               f"({report.events} events read)")
    raise typer.Exit(1)


def _credentials(db: Database) -> int:
    """How many credentials there are (the length of the progress bar)."""
    from sqlalchemy import func, select

    from workflow.store.tables import CREDENTIAL

    with db.begin_read() as conn:
        return int(conn.execute(select(func.count()).select_from(CREDENTIAL)).scalar_one())
