"""``workflow analytics``: fold the histories into the analytics counts outside page requests (after a restore,
a change of WORKFLOW_TIMEZONE, or to check the counts against the histories)."""

from __future__ import annotations

import time

import typer

from workflow.cli.errors import errors_to_exit
from workflow.cli.running import opened

app = typer.Typer(help="Analytics: the counts folded from the histories.", no_args_is_help=True)


@app.command("fold")
@errors_to_exit
def analytics_fold() -> None:
    """Fold the events written since the last fold (every history the first time)."""
    with opened() as services:
        started = time.perf_counter()
        events = services.analytics.fold()
    typer.echo(f"folded {events} new event(s) in {time.perf_counter() - started:.1f} s")


@app.command("refold")
@errors_to_exit
def analytics_refold() -> None:
    """Drop the analytics counts and fold every history again."""
    with opened() as services:
        started = time.perf_counter()
        events = services.analytics.refold()
    typer.echo(f"refolded {events} event(s) in {time.perf_counter() - started:.1f} s")
