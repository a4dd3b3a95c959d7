"""The ``workflow`` command: validate and show definitions, migrate the database, walk credentials.

Each command group lives in a module of its own; this one assembles them into one Typer application. Errors
become messages and exit codes in :mod:`workflow.cli.errors`; commands open the database through
:mod:`workflow.cli.running`.
"""

from __future__ import annotations

import typer

from workflow.cli import (
    analytics,
    audit,
    credentials,
    db,
    definitions,
    demo,
    org,
    outbox,
    plans,
    serve,
    timers,
    tokens,
    users,
)
from workflow.cli.serve import connection_budget

__all__ = ["app", "connection_budget", "main"]

app = typer.Typer(help="Workflow and approval engine for the lifecycle of micro-credentials.",
                  pretty_exceptions_enable=False, no_args_is_help=True)
app.command("backup")(db.backup_command)
app.command("restore")(db.restore_command)
app.command("scheduler")(serve.scheduler)
app.command("serve")(serve.serve)
app.add_typer(definitions.app, name="definitions")
app.add_typer(db.app, name="db")
app.add_typer(credentials.app, name="credentials")
app.add_typer(org.app, name="org")
app.add_typer(users.app, name="users")
app.add_typer(tokens.app, name="tokens")
app.add_typer(demo.app, name="demo")
app.add_typer(timers.app, name="timers")
app.add_typer(audit.app, name="audit")
app.add_typer(outbox.app, name="outbox")
app.add_typer(plans.app, name="plan")
app.add_typer(analytics.app, name="analytics")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="workflow")
