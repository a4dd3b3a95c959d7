"""Database engines and the two kinds of session: read, and write (one transaction per user action).

On SQLite a write transaction takes the write lock up front (``BEGIN IMMEDIATE``) so that two writers never
both read the same old state; the file runs in WAL mode with a busy timeout. On PostgreSQL the services lock
the credential row they change (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from workflow.config import Settings

_BEGIN = "workflow_sqlite_begin"


class Database:
    """One database: its engine and sessions. Create one per process and share it."""

    def __init__(self, url: str, *, busy_timeout: float = 30.0, pool_size: int = 5) -> None:
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, connect_args={"timeout": busy_timeout, "check_same_thread": False},
                pool_size=pool_size, max_overflow=2 * pool_size,
            )
            _configure_sqlite(self.engine, busy_timeout)
        else:
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size, pool_pre_ping=True)
        self._read_engine = self.engine.execution_options(**{_BEGIN: "BEGIN"})

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The database the settings name."""
        return cls(settings.effective_database_url, busy_timeout=settings.sqlite_busy_timeout_seconds,
                   pool_size=settings.pool_size)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction: committed when the block ends, rolled back if it raises."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; it never takes the write lock."""
        with Session(self._read_engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in one write transaction, for the hot paths written with SQLAlchemy Core."""
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def begin_read(self) -> Iterator[Connection]:
        """A connection for reading with SQLAlchemy Core; it never takes the write lock."""
        with self._read_engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Straight to the driver: this runs before every transaction, and exec_driver_sql's machinery (events,
        # result set-up) would cost more than the BEGIN itself. Its errors are SQLAlchemy's, as they would be.
        begin = connection.get_execution_options().get(_BEGIN, "BEGIN IMMEDIATE")
        try:
            connection.connection.driver_connection.execute(begin)
        except sqlite3.Error as error:
            raise DBAPIError.instance(begin, (), error, sqlite3.Error, dialect=connection.dialect) from error
