"""How a command opens what it works on: the services or the bare database (always closed again), the user it
acts as (``--as``), and the database address as it may be printed."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from workflow.config import Settings
from workflow.context import Services
from workflow.errors import NotFound, WorkflowError
from workflow.services.access import Caller
from workflow.store.database import Database
from workflow.store.migrate import require_current

Actor = Annotated[str, typer.Option("--as", help="The user you act as (default: your login name).")]


@contextmanager
def opened(*, migrate: bool = False) -> Iterator[Services]:
    """The services on the configured database, closed on the way out. Without ``migrate`` the schema must already
    be current (``SchemaNotCurrent`` names `workflow db upgrade`); only the commands that own the schema migrate."""
    services = Services.start(Settings(), migrate=migrate)
    try:
        yield services
    finally:
        services.close()


@contextmanager
def database(*, current: bool = True) -> Iterator[Database]:
    """The bare configured database (for commands that need no services), disposed on the way out; with
    ``current`` its schema must be the one this version needs."""
    opened_ = Database.from_settings(Settings())
    try:
        if current:
            require_current(opened_)
        yield opened_
    finally:
        opened_.dispose()


def default_actor() -> str:
    """Who ``--as`` means when it is not given: the login name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def caller(services: Services, username: str) -> Caller:
    """The user a command acts as (``--as``, else the login name)."""
    name = username or default_actor()
    try:
        return services.access.caller_by_name(name)
    except NotFound:
        raise WorkflowError(f"there is no user '{name}'; pass --as USERNAME (see `workflow users list`)") from None


def redacted(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
