"""The one write path of a credential's history: every event, its place in the hash chain, the credential's new
version and chain head, its checklist entries and gate decisions, its timers and the outbox messages an action
causes are written here and nowhere else.

Live actions (the services), the demo generator and anything else that records what happened to a credential
build their rows with the same functions, so that a history written by any of them verifies the same way
(``workflow audit verify``). An action writes its rows inside its own transaction; the generator writes many
credentials' rows with :func:`write_batch`.

Every event row carries ``hash`` = SHA-256 over a canonical serialisation of its content together with
``prev_hash``, the hash of the credential's previous event (:data:`GENESIS` for the first); the hash is the
frozen version 1 of :mod:`workflow.store.frozen`. The credential row keeps the chain head (``chain_seq``,
``chain_hash``), so deleting the newest events is noticed too.

The statements of a live action (lock, version bump, events, checklist entry, decision, outbox) go to the
DBAPI cursor of the action's connection as SQL text built once per dialect, with the values converted by the
columns' own SQLAlchemy types (so that they are stored exactly as through Core); the rest is SQLAlchemy Core,
built once. On this path ORM objects — and even Core's per-statement machinery — cost more than the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BindParameter, Column, Connection, Dialect, Row, Table, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError

from workflow.engine.timers import PlannedTimer
from workflow.errors import StaleVersion
from workflow.store.frozen import CONTENT, GENESIS, event_hash
from workflow.store.people import ASSIGNMENT, ORG_UNIT, USER
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, EVENT, GATE_DECISION, OUTBOX, TIMER

__all__ = ["CONTENT", "GENESIS", "CredentialRow", "DecisionRow", "EntryRow", "Head", "History", "chain_rows",
           "event_hash"]

KIND_OF_TIMER = {"remind": "reminder", "escalate": "escalation", "warn": "warning"}
"""The history event a timer that does not fire a transition records."""


class Head(NamedTuple):
    """The end of a credential's chain: the seq and hash of its newest event."""

    seq: int
    hash: str


def event_row(credential_id: int, seq: int, at: datetime, actor: str, kind: str, *, trigger: str | None = None,
              from_state: str | None = None, to_state: str | None = None, comment: str = "",
              details: dict[str, Any] | None = None) -> dict[str, Any]:
    """One history event, not yet chained."""
    return {"credential_id": credential_id, "seq": seq, "at": at, "actor": actor, "kind": kind, "trigger": trigger,
            "from_state": from_state, "to_state": to_state, "comment": comment, "details": details or {}}


def chain_rows(prev_hash: str, rows: Sequence[MutableMapping[str, Any]]) -> Head:
    """Fill ``prev_hash`` and ``hash`` on one credential's new event rows, in seq order; return the new head.

    Args:
        prev_hash: the credential's current head hash (:data:`GENESIS` for a new credential).
        rows: event rows (dicts with the :data:`CONTENT` keys) of one credential, consecutive seqs, oldest first.

    Returns:
        The head to store on the credential row as ``chain_seq`` and ``chain_hash``.

    Raises:
        ValueError: no rows, rows of more than one credential, or seqs that do not follow each other.
    """
    if not rows:
        raise ValueError("no event rows to chain")
    first = rows[0]
    for position, row in enumerate(rows):
        if row["credential_id"] != first["credential_id"] or row["seq"] != first["seq"] + position:
            raise ValueError(f"event rows must be one credential's consecutive seqs, oldest first; row {position} "
                             f"is credential {row['credential_id']} seq {row['seq']}")
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = event_hash(prev_hash, row)
    return Head(int(rows[-1]["seq"]), prev_hash)


@dataclass
class History:
    """One credential's history as it grows: the head it has reached and the events recorded but not yet written.

    ``seq`` is also the credential's version: every event bumps it by one.
    """

    credential_id: int
    seq: int = 0
    hash: str = GENESIS
    new: list[dict[str, Any]] = field(default_factory=list)

    def append(self, at: datetime, actor: str, kind: str, **fields: Any) -> dict[str, Any]:
        """Record the next event, chained to the one before; returns its row."""
        row = event_row(self.credential_id, self.seq + 1, at, actor, kind, **fields)
        row["prev_hash"] = self.hash
        row["hash"] = self.hash = event_hash(self.hash, row)
        self.seq += 1
        self.new.append(row)
        return row

    @property
    def head(self) -> Head:
        return Head(self.seq, self.hash)

    def take(self) -> list[dict[str, Any]]:
        """The events recorded since the last take, oldest first."""
        taken, self.new = self.new, []
        return taken


# -- statements straight to the driver ---------------------------------------------------------------------------

class CredentialRow(NamedTuple):
    """A credential row as an action reads it (the columns of ``credential``, converted as SQLAlchemy would)."""

    id: int
    title: str
    definition_name: str
    definition_version: int
    state: str
    previous_state: str | None
    data: dict[str, Any]
    rounds: dict[str, int]
    version: int
    org_unit_id: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    state_entered_at: datetime
    chain_seq: int
    chain_hash: str


assert CredentialRow._fields == tuple(CREDENTIAL.c.keys()), "CredentialRow must follow the credential table"

_Convert = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Raw:
    """One statement for the driver: its SQL text and how each positional value is converted."""

    sql: str
    binds: tuple[_Convert, ...]

    def values(self, params: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(v if convert is None else convert(v) for convert, v in zip(self.binds, params, strict=True))


_STATEMENTS: dict[tuple[str, Any], _Raw] = {}
_RESULTS: dict[str, tuple[_Convert, ...]] = {}


def _raw(conn: Connection, key: Any, build: Callable[[str], tuple[str, Sequence[Column[Any]]]]) -> _Raw:
    """The statement ``key`` for the connection's dialect, built (by ``build(placeholder)``) once per process."""
    dialect = conn.dialect
    found = _STATEMENTS.get((dialect.name, key))
    if found is None:
        sql, columns = build("?" if dialect.paramstyle == "qmark" else "%s")
        found = _STATEMENTS[dialect.name, key] = _Raw(sql, tuple(_bind(c, dialect) for c in columns))
    return found


def _bind(column: Column[Any], dialect: Dialect) -> _Convert:
    convert: _Convert = column.type._cached_bind_processor(dialect)
    return convert


def _execute(conn: Connection, statement: _Raw, params: Sequence[Any], *, many: bool = False) -> Any:
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


def _insert(table: Table, columns: Sequence[str]) -> Callable[[str], tuple[str, Sequence[Column[Any]]]]:
    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        return (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([p] * len(columns))})",
                [table.c[name] for name in columns])
    return build


def lock(conn: Connection, credential_id: int) -> CredentialRow | None:
    """Read a credential for an action, locked for it (``FOR UPDATE`` on PostgreSQL; on SQLite the transaction
    holds the write lock already); None if there is no such credential."""
    dialect = conn.dialect
    columns = list(CREDENTIAL.c)

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        tail = " FOR UPDATE" if dialect.name == "postgresql" else ""
        return (f"SELECT {', '.join(c.name for c in columns)} FROM credential WHERE id = {p}{tail}",
                [CREDENTIAL.c.id])

    cursor = _execute(conn, _raw(conn, "lock", build), (credential_id,))
    found = cursor.fetchone()
    cursor.close()
    if found is None:
        return None
    results = _RESULTS.get(dialect.name)
    if results is None:
        results = _RESULTS[dialect.name] = tuple(c.type._cached_result_processor(dialect, None) for c in columns)
    return CredentialRow(*(v if convert is None or v is None else convert(v)
                           for convert, v in zip(results, found, strict=True)))


class EntryRow(NamedTuple):
    """A checklist entry as an action reads it."""

    id: int
    credential_id: int
    item_key: str
    round: int
    done: bool
    note: str
    actor: str
    updated_at: datetime


class DecisionRow(NamedTuple):
    """A gate decision as an action reads it (what the engine's facts need)."""

    gate: str
    round: int
    role: str
    actor: str
    principal: str
    verdict: str
    comment: str
    seen: Any


assert EntryRow._fields == tuple(CHECKLIST_ENTRY.c.keys()), "EntryRow must follow the checklist_entry table"


def _select(conn: Connection, key: str, table: Table, columns: Sequence[str], tail: str,
            params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of ``SELECT columns FROM table WHERE credential_id = ? tail``, converted as SQLAlchemy would."""
    dialect = conn.dialect

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        return (f"SELECT {', '.join(columns)} FROM {table.name} WHERE credential_id = {p}{tail}",
                [table.c.credential_id])

    cursor = _execute(conn, _raw(conn, key, build), params)
    found = cursor.fetchall()
    cursor.close()
    results = _RESULTS.get(f"{dialect.name}:{key}")
    if results is None:
        results = _RESULTS[f"{dialect.name}:{key}"] = tuple(
            table.c[name].type._cached_result_processor(dialect, None) for name in columns)
    if not any(results):
        return [tuple(row) for row in found]
    return [tuple(v if convert is None or v is None else convert(v) for convert, v in zip(results, row, strict=True))
            for row in found]


def read_entries(conn: Connection, credential_id: int) -> list[EntryRow]:
    """A credential's checklist entries, of every round."""
    return [EntryRow(*row) for row in _select(conn, "entries", CHECKLIST_ENTRY, EntryRow._fields, "",
                                               (credential_id,))]


def read_decisions(conn: Connection, credential_id: int) -> list[DecisionRow]:
    """A credential's gate decisions, of every round, oldest first."""
    return [DecisionRow(*row) for row in _select(conn, "decisions", GATE_DECISION, DecisionRow._fields,
                                                 " ORDER BY id", (credential_id,))]


def reread(conn: Connection, credential_id: int) -> Row[Any]:
    """The credential row as it stands now (in the action's transaction)."""
    return conn.execute(select(CREDENTIAL).where(CREDENTIAL.c.id == credential_id)).one()


# -- one action's writes -------------------------------------------------------------------------------------

_CID: BindParameter[int] = bindparam("cid")
_HEAD = ("version", "chain_seq", "chain_hash")
_EVENT_COLUMNS = ("credential_id", "seq", "at", "actor", "kind", "trigger", "from_state", "to_state", "comment",
                  "details", "prev_hash", "hash")


def start(conn: Connection, values: Mapping[str, Any]) -> History:
    """Insert a new credential (``values``: its columns but id, version and chain head) at version 0; returns its
    empty history, to which the action appends the creation before it is written with :func:`write`."""
    key = conn.execute(insert(CREDENTIAL), {**values, "version": 0, "chain_seq": 0,
                                            "chain_hash": GENESIS}).inserted_primary_key
    assert key is not None
    return History(int(key[0]))


def write(conn: Connection, history: History, changes: Mapping[str, Any]) -> bool:
    """Store what an action has recorded: the credential's new columns with its version and chain head, in one
    update that checks the version the action started from, and the new events. Returns whether anything was
    recorded (:func:`reread` gives the row as the update left it).

    Raises:
        StaleVersion: the credential moved on since the action read it.
    """
    events = history.take()
    if not events:
        return False
    seen = int(events[0]["seq"]) - 1
    names = tuple(name for name in changes if name not in _HEAD)

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        sets = (*_HEAD, *names)
        return (f"UPDATE credential SET {', '.join(f'{n} = {p}' for n in sets)} WHERE id = {p} AND version = {p}",
                [CREDENTIAL.c[n] for n in (*sets, "id", "version")])

    bumped = _execute(conn, _raw(conn, ("bump", names), build),
                      (history.seq, history.seq, history.hash, *(changes[n] for n in names),
                       history.credential_id, seen))
    if bumped.rowcount != 1:
        raise StaleVersion(history.credential_id, seen)
    _execute(conn, _raw(conn, "event", _insert(EVENT, _EVENT_COLUMNS)),
             [tuple(event[c] for c in _EVENT_COLUMNS) for event in events], many=True)
    return True


def entry_row(credential_id: int, item: str, round_: int, *, done: bool, note: str, actor: str,
              at: datetime) -> dict[str, Any]:
    """A checklist entry: one item's state in one round."""
    return {"credential_id": credential_id, "item_key": item, "round": round_, "done": done, "note": note,
            "actor": actor, "updated_at": at}


_ENTRY_COLUMNS = ("credential_id", "item_key", "round", "done", "note", "actor", "updated_at")
_DECISION_COLUMNS = ("credential_id", "gate", "round", "role", "actor", "principal", "verdict", "comment", "seen",
                     "decided_at")


def write_entry(conn: Connection, row: Mapping[str, Any]) -> None:
    """Store a checklist entry, over the one of the same item and round if there is one (one upsert)."""

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        sql, columns = _insert(CHECKLIST_ENTRY, _ENTRY_COLUMNS)(p)
        return (f"{sql} ON CONFLICT (credential_id, item_key, round) DO UPDATE SET done = excluded.done, "
                "note = excluded.note, actor = excluded.actor, updated_at = excluded.updated_at", columns)

    _execute(conn, _raw(conn, "entry", build), tuple(row[c] for c in _ENTRY_COLUMNS))


def decision_row(credential_id: int, gate: str, round_: int, *, role: str, actor: str, principal: str,
                 verdict: str, comment: str, seen: Any, at: datetime) -> dict[str, Any]:
    """A decision on a gate, with what its approver saw."""
    return {"credential_id": credential_id, "gate": gate, "round": round_, "role": role, "actor": actor,
            "principal": principal, "verdict": verdict, "comment": comment, "seen": seen, "decided_at": at}


def write_decision(conn: Connection, row: Mapping[str, Any]) -> None:
    """Store a decision on a gate."""
    _execute(conn, _raw(conn, "decision", _insert(GATE_DECISION, _DECISION_COLUMNS)),
             tuple(row[c] for c in _DECISION_COLUMNS))


# -- timers -----------------------------------------------------------------------------------------------------

class Pending(NamedTuple):
    """A pending timer as stored: what keeping timers in step compares with the plan."""

    id: Any  # the row's id, or any handle the caller keeps
    key: str
    state: str | None
    due_at: datetime


@dataclass(frozen=True)
class TimerChanges:
    """How to bring pending timers to a plan: cancel some, re-time some, add the new ones."""

    cancel: list[Pending]
    retime: list[tuple[Pending, datetime]]
    add: list[PlannedTimer]


def timer_changes(pending: Sequence[Pending], planned: Sequence[PlannedTimer]) -> TimerChanges:
    """Compare a credential's pending timers with the plan: those no longer planned (or planned for another
    state) are cancelled, moved ones re-timed, and planned ones not pending added."""
    by_key = {p.key: p for p in pending}
    wanted = {p.key: p for p in planned}
    cancel, retime = [], []
    for key, row in by_key.items():
        want = wanted.get(key)
        if want is None or want.state != row.state:
            cancel.append(row)
        elif want.due_at != row.due_at:
            retime.append((row, want.due_at))
    add = [p for key, p in wanted.items() if key not in by_key or by_key[key].state != p.state]
    return TimerChanges(cancel, retime, add)


def timer_row(credential_id: int, planned: PlannedTimer, now: datetime) -> dict[str, Any]:
    """A new pending timer."""
    return {"credential_id": credential_id, "key": planned.key, "timer": planned.timer, "action": planned.action,
            "due_at": planned.due_at, "state": planned.state, "trigger": planned.trigger,
            "notify": list(planned.notify), "status": "pending", "lease_owner": None, "lease_until": None,
            "attempts": 0, "outcome": "", "created_at": now, "fired_at": None}


_PENDING = (select(TIMER.c.id, TIMER.c.key, TIMER.c.state, TIMER.c.due_at)
            .where(TIMER.c.credential_id == _CID, TIMER.c.status == "pending"))
_CANCEL = update(TIMER).where(TIMER.c.id.in_(bindparam("timer_ids", expanding=True))).values(
    status="cancelled", outcome=bindparam("outcome"), fired_at=bindparam("now"))
_RETIME = update(TIMER).where(TIMER.c.id == bindparam("timer_id")).values(due_at=bindparam("due"))
_TIMER_DONE = update(TIMER).where(TIMER.c.id == bindparam("timer_id"))


def sync_timers(conn: Connection, credential_id: int, planned: Sequence[PlannedTimer], now: datetime,
                reason: str) -> None:
    """Make a credential's pending timers exactly ``planned`` (see :func:`timer_changes`); cancelled ones keep
    ``reason``."""
    pending = [Pending(*row) for row in conn.execute(_PENDING, {"cid": credential_id})]
    changes = timer_changes(pending, planned)
    for row, due in changes.retime:
        conn.execute(_RETIME, {"timer_id": row.id, "due": due})
    if changes.cancel:
        conn.execute(_CANCEL, {"timer_ids": [row.id for row in changes.cancel], "outcome": f"cancelled: {reason}",
                               "now": now})
    if changes.add:
        conn.execute(insert(TIMER), [timer_row(credential_id, p, now) for p in changes.add])


def timer_done(conn: Connection, timer_id: int, outcome: str, at: datetime) -> None:
    """Close a timer that was carried out (or found to be moot): done, or cancelled when ``outcome`` says so."""
    conn.execute(_TIMER_DONE, {"timer_id": timer_id, "status": "cancelled" if outcome.startswith("cancelled")
                               else "done", "outcome": outcome, "fired_at": at})


# -- the outbox -------------------------------------------------------------------------------------------------

class HolderRow(NamedTuple):
    """Someone holding a role on a credential, as addressing reads them."""

    role: str
    id: int
    username: str
    display_name: str
    email: str
    digest_hour: int | None


class InboxRow(NamedTuple):
    """A department inbox above a credential, as addressing reads it."""

    id: int
    name: str
    email: str | None
    handles: list[str] | None
    digest_hour: int | None


def _marks(p: str, n: int) -> str:
    return ", ".join([p] * n)


def role_holders(conn: Connection, roles: Sequence[str], credential_id: int,
                 units: Sequence[int]) -> list[HolderRow]:
    """The active people holding ``roles`` on a credential itself or on one of ``units`` (the org units at and
    above it), by role then username: what addressing an action's messages reads, once per action."""
    if not roles:
        return []

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        on_units = f" OR role_assignment.org_unit_id IN ({_marks(p, len(units))})" if units else ""
        return ("SELECT role_assignment.role, app_user.id, app_user.username, app_user.display_name, "
                "app_user.email, app_user.digest_hour FROM role_assignment "
                "JOIN app_user ON app_user.id = role_assignment.user_id "
                f"WHERE role_assignment.role IN ({_marks(p, len(roles))}) AND app_user.active = {p} "
                f"AND (role_assignment.credential_id = {p}{on_units}) "
                "ORDER BY role_assignment.role, app_user.username",
                [ASSIGNMENT.c.role] * len(roles) + [USER.c.active, ASSIGNMENT.c.credential_id]
                + [ASSIGNMENT.c.org_unit_id] * len(units))

    cursor = _execute(conn, _raw(conn, ("holders", len(roles), len(units)), build),
                      (*roles, True, credential_id, *units))
    found = [HolderRow(*row) for row in cursor.fetchall()]
    cursor.close()
    return found


def inboxes(conn: Connection, units: Sequence[int]) -> list[InboxRow]:
    """The department inboxes of ``units`` and of the units right below them, by id."""
    if not units:
        return []

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        return ("SELECT id, name, email, handles, digest_hour FROM org_unit "
                "WHERE email IS NOT NULL AND email != '' "
                f"AND (id IN ({_marks(p, len(units))}) OR (parent_id IS NOT NULL "
                f"AND parent_id IN ({_marks(p, len(units))}))) ORDER BY id",
                [ORG_UNIT.c.id] * len(units) + [ORG_UNIT.c.parent_id] * len(units))

    cursor = _execute(conn, _raw(conn, ("inboxes", len(units)), build), (*units, *units))
    found = cursor.fetchall()
    cursor.close()
    handles = ORG_UNIT.c.handles.type._cached_result_processor(conn.dialect, None)
    return [InboxRow(i, name, email, handles(h) if handles is not None and h is not None else h, hour)
            for i, name, email, h, hour in found]


def write_messages(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Put an action's messages into the outbox (addressed and rendered by :mod:`workflow.notify.outbox`);
    returns how many."""
    if rows:
        conn.execute(insert(OUTBOX), [dict(row) for row in rows])
    return len(rows)


# -- many credentials at once -----------------------------------------------------------------------------------

@dataclass
class Batch:
    """The rows many credentials add at once, per table (the demo generator writes its batches this way)."""

    credentials: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)

    def count(self) -> int:
        return (len(self.credentials) + len(self.events) + len(self.entries) + len(self.decisions)
                + len(self.timers))


def write_batch(conn: Connection, batch: Batch) -> None:
    """Insert a batch of whole credentials (ids given), their chained histories and what goes with them."""
    for table, values in ((CREDENTIAL, batch.credentials), (EVENT, batch.events), (CHECKLIST_ENTRY, batch.entries),
                          (GATE_DECISION, batch.decisions), (TIMER, batch.timers)):
        if values:
            conn.execute(insert(table), values)
