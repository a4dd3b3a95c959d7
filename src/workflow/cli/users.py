"""``workflow users``: the people who sign in, their passwords and their roles."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from workflow.cli.errors import errors_to_exit
from workflow.cli.running import opened
from workflow.services.access import Caller

app = typer.Typer(help="People who sign in, and their roles.", no_args_is_help=True)


@app.command("create")
@errors_to_exit
def users_create(username: str, name: Annotated[str, typer.Option(help="Full name.")] = "",
                 email: str = "", admin: bool = False,
                 password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")]
                 = False) -> None:
    """Add a person (without a password they can only use API tokens)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with opened() as services:
        user_id = services.people.create_user(username=username, display_name=name, email=email,
                                              password=password, admin=admin, by=Caller.system("cli"))
    typer.echo(f"created user {username} (#{user_id})")


@app.command("list")
@errors_to_exit
def users_list() -> None:
    """List people and their roles."""
    with opened() as services:
        users = services.people.users(limit=10_000)
    for user in users:
        roles = ", ".join(f"{r['role']}@{r['unit'] or '#' + str(r['credential_id'])}" for r in user["roles"])
        flags = (" [admin]" if user["is_admin"] else "") + ("" if user["active"] else " [inactive]")
        typer.echo(f"  {user['username']:<20} {user['display_name']}{flags}  {roles}")


@app.command("set-password")
@errors_to_exit
def users_set_password(username: str) -> None:
    """Set a password, read from standard input."""
    password = sys.stdin.readline().rstrip("\n")
    with opened() as services:
        services.people.set_password(username=username, password=password, by=Caller.system("cli"))
    typer.echo(f"password set for {username}")


@app.command("assign")
@errors_to_exit
def users_assign(username: str, role: str, unit: Annotated[str, typer.Option(help="Org unit key.")] = "",
                 credential: Annotated[int | None, typer.Option(help="Credential id.")] = None) -> None:
    """Give a person a role for an org unit (and everything under it) or for one credential."""
    with opened() as services:
        services.people.assign(user_id=services.people.user_id(username), role=role, by=Caller.system("cli"),
                               unit_id=services.people.unit_id(unit) if unit else None, credential_id=credential)
    typer.echo(f"{username} is now {role} for {unit or f'credential #{credential}'}")


@app.command("deactivate")
@errors_to_exit
def users_deactivate(username: str) -> None:
    """Stop a person signing in or using their tokens (never the last active administrator)."""
    _change(username, "deactivated", active=False)


@app.command("reactivate")
@errors_to_exit
def users_reactivate(username: str) -> None:
    """Let a deactivated person sign in again."""
    _change(username, "active again", active=True)


@app.command("make-admin")
@errors_to_exit
def users_make_admin(username: str) -> None:
    """Make a person an administrator."""
    _change(username, "an administrator", admin=True)


@app.command("remove-admin")
@errors_to_exit
def users_remove_admin(username: str) -> None:
    """Make an administrator an ordinary user again (never the last active one)."""
    _change(username, "no longer an administrator", admin=False)


def _change(username: str, now: str, *, active: bool | None = None, admin: bool | None = None) -> None:
    with opened() as services:
        services.people.update_user(user_id=services.people.user_id(username), active=active, admin=admin,
                                    by=Caller.system("cli"))
    typer.echo(f"{username} is {now}")
