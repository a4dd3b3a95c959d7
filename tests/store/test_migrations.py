"""The Alembic migrations build exactly the schema the table models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from workflow.store.database import Database
from workflow.store.migrate import upgrade


def test_migrations_match_the_models_and_can_run_twice(database_url: str) -> None:
    database = Database(database_url)
    try:
        upgrade(database)
        upgrade(database)  # a second run finds nothing to do
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
            tables = set(inspect(connection).get_table_names())
        assert {"credential", "checklist_entry", "gate_decision", "event", "definition",
                "alembic_version"} <= tables
    finally:
        database.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: object) -> None:
    database = Database(f"sqlite:///{tmp_path}/w.db", busy_timeout=7)
    try:
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        database.dispose()
