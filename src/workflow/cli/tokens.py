"""``workflow tokens``: personal API tokens — create (shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated

import typer

from workflow.cli.errors import errors_to_exit
from workflow.cli.running import opened

app = typer.Typer(help="Personal API tokens.", no_args_is_help=True)


@app.command("create")
@errors_to_exit
def tokens_create(username: str, name: Annotated[str, typer.Option(help="What the token is for.")]) -> None:
    """Create a personal API token; it is printed once and only its hash is kept."""
    with opened() as services:
        token = services.auth.create_token(services.people.user_id(username), name)
    typer.echo(token.token)
    typer.echo(f"token #{token.id} '{token.name}' for {username}: keep it safe, it will not be shown again",
               err=True)


@app.command("list")
@errors_to_exit
def tokens_list(username: str) -> None:
    """List a person's tokens (names and prefixes, never the tokens)."""
    with opened() as services:
        tokens = services.auth.list_tokens(services.people.user_id(username))
    for token in tokens:
        state = "revoked" if token["revoked_at"] else "active"
        typer.echo(f"  #{token['id']:<4} {token['prefix']}…  {token['name']:<24} {state}")


@app.command("revoke")
@errors_to_exit
def tokens_revoke(username: str, token_id: int) -> None:
    """Revoke one of a person's tokens."""
    with opened() as services:
        services.auth.revoke_token(services.people.user_id(username), token_id)
    typer.echo(f"token #{token_id} revoked")
