"""``workflow timers``: list the timers (content reviews, expiries, reminders, escalations) by due time."""

from __future__ import annotations

from typing import Annotated

import typer

from workflow.cli.errors import errors_to_exit
from workflow.cli.running import opened

app = typer.Typer(help="Timers: content reviews, expiries, reminders, escalations.", no_args_is_help=True)


@app.command("list")
@errors_to_exit
def timers_list(due: Annotated[bool, typer.Option("--due", help="Only those due now.")] = False,
                status: Annotated[str, typer.Option(help="pending, running, done or cancelled.")] = "pending",
                limit: int = 50) -> None:
    """List timers by due time."""
    with opened() as services:
        now = services.clock.now()
        rows = services.timers.listing(status=status, due_before=now if due else None, limit=limit)
        counts = services.timers.counts()
    for t in rows:
        late = "  (due)" if t.status == "pending" and t.due_at <= now else ""
        typer.echo(f"  {t.due_at:%Y-%m-%d %H:%M}  #{t.credential_id:<5} {t.action:<8} {t.key:<28} {t.title}{late}"
                   f"{'  ' + t.outcome if t.outcome else ''}")
    typer.echo(f"({len(rows)} shown; {counts['due_now']} due now; by status: {counts['by_status']})")
