"""``workflow plan``: a credential's plan — set its target launch date, show it, send the alerts of plans that
slipped."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from workflow.cli.errors import errors_to_exit
from workflow.cli.running import Actor, caller, opened
from workflow.errors import InvalidInput
from workflow.services.plan_views import PlanView

app = typer.Typer(help="Plans: target launch dates, baselines and forecasts.", no_args_is_help=True)


def _print(view: PlanView) -> None:
    typer.echo(f"#{view.credential_id} {view.title} — now in {view.state_title}")
    target = f"{view.target}{f' ({view.intake})' if view.intake else ''}" if view.target else "not set"
    typer.echo(f"  target launch: {target}; baseline launch: {view.baseline_launch or '—'}")
    slip = f", {view.slip_target:+d} days against the target" if view.slip_target is not None else ""
    typer.echo(f"  {'launched' if view.forecast.launched else 'forecast launch'}: {view.forecast.launch or '—'}{slip}")
    for p in view.phases:
        typer.echo(f"  {p.title:<28} baseline {p.baseline or '—'}  planned {p.planned or '—'}  "
                   f"ended {p.ended or '—'}  forecast {p.forecast or '—'}")


@app.command("target")
@errors_to_exit
def plan_target(
    credential_id: Annotated[int, typer.Argument(help="The credential's id.")],
    target: Annotated[str, typer.Argument(help="The target launch date, YYYY-MM-DD (a local day).")] = "",
    intake: Annotated[str, typer.Option(help="An intake the administrator set up (WORKFLOW_TERMS), instead "
                                             "of a date.")] = "",
    reason: Annotated[str, typer.Option(help="Why (needed when the target changes).")] = "",
    actor: Actor = "",
) -> None:
    """Set a credential's target launch date (or intake); its phases are planned back from it."""
    try:
        day = date.fromisoformat(target) if target else None
    except ValueError:
        raise InvalidInput("target", f"'{target}' is not a date: give it as YYYY-MM-DD") from None
    with opened() as services:
        by = caller(services, actor)
        version = services.plans.set_target(credential_id=credential_id, target=day, intake=intake, reason=reason,
                                            by=by)
        typer.echo(f"credential {credential_id} planned (version {version})")
        _print(services.plans.views.get(credential_id, by=by))


@app.command("show")
@errors_to_exit
def plan_show(credential_id: Annotated[int, typer.Argument(help="The credential's id.")], actor: Actor = "") -> None:
    """Show a credential's plan, what happened and the forecast."""
    with opened() as services:
        _print(services.plans.views.get(credential_id, by=caller(services, actor)))


@app.command("alerts")
@errors_to_exit
def plan_alerts() -> None:
    """Send the alerts of plans that slipped now (the scheduler does it every hour)."""
    with opened() as services:
        typer.echo(f"sent {services.plans.run_alerts()} plan alert(s)")
