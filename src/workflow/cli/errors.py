"""The one place where errors become what the ``workflow`` command prints and its exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from pydantic import ValidationError

from workflow.config import Settings
from workflow.errors import InvalidFile, TransitionNotAllowed, WorkflowError

F = TypeVar("F", bound=Callable[..., Any])


def errors_to_exit(func: F) -> F:
    """Print workflow errors plainly (no traceback) and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TransitionNotAllowed as error:
            typer.echo(f"refused: '{error.trigger}' from '{error.state}'", err=True)
            if error.unmet:
                typer.echo("missing:", err=True)
                for unmet in error.unmet:
                    typer.echo(f"  - {unmet}", err=True)
            else:
                typer.echo(f"  {error}", err=True)
            raise typer.Exit(1) from None
        except InvalidFile as error:
            for problem in error.problems:
                typer.echo(str(problem), err=True)
            typer.echo(f"{len(error.problems)} problem(s) found", err=True)
            raise typer.Exit(1) from None
        except WorkflowError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
        except ValidationError as error:
            if error.title != Settings.__name__:
                raise
            for issue in error.errors():  # a setting from the environment: name the variable
                where = "_".join(str(part) for part in issue["loc"]).upper()
                typer.echo(f"error: {'WORKFLOW_' + where + ': ' if where else ''}{issue['msg']}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]
