"""``workflow org``: load the organisation (units, people, roles) from YAML, list its units."""

from __future__ import annotations

from pathlib import Path

import typer

from workflow.cli.errors import errors_to_exit
from workflow.cli.running import opened
from workflow.services.access import Caller

app = typer.Typer(help="The organisation: org units, people and their roles.", no_args_is_help=True)


@app.command("load")
@errors_to_exit
def org_load(path: Path) -> None:
    """Add or update org units, people and their roles from a YAML file (all or nothing)."""
    from workflow.services.orgfile import read_org_file

    with opened() as services:
        org = read_org_file(path, known_roles=services.people.known_roles,
                            existing_units=services.people.unit_keys())
        report = services.people.load(org, by=Caller.system("cli"))
    typer.echo(f"org units: {report.units_added} added, {report.units_updated} updated; users: {report.users_added} "
               f"added, {report.users_updated} updated; {report.roles_added} role assignment(s) added")


@app.command("show")
@errors_to_exit
def org_show() -> None:
    """List the org units."""
    with opened() as services:
        units = services.people.units()
    for unit in units:
        typer.echo(f"  {unit['key']:<20} {unit['kind']:<12} {unit['name']}"
                   f"{'  (in ' + unit['parent'] + ')' if unit['parent'] else ''}")
