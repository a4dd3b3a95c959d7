"""``workflow demo``: the demo college with credentials in several phases, or ``demo generate``, a consortium
with consistent histories at any scale."""

from __future__ import annotations

from typing import Annotated

import typer

from workflow.cli.errors import errors_to_exit
from workflow.cli.progress import progress_bar
from workflow.cli.running import opened
from workflow.services.access import Caller

app = typer.Typer(help="Demo data: the demo college, or a generated consortium at any scale.")


@app.callback(invoke_without_command=True)
@errors_to_exit
def demo(ctx: typer.Context) -> None:
    """Load the demo organisation and, into an empty database, demo credentials in several phases."""
    if ctx.invoked_subcommand is not None:
        return
    from workflow.demo.college import PASSWORD, seed

    with opened() as services:
        created = seed(services)
        if created:
            typer.echo(f"demo data: created credentials {', '.join(f'#{c}' for c in created)}")
        else:
            typer.echo("demo data: the database already holds credentials; none added")
        rows, _ = services.views.search(by=Caller.system())
        for row in rows:
            typer.echo(f"  #{row.id:<4} {row.state:<12} {row.title}")
        typer.echo(f"\ndemo logins (password for all: {PASSWORD}):")
        for user in services.people.users():
            roles = ", ".join(f"{r['role']}@{r['unit'] or '#' + str(r['credential_id'])}" for r in user["roles"])
            typer.echo(f"  {user['username']:<16} {'admin' if user['is_admin'] else roles}")


@app.command("generate")
@errors_to_exit
def demo_generate(
    credentials: Annotated[int, typer.Option(help="How many credentials to add.")],
    years: Annotated[int, typer.Option(help="Years of history, ending now.")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 1,
    batch: Annotated[int, typer.Option(help="Credentials per transaction.")] = 500,
) -> None:
    """Fill the database with a consortium and CREDENTIALS credentials with consistent histories."""
    from workflow.demo.generate import check_arguments, generate

    check_arguments(credentials, years, batch)
    with opened() as services, progress_bar(f"generating {credentials:,} credentials", credentials,
                                            announce=True) as progress:
        report = generate(services, credentials=credentials, years=years, seed=seed, batch=batch,
                          progress=progress)
    states = ", ".join(f"{state} {count:,}" for state, count in sorted(report.by_state.items()))
    typer.echo(f"generated {report.credentials:,} credentials with {report.events:,} events "
               f"({report.rows:,} rows) in {report.seconds:.1f} s: {report.rows_per_second:,.0f} rows/s")
    if states:
        typer.echo(f"by state: {states}")
