"""``workflow outbox``: see whether email is getting out, and queue dead messages again, all at once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from workflow.cli.errors import errors_to_exit
from workflow.cli.running import opened
from workflow.services.access import Caller
from workflow.services.outbox import KIND_TITLES, DeadFilter

app = typer.Typer(help="The email outbox: delivery health, and retrying dead messages.", no_args_is_help=True)
OPERATOR = Caller.system("cli")
Day = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="A day, year-month-day (local time).")]


@app.command("retry")
@errors_to_exit
def outbox_retry(dead: Annotated[bool, typer.Option("--dead", help="Retry the dead messages (required).")] = False,
                 kind: Annotated[str | None, typer.Option(help=f"Only this kind: {', '.join(KIND_TITLES)}.")] = None,
                 recipient: Annotated[str | None, typer.Option(help="Only those to this address.")] = None,
                 since: Day = None, until: Day = None) -> None:
    """Queue every dead message (of a kind, to an address, created from --since to --until) again, in one go."""
    if not dead:
        typer.echo("error: say which messages to retry: --dead", err=True)
        raise typer.Exit(2)
    if kind is not None and kind not in KIND_TITLES:
        typer.echo(f"error: there is no kind of message '{kind}'; one of: {', '.join(KIND_TITLES)}", err=True)
        raise typer.Exit(2)
    with opened() as services:
        chosen = DeadFilter.days(services.settings.timezone, kind=kind, recipient=recipient,
                                 since=since.date() if since else None, until=until.date() if until else None)
        retried = services.outbox.retry_dead(chosen, by=OPERATOR)
        left = services.outbox.dead_count(DeadFilter(), by=OPERATOR)
    typer.echo(f"{retried} dead message{'s' if retried != 1 else ''} queued again; {left} still dead.")


@app.command("health")
@errors_to_exit
def outbox_health() -> None:
    """Whether the mail server answers; exit 1 while it does not."""
    with opened() as services:
        status = services.outbox.mail_status(by=OPERATOR)
    if status.failing_since is None:
        last = f"{status.last_success_at:%Y-%m-%d %H:%M} UTC" if status.last_success_at else "never"
        typer.echo(f"ok: {status.waiting} waiting, {status.dead} dead; last delivery {last}")
        return
    typer.echo(f"failing since {status.failing_since:%Y-%m-%d %H:%M} UTC ({status.last_error}); "
               f"{status.waiting} waiting, next try {status.next_try_at:%H:%M} UTC")
    raise typer.Exit(1)
