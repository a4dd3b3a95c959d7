"""Schema migrations (Alembic), run programmatically by ``workflow db upgrade`` and at start-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from workflow.errors import WorkflowError
from workflow.store import waiting
from workflow.store.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database: Database) -> Config:
    """An Alembic configuration pointing at this package's migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


DERIVED: dict[str, Callable[[Connection], int]] = {"0009": waiting.rebuild_from_stored}
"""Revisions that create a table derived by live code (which a migration may not use), and what fills it."""


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (the newest by default), and fill the derived tables the upgrade
    created (see :data:`DERIVED`), in the same transaction."""
    config = alembic_config(database)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(config, revision)
        after = MigrationContext.configure(connection).get_current_revision()
        if after is None or after == before:
            return
        script = ScriptDirectory.from_config(config)
        applied = {s.revision for s in script.iterate_revisions(after, before or "base")}
        for created, fill in DERIVED.items():
            if created in applied:
                fill(connection)


class SchemaNotCurrent(WorkflowError):
    """The database's schema is missing, older or newer than this version of workflow needs."""

    def __init__(self, current: str | None, head: str, *, known: bool = True) -> None:
        self.current = current
        self.head = head
        if not known:
            message = (f"the database is at schema {current}, which this version of workflow does not know "
                       f"(it needs {head}); use the version that upgraded it")
        else:
            schema = f"schema {current}" if current is not None else "no schema yet"
            message = f"the database is not up to date ({schema}, this version needs {head}); run `workflow db upgrade`"
        super().__init__(message)


def head_revision(database: Database) -> str:
    """The newest schema revision this version of workflow knows."""
    head = ScriptDirectory.from_config(alembic_config(database)).get_current_head()
    assert head is not None
    return head


def current_revision(database: Database) -> str | None:
    """The schema revision the database is at (None when it has no schema yet)."""
    with database.begin_read() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def require_current(database: Database) -> None:
    """Check, without changing anything, that the schema is exactly the one this version needs.

    Raises:
        SchemaNotCurrent: if the schema is missing, behind (run ``workflow db upgrade``) or unknown.
    """
    current, head = current_revision(database), head_revision(database)
    if current == head:
        return
    script = ScriptDirectory.from_config(alembic_config(database))
    known = current is None or any(s.revision == current for s in script.walk_revisions())
    raise SchemaNotCurrent(current, head, known=known)
