"""Statements sent straight to the database driver (the DBAPI cursor of a SQLAlchemy connection, inside its
transaction), for the hot path of actions: SQL text built once per process and database, values converted by the
columns' own SQLAlchemy types, so rows are stored and read exactly as Core would; driver errors are raised as
SQLAlchemy's, and the engine's cursor listeners still see every statement."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

Build = Callable[[str], tuple[str, Sequence[Column[Any]]]]
"""Makes a statement's SQL for a placeholder (``?`` or ``%s``), with the column each placeholder binds."""

_Convert = Callable[[Any], Any] | None


@dataclass(frozen=True)
class Raw:
    """One statement for the driver: its SQL text and how each positional value is converted."""

    sql: str
    binds: tuple[_Convert, ...]

    def values(self, params: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(v if convert is None else convert(v) for convert, v in zip(self.binds, params, strict=True))


_STATEMENTS: dict[tuple[str, Any], Raw] = {}
RESULTS: dict[str, tuple[_Convert, ...]] = {}


def statement(conn: Connection, key: Any, build: Build) -> Raw:
    """The statement ``key`` for the connection's dialect, built (by ``build(placeholder)``) once per process."""
    dialect = conn.dialect
    found = _STATEMENTS.get((dialect.name, key))
    if found is None:
        sql, columns = build("?" if dialect.paramstyle == "qmark" else "%s")
        found = _STATEMENTS[dialect.name, key] = Raw(sql, tuple(_bind(c, dialect) for c in columns))
    return found


def _bind(column: Column[Any], dialect: Dialect) -> _Convert:
    convert: _Convert = column.type._cached_bind_processor(dialect)
    return convert


def execute(conn: Connection, statement: Raw, params: Sequence[Any], *, many: bool = False) -> Any:
    """Run a statement on the connection's DBAPI cursor (in the connection's transaction); returns the cursor.
    Driver errors are raised as SQLAlchemy's (IntegrityError, OperationalError, ...), as Core would."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    values: Any = [statement.values(p) for p in params] if many else statement.values(params)
    dispatch = conn.dispatch  # the engine's cursor listeners still see the statement (tests, tracing)
    if dispatch.before_cursor_execute:
        dispatch.before_cursor_execute(conn, cursor, statement.sql, values, None, many)
    try:
        if many:
            cursor.executemany(statement.sql, values)
        else:
            cursor.execute(statement.sql, values)
    except conn.dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(statement.sql, values, error, conn.dialect.loaded_dbapi.Error,
                                  dialect=conn.dialect) from error
    if dispatch.after_cursor_execute:
        dispatch.after_cursor_execute(conn, cursor, statement.sql, values, None, many)
    return cursor


def insert_into(table: Table, columns: Sequence[str]) -> Build:
    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        return (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([p] * len(columns))})",
                [table.c[name] for name in columns])
    return build


def select_by_credential(conn: Connection, key: str, table: Table, columns: Sequence[str], tail: str,
            params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of ``SELECT columns FROM table WHERE credential_id = ? tail``, converted as SQLAlchemy would."""
    dialect = conn.dialect

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        return (f"SELECT {', '.join(columns)} FROM {table.name} WHERE credential_id = {p}{tail}",
                [table.c.credential_id])

    cursor = execute(conn, statement(conn, key, build), params)
    found = cursor.fetchall()
    cursor.close()
    results = RESULTS.get(f"{dialect.name}:{key}")
    if results is None:
        results = RESULTS[f"{dialect.name}:{key}"] = tuple(
            table.c[name].type._cached_result_processor(dialect, None) for name in columns)
    if not any(results):
        return [tuple(row) for row in found]
    return [tuple(v if convert is None or v is None else convert(v) for convert, v in zip(results, row, strict=True))
            for row in found]


def marks(p: str, n: int) -> str:
    return ", ".join([p] * n)
