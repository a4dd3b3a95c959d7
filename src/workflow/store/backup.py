"""Backups: every table of a database in one portable file, restorable on SQLite or PostgreSQL.

The file is gzip'd JSON lines: a header (format version, app version, Alembic revision, creation time, the tables
and their columns), then for each table in foreign-key order a ``{"table": name}`` line followed by one JSON array
per row, and an end line with the row count of every table. Values are written by column kind, so timestamps,
dates, JSON documents, bytes and booleans come back as they were, whichever database reads them.

Tables and columns are reflected from the live database, so whatever the migrations have added is included.
Rows are streamed both ways; a restore reads the whole file once to check it before it touches the target.

Evidence files (:mod:`workflow.store.documents`) follow the tables when a document store is given: for each
distinct file the ``evidence_document`` rows name, a ``{"blob": sha256, "size": n}`` line, its bytes as base64
text lines, and a ``{"blob_end": sha256}`` line. Both ways every file's SHA-256 is checked against its name, and a
restore refuses a backup missing a file its rows name.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import uuid
import zlib
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, Connection, DateTime, Engine, MetaData, Table, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import ForeignKeyConstraint, sort_tables_and_constraints
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import SQLModel

import workflow.store.people
import workflow.store.tables  # noqa: F401  (the models give each known column its exact type)
from workflow import __version__
from workflow.clock import Clock, SystemClock
from workflow.errors import BackupError
from workflow.store.database import Database
from workflow.store.documents import CHUNK, DocumentStore
from workflow.store.migrate import alembic_config

FORMAT = "workflow-backup"
FORMAT_VERSION = 1
BATCH = 1000
_SKIP = {"alembic_version"}
DOCUMENTS = "evidence_document"
BLOB_CHUNK = 3 * CHUNK // 4 * 3  # raw bytes per base64 line (a multiple of 3: no padding inside a file)
NO_LIMIT = 1 << 62


@dataclass(frozen=True)
class Summary:
    """What a backup wrote or a restore put back: the schema revision and the rows of each table."""

    path: Path
    revision: str
    rows: dict[str, int]


@dataclass(frozen=True)
class _TableSpec:
    name: str
    columns: list[tuple[str, str]]  # (column, kind)


# -- writing --------------------------------------------------------------------------------------------------


def backup(source: Database | Engine, path: Path, *, clock: Clock | None = None,
           progress: Callable[[int], None] | None = None, documents: DocumentStore | None = None) -> Summary:
    """Write every table of ``source`` to ``path`` from one consistent snapshot (the file appears only when whole),
    and with ``documents`` every evidence file the rows name. ``progress`` is told how many rows each step wrote.

    Raises:
        BackupError: if the database has no schema yet, the file cannot be written, or an evidence file is missing
            or altered in the document store.
    """
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    counts: dict[str, int] = {}
    try:
        with _snapshot(source) as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
            if revision is None:
                raise BackupError("the database has no schema yet (run `workflow db upgrade`); nothing to back up")
            tables = _reflect(conn)
            specs = [_TableSpec(t.name, [(c.name, _kind(c.type)) for c in t.columns]) for t in tables]
            header = {"format": FORMAT, "format_version": FORMAT_VERSION, "app_version": __version__,
                      "alembic_revision": revision, "created_at": (clock or SystemClock()).now().isoformat(),
                      "dialect": conn.dialect.name,
                      "tables": [{"name": s.name, "columns": [list(c) for c in s.columns]} for s in specs]}
            with gzip.open(partial, "wt", encoding="utf-8", compresslevel=6) as out:
                out.write(_dumps(header))
                for table, spec in zip(tables, specs, strict=True):
                    out.write(_dumps({"table": table.name}))
                    kinds = [kind for _, kind in spec.columns]
                    query = select(table).order_by(*(table.primary_key.columns or table.columns))
                    count = 0
                    for row in conn.execution_options(yield_per=BATCH).execute(query):
                        out.write(_dumps([_encode(kind, value) for kind, value in zip(kinds, row, strict=True)]))
                        count += 1
                        if progress is not None and count % BATCH == 0:
                            progress(BATCH)
                    if progress is not None and count % BATCH:
                        progress(count % BATCH)
                    counts[table.name] = count
                files = _write_blobs(conn, out, tables, documents) if documents is not None else 0
                out.write(_dumps({"end": counts, "documents": files} if files else {"end": counts}))
        os.replace(partial, path)
    except OSError as error:
        raise BackupError(f"cannot write the backup: {error.strerror or error}", path=path) from None
    except DBAPIError as error:
        raise BackupError(f"cannot read the database: {_first_line(error)}") from None
    finally:
        partial.unlink(missing_ok=True)
    return Summary(path, revision, counts)


def _write_blobs(conn: Connection, out: Any, tables: Sequence[Table], documents: DocumentStore) -> int:
    """Every distinct evidence file the rows name, checked against its SHA-256 as it is copied; how many."""
    table = next((t for t in tables if t.name == DOCUMENTS), None)
    if table is None:
        return 0
    shas = conn.execute(select(table.c.sha256).where(table.c.sha256 != "").distinct()
                        .order_by(table.c.sha256)).scalars().all()
    for sha in shas:
        digest = hashlib.sha256()
        size = 0
        try:
            stream = documents.open(sha)
        except FileNotFoundError:
            raise BackupError(f"the evidence file {sha} is missing from the document store (see `workflow audit "
                              "verify`); nothing was written") from None
        with stream:
            out.write(_dumps({"blob": sha}))
            while chunk := stream.read(BLOB_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(_dumps(base64.b64encode(chunk).decode("ascii")))
        if digest.hexdigest() != sha:
            raise BackupError(f"the evidence file {sha} was altered in the document store (its SHA-256 is now "
                              f"{digest.hexdigest()}; see `workflow audit verify`); nothing was written")
        out.write(_dumps({"blob_end": sha, "size": size}))
    return len(shas)


@contextmanager
def _snapshot(source: Database | Engine) -> Iterator[Connection]:
    """A read transaction that sees one moment of the database, whatever is written meanwhile."""
    engine = source.engine if isinstance(source, Database) else source
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn
    elif isinstance(source, Database):
        with source.begin_read() as conn:  # a deferred BEGIN: writers carry on (WAL)
            yield conn
    else:
        with engine.connect() as conn, conn.begin():
            if engine.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
                conn.exec_driver_sql("BEGIN")  # pysqlite would otherwise read each table at a different moment
            yield conn


def _reflect(conn: Connection) -> list[Table]:
    """The tables of the database in foreign-key order, each known column typed as the models type it."""
    metadata = MetaData()
    metadata.reflect(conn)
    for table in metadata.tables.values():
        known = SQLModel.metadata.tables.get(table.name)
        for column in table.columns:
            if known is not None and column.name in known.columns:
                column.type = known.columns[column.name].type
    ordered = [t for t, _ in _sorted(list(metadata.tables.values())) if t is not None]
    return [t for t in ordered if t.name not in _SKIP]


# Tables in foreign-key order, then ``(None, constraints)`` for the foreign keys that close a cycle.
_sorted = cast(Callable[[Sequence[Table]], list[tuple[Table | None, list[ForeignKeyConstraint]]]],
               sort_tables_and_constraints)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def _kind(type_: TypeEngine[Any]) -> str:
    """How a column's values are written: ``json``, ``datetime``, ``date``, ``time``, ``bytes``, ``decimal``,
    ``uuid``, ``interval`` or ``plain`` (numbers, text, booleans as they are)."""
    impl = type_.impl_instance if isinstance(type_, TypeDecorator) else type_
    if isinstance(impl, JSON):
        return "json"
    try:
        python_type = impl.python_type
    except NotImplementedError:
        return "plain"
    for kind, types in _KINDS:
        if issubclass(python_type, types):
            return kind
    return "plain"


_KINDS: list[tuple[str, type | tuple[type, ...]]] = [
    ("datetime", datetime), ("date", date), ("time", time), ("bytes", (bytes, bytearray, memoryview)),
    ("decimal", Decimal), ("uuid", uuid.UUID), ("interval", timedelta),
]


def _encode(kind: str, value: Any) -> Any:
    if value is None or kind in ("plain", "json"):
        return value
    if kind == "datetime":
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    if kind in ("date", "time"):
        return value.isoformat()
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind == "interval":
        return value.total_seconds()
    return str(value)  # decimal, uuid


def _decode(kind: str, value: Any) -> Any:
    """The value of a column of ``kind`` as written by ``_encode``; ValueError/TypeError if it cannot be one."""
    if value is None or kind in ("plain", "json"):
        return value
    if not isinstance(value, str) and kind != "interval":
        raise TypeError(f"expected text for a {kind}, found {type(value).__name__}")
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "time":
        return time.fromisoformat(value)
    if kind == "bytes":
        return base64.b64decode(value, validate=True)
    if kind == "interval":
        return timedelta(seconds=float(value))
    if kind == "decimal":
        return Decimal(value)
    if kind == "uuid":
        return uuid.UUID(value)
    raise ValueError(f"unknown column kind {kind!r}")


# -- reading --------------------------------------------------------------------------------------------------


class _Reader:
    """Reads a backup file line by line and checks its structure; every problem names the file and the line."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.line = 0
        if not self.path.is_file():
            raise BackupError("no such backup file", path=self.path)

    def fail(self, message: str) -> BackupError:
        return BackupError(message, path=self.path, line=max(self.line, 1))

    def _lines(self) -> Generator[Any, None, None]:
        self.line = 0
        try:
            with gzip.open(self.path, "rt", encoding="utf-8", newline="\n") as stream:
                for raw in stream:
                    self.line += 1
                    if not raw.endswith("\n"):
                        raise self.fail("the line is cut short: the file is truncated")
                    try:
                        yield json.loads(raw)
                    except ValueError as error:
                        raise self.fail(f"not valid JSON ({error})") from None
        except (EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError) as error:
            self.line += 1
            reason = "not a gzip file" if "Not a gzipped file" in str(error) else str(error) or type(error).__name__
            raise self.fail(f"the file is truncated or corrupt ({reason})") from None
        except OSError as error:
            raise BackupError(f"cannot read the file: {error.strerror or error}", path=self.path) from None

    def header(self) -> tuple[str, list[_TableSpec]]:
        """The schema revision and tables the first line announces."""
        with closing(self._lines()) as lines:
            return self._header(lines)

    def _header(self, lines: Iterator[Any]) -> tuple[str, list[_TableSpec]]:
        first = next(lines, None)
        if not isinstance(first, dict) or first.get("format") != FORMAT:
            raise self.fail("not a workflow backup (no backup header on the first line)")
        if first.get("format_version") != FORMAT_VERSION:
            raise self.fail(f"backup format version {first.get('format_version')!r} cannot be read by this version "
                            f"of workflow (it reads version {FORMAT_VERSION})")
        revision = first.get("alembic_revision")
        try:
            specs = [_TableSpec(str(t["name"]), [(str(c), str(k)) for c, k in t["columns"]])
                     for t in first["tables"]]
        except (KeyError, TypeError, ValueError):
            raise self.fail("the header's table list is malformed") from None
        if not isinstance(revision, str) or not specs:
            raise self.fail("the header names no schema revision or no tables")
        return revision, specs

    def rows(self, sink: DocumentStore | None = None) -> Iterator[tuple[_TableSpec, list[Any]]]:
        """Every row with its table, decoded; raises BackupError at the first thing out of place. The evidence
        files that follow the tables are checked against their SHA-256 (``self.blobs`` names them) and, with
        ``sink``, put into that store."""
        lines = self._lines()
        _, specs = self._header(lines)
        counts: dict[str, int] = {}
        pending = iter(specs)
        current: _TableSpec | None = None
        self.blobs: set[str] = set()
        self.named: set[str] = set()  # the files the evidence rows name
        blob: tuple[str, Any, Any] | None = None  # (sha, digest, incoming)
        for item in lines:
            if blob is not None:
                sha, digest, incoming = blob
                if isinstance(item, str):
                    try:
                        chunk = base64.b64decode(item, validate=True)
                    except ValueError:
                        raise self.fail(f"evidence file {sha}: not base64 text") from None
                    digest.update(chunk)
                    if incoming is not None:
                        incoming.write(chunk)
                    continue
                if not (isinstance(item, dict) and item.get("blob_end") == sha):
                    raise self.fail(f"evidence file {sha}: its bytes do not end with its end line")
                if digest.hexdigest() != sha:
                    if incoming is not None:
                        incoming.discard()
                    raise self.fail(f"evidence file {sha}: its bytes do not match its SHA-256 (the backup is "
                                    "damaged)")
                if incoming is not None:
                    incoming.keep()
                self.blobs.add(sha)
                blob = None
                continue
            if isinstance(item, dict) and "blob" in item:
                sha = str(item["blob"])
                blob = (sha, hashlib.sha256(), sink.receive(NO_LIMIT) if sink is not None else None)
                current = None
                continue
            if isinstance(item, list):
                if current is None:
                    raise self.fail("a row before any table")
                if len(item) != len(current.columns):
                    raise self.fail(f"table {current.name}: a row of {len(item)} values, expected "
                                    f"{len(current.columns)}")
                try:
                    values = [_decode(kind, v) for (_, kind), v in zip(current.columns, item, strict=True)]
                except (TypeError, ValueError) as error:
                    raise self.fail(f"table {current.name}: unreadable value ({error})") from None
                counts[current.name] += 1
                if current.name == DOCUMENTS:
                    named = dict(zip((c for c, _ in current.columns), values, strict=True)).get("sha256")
                    if named:
                        self.named.add(str(named))
                yield current, values
            elif isinstance(item, dict) and "table" in item:
                current = next(pending, None)
                if current is None or item["table"] != current.name:
                    raise self.fail(f"table {item['table']!r} is not the next one the header lists")
                counts[current.name] = 0
            elif isinstance(item, dict) and "end" in item:
                absent = sorted(self.named - self.blobs)
                if absent and (sink is not None or item.get("documents") is not None or self.blobs):
                    raise self.fail(f"the evidence file {absent[0]} that the rows name is not in the backup"
                                    f"{f' (and {len(absent) - 1} more)' if len(absent) > 1 else ''}")
                if int(item.get("documents", 0)) != len(self.blobs):
                    raise self.fail(f"the end line names {item.get('documents', 0)} evidence files, the backup holds "
                                    f"{len(self.blobs)}")
                missing = [s.name for s in pending]
                if missing or item["end"] != counts:
                    raise self.fail(f"the end line does not match the rows read (written {item['end']}, "
                                    f"read {counts}{', missing ' + ', '.join(missing) if missing else ''})")
                if next(lines, None) is not None:
                    raise self.fail("there is more after the end line")
                return
            else:
                raise self.fail("neither a row, a table nor the end line")
        raise self.fail(f"the file ends after line {self.line} without its end line: it is truncated")

    def check(self, specs: Sequence[_TableSpec], progress: Callable[[int], None] | None = None) -> dict[str, int]:
        """Read the whole file; the row count of every table if it is sound."""
        counts = {spec.name: 0 for spec in specs}
        read = 0
        for spec, _ in self.rows():
            counts[spec.name] += 1
            read += 1
            if progress is not None and read % BATCH == 0:
                progress(BATCH)
        if progress is not None and read % BATCH:
            progress(read % BATCH)
        return counts


# -- restoring ------------------------------------------------------------------------------------------------


def restore(database: Database, path: Path, *, force: bool = False,
            progress: Callable[[int], None] | None = None, documents: DocumentStore | None = None) -> Summary:
    """Put a backup into ``database``: its schema brought to the backup's revision, then every row, in one
    transaction. The file is read whole and checked first; nothing is changed if anything is wrong. ``progress``
    is told how many rows each step checked, then how many it inserted (so every row counts twice). With
    ``documents`` the evidence files the backup carries are put into that store, each checked against its SHA-256.

    Raises:
        BackupError: for an unreadable or foreign file, a revision this version does not know, a target that
            holds data (unless ``force``, which replaces it), or rows the target refuses.
    """
    reader = _Reader(path)
    revision, specs = reader.header()
    config = alembic_config(database)
    script = ScriptDirectory.from_config(config)
    order = [s.revision for s in reversed(list(script.walk_revisions()))]
    if revision not in order:
        raise BackupError(f"the backup's schema revision {revision!r} is newer than this version of workflow "
                          f"knows (newest here: {order[-1]}); restore it with the version that wrote it",
                          path=reader.path, line=1)
    counts = reader.check(specs, progress)
    try:
        with database.begin() as conn:
            _restore_into(conn, reader, config, order, revision, counts, force=force, progress=progress,
                          documents=documents)
    except DBAPIError as error:  # the database itself failed (rows it refused are reported with their lines)
        raise BackupError(f"cannot restore into the database: {_first_line(error)}") from None
    return Summary(reader.path, revision, counts)


def _restore_into(conn: Connection, reader: _Reader, config: Config, order: list[str], revision: str,
                  counts: dict[str, int], *, force: bool, progress: Callable[[int], None] | None = None,
                  documents: DocumentStore | None = None) -> None:
    """The restore's one transaction: empty target, schema at the backup's revision, rows, sequences."""
    current = MigrationContext.configure(conn).get_current_revision()
    if current is not None and current not in order:
        raise BackupError(f"the target database is at schema revision {current!r}, which this version of "
                          "workflow does not know")
    _empty_target(conn, set(SQLModel.metadata.tables) | set(counts), force=force)
    config.attributes["connection"] = conn
    try:
        if current is not None and order.index(current) > order.index(revision):
            command.downgrade(config, revision)  # only ever on empty tables
        else:
            command.upgrade(config, revision)
    except DBAPIError as error:
        raise BackupError(f"the target schema cannot be brought to revision {revision}: "
                          f"{_first_line(error)}") from None
    tables = {t.name: t for t in _reflect(conn)}
    absent = [name for name in counts if name not in tables]
    if absent:
        raise BackupError(f"the target schema at revision {revision} has no table {', '.join(absent)}",
                          path=reader.path)
    _insert_all(conn, reader, tables, progress, documents)
    if conn.dialect.name == "postgresql":
        _reset_sequences(conn, [tables[name] for name in counts])


def _empty_target(conn: Connection, managed: set[str], *, force: bool) -> None:
    """Refuse a target whose tables (of this application) hold rows, or (forced) empty them, children first."""
    tables = [t for t in _reflect(conn) if t.name in managed]
    held = {t.name: n for t in tables if (n := conn.execute(select(func.count()).select_from(t)).scalar_one())}
    if not held:
        return
    if not force:
        listing = ", ".join(f"{name}: {n}" for name, n in held.items())
        raise BackupError(f"the target database already holds rows ({listing}); restore into an empty database, "
                          "or pass --force to replace everything in it")
    for table in reversed(tables):
        conn.execute(table.delete())


def _insert_all(conn: Connection, reader: _Reader, tables: dict[str, Table],
                progress: Callable[[int], None] | None = None, documents: DocumentStore | None = None) -> None:
    """Insert every row of the file in batches. Foreign keys that may point at a later row of the same table are
    inserted empty and set once the whole table is in (only those rows' keys are kept meanwhile)."""
    deferred = _deferred_columns(list(tables.values()))
    batch: list[dict[str, Any]] = []
    later: list[tuple[dict[str, Any], dict[str, Any]]] = []
    lines = [0, 0]  # the first and last line of the rows in hand
    spec: _TableSpec | None = None

    def write(*, table_done: bool) -> None:
        if spec is None:
            return
        table = tables[spec.name]
        try:
            if batch:
                conn.execute(table.insert(), batch)
            if table_done:
                keys = list(table.primary_key.columns)
                for where, values in later:
                    conn.execute(update(table).where(*(c == where[c.name] for c in keys)).values(**values))
        except DBAPIError as error:
            raise BackupError(f"table {spec.name}: the target refused a row of lines {lines[0]}-{lines[1]} "
                              f"({_first_line(error)})", path=reader.path, line=lines[0]) from None
        if progress is not None and batch:
            progress(len(batch))
        batch.clear()
        if table_done:
            later.clear()

    for row_spec, values in reader.rows(documents):
        if row_spec is not spec:
            write(table_done=True)
            spec = row_spec
            table = tables[spec.name]
            unknown = [c for c, _ in spec.columns if c not in table.columns]
            if unknown:
                raise reader.fail(f"table {spec.name}: the target has no column {', '.join(unknown)}")
            aware = {c.name for c in table.columns if _is_aware(c.type)}
            held_back = deferred.get(spec.name, set())
            keys = [c.name for c in table.primary_key.columns]
        row = {name: _fit(value, name in aware) for (name, _), value in zip(spec.columns, values, strict=True)}
        postponed = {c: row[c] for c in held_back if row.get(c) is not None}
        if postponed:
            later.append(({k: row[k] for k in keys}, postponed))
            row |= dict.fromkeys(postponed)
        if not batch:
            lines[0] = reader.line
        lines[1] = reader.line
        batch.append(row)
        if len(batch) >= BATCH:
            write(table_done=False)
    write(table_done=True)


def _first_line(error: DBAPIError) -> str:
    lines = str(error.orig or error).strip().splitlines()
    return lines[0] if lines else type(error.orig).__name__


def _deferred_columns(tables: Sequence[Table]) -> dict[str, set[str]]:
    """Nullable foreign-key columns that may point at a row not inserted yet (to the same table, or in a cycle)."""
    cyclic = [fk for t, fks in _sorted(tables) if t is None for fk in fks]
    deferred: dict[str, set[str]] = {}
    for table in tables:
        for fk in [*table.foreign_key_constraints, *cyclic]:
            if fk.table is table and (fk.referred_table is table or fk in cyclic) and table.primary_key.columns:
                deferred.setdefault(table.name, set()).update(c.name for c in fk.columns if c.nullable)
    return deferred


def _is_aware(type_: TypeEngine[Any]) -> bool:
    impl = type_.impl_instance if isinstance(type_, TypeDecorator) else type_
    return isinstance(impl, DateTime) and bool(impl.timezone)


def _fit(value: Any, aware: bool) -> Any:
    """A timestamp as the target column keeps it: UTC-aware, or naive UTC (SQLite keeps no zone)."""
    if not isinstance(value, datetime):
        return value
    if aware:
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _reset_sequences(conn: Connection, tables: Sequence[Table]) -> None:
    """Move each PostgreSQL id sequence past the restored rows, so new rows do not collide with them."""
    quote = conn.dialect.identifier_preparer.quote
    for table in tables:
        for column in table.primary_key.columns:
            sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                    {"t": quote(table.name), "c": column.name}).scalar()
            if sequence is not None:
                conn.execute(text(f"SELECT setval(:s, COALESCE((SELECT MAX({quote(column.name)}) FROM "
                                  f"{quote(table.name)}), 0) + 1, false)"), {"s": sequence})

